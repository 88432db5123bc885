// Which Python runs a file: procscope.pythonPath, else the Python extension's selected interpreter, else python3/python.
import { PythonExtension } from '@vscode/python-extension';
import * as vscode from 'vscode';
import { findExecutable } from '../core/executable';

/** The interpreter for `resource`, as a command (a path or a name found on PATH). */
export async function pythonInterpreter(configured: string, resource: vscode.Uri | undefined): Promise<string> {
  if (configured !== '') return configured;
  if (vscode.extensions.getExtension('ms-python.python')) {
    try {
      const api = await PythonExtension.api();
      const path = api.environments.getActiveEnvironmentPath(resource);
      const resolved = await api.environments.resolveEnvironment(path);
      const executable = resolved?.executable.uri?.fsPath;
      if (executable) return executable;
    } catch {
      // the Python extension failed to answer: fall back to PATH
    }
  }
  return findExecutable('python3', process.cwd(), process.env.PATH) !== undefined ? 'python3' : 'python';
}
