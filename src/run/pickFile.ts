// Run Active File with no editor open: a pick of the workspace's files that ProcScope knows how to run.
import * as vscode from 'vscode';

/** The kinds specForFile runs by extension: Python, JavaScript, shell. */
const RUNNABLE = '**/*.{py,pyw,js,mjs,cjs,sh,bash}';
/** Folders of dependencies and tools, not the user's programs. */
const NOT_THE_USERS = '**/{node_modules,.git,.venv,venv,__pycache__,site-packages}/**';
const MAX_FILES = 2000;

interface FileItem extends vscode.QuickPickItem {
  uri: vscode.Uri;
}

/** Asks which file to run; undefined when cancelled. Throws when the workspace has none. */
export async function pickRunnableFile(): Promise<vscode.Uri | undefined> {
  // Found before the pick opens, so that its first item is there to accept at once.
  const files = (await vscode.workspace.findFiles(RUNNABLE, NOT_THE_USERS, MAX_FILES)).filter((uri) => uri.scheme === 'file');
  if (files.length === 0) {
    throw new Error('Open a file to run it: no editor is active, and the workspace has no Python, JavaScript or shell files');
  }
  const items: FileItem[] = files
    .map((uri) => {
      const relative = vscode.workspace.asRelativePath(uri, (vscode.workspace.workspaceFolders?.length ?? 0) > 1);
      const slash = relative.lastIndexOf('/');
      return { uri, label: relative.slice(slash + 1), description: slash < 0 ? undefined : relative.slice(0, slash), relative, depth: relative.split('/').length };
    })
    .sort((a, b) => a.depth - b.depth || a.relative.localeCompare(b.relative)) // the folder's own scripts first
    .map(({ uri, label, description }) => ({ uri, label, description }));
  const picked = await vscode.window.showQuickPick(items, {
    title: 'ProcScope: Run Active File',
    placeHolder: 'No editor is active: pick a file to run',
    matchOnDescription: true,
  });
  return picked?.uri;
}
