// Commands for the log: set its level (like get_logger().setLevel()) and show it.
import * as vscode from 'vscode';
import { LEVEL_NAMES, LEVELS, parseLevel, type LevelName } from '../core/levels';
import { describeValue } from '../core/validate';
import type { SettingsWatcher } from '../config';
import type { LogChannel } from '../output/logChannel';
import { hasTarget, runCommand } from './pickProcess';

/** `applyLevel` takes effect at once; the setting follows, where it is defined (workspace or user). */
export function registerLogCommands(channel: LogChannel, settings: SettingsWatcher, applyLevel: (level: LevelName) => void): vscode.Disposable[] {
  const setLogLevel = (arg?: unknown) =>
    runCommand(!hasTarget(arg), async () => {
      let level: LevelName | undefined;
      if (hasTarget(arg)) {
        level = parseLevel(arg);
        if (!level) throw new Error(`Unknown log level ${describeValue(arg)}: expected one of ${LEVEL_NAMES.join(', ')}`);
      } else {
        const current = settings.value.logLevel;
        const picked = await vscode.window.showQuickPick(
          LEVEL_NAMES.map((name) => ({
            label: name,
            description: `${LEVELS[name]}${name === current ? ' (current)' : ''}`,
            detail: name === 'NOTSET' ? 'Log nothing' : undefined,
          })),
          { placeHolder: `Log level for the ProcScope channel (now ${current})` },
        );
        level = picked?.label as LevelName | undefined;
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

  return [
    vscode.commands.registerCommand('procscope.setLogLevel', setLogLevel),
    vscode.commands.registerCommand('procscope.showLog', () => channel.show()),
  ];
}
