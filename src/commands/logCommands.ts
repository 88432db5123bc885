// Commands for the log: set its level (like get_logger().setLevel()) and show it.
import * as vscode from 'vscode';
import { LEVEL_NAMES, LEVELS, parseLevel, type LevelName } from '../core/levels';
import { describeValue } from '../core/validate';
import type { SettingsWatcher } from '../config';
import type { LogChannel } from '../output/logChannel';
import { runCommand } from './pickProcess';
import { isElementOfThisExtension, isViewArgument } from './viewArguments';

interface LevelItem extends vscode.QuickPickItem {
  level: LevelName;
}

/** Asks for a level, the current one active, so that Enter keeps it and arrows move from it. */
function pickLevel(current: LevelName): Promise<LevelName | undefined> {
  const items: LevelItem[] = LEVEL_NAMES.map((name) => ({
    label: name,
    level: name,
    description: `${LEVELS[name]}${name === current ? ' (current)' : ''}`,
    detail: name === 'NOTSET' ? 'Log nothing' : undefined,
  }));
  const pick = vscode.window.createQuickPick<LevelItem>();
  pick.title = 'ProcScope: Set Log Level';
  pick.placeholder = `Log level for the ProcScope channel (now ${current})`;
  pick.items = items;
  pick.activeItems = items.filter((item) => item.level === current);
  return new Promise((resolve) => {
    pick.onDidAccept(() => {
      resolve(pick.selectedItems[0]?.level ?? pick.activeItems[0]?.level);
      pick.hide();
    });
    pick.onDidHide(() => {
      resolve(undefined);
      pick.dispose();
    });
    pick.show();
  });
}

/** `applyLevel` takes effect at once; the setting follows, where it is defined (workspace or user). */
export function registerLogCommands(channel: LogChannel, settings: SettingsWatcher, applyLevel: (level: LevelName) => void): vscode.Disposable[] {
  // Its argument is a level name; from the view's title bar VS Code hands it the selected row instead.
  const setLogLevel = (arg?: unknown) => {
    const interactive = isViewArgument(isElementOfThisExtension, arg);
    return runCommand(interactive, async () => {
      let level: LevelName | undefined;
      if (!interactive) {
        level = parseLevel(arg);
        if (!level) throw new Error(`Unknown log level ${describeValue(arg)}: expected one of ${LEVEL_NAMES.join(', ')}`);
      } else {
        level = await pickLevel(settings.value.logLevel);
      }
      if (!level) return undefined;
      applyLevel(level);
      const config = vscode.workspace.getConfiguration('procscope');
      const inspected = config.inspect('logLevel');
      const target = inspected?.workspaceFolderValue !== undefined
        ? vscode.ConfigurationTarget.WorkspaceFolder
        : inspected?.workspaceValue !== undefined
          ? vscode.ConfigurationTarget.Workspace
          : vscode.ConfigurationTarget.Global;
      await config.update('logLevel', level, target);
      return level;
    });
  };

  return [
    vscode.commands.registerCommand('procscope.setLogLevel', setLogLevel),
    vscode.commands.registerCommand('procscope.showLog', () => channel.show()),
  ];
}
