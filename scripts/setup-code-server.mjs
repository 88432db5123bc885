// Installs code-server (VS Code server + web workbench, from npm) into .vscode-test/code-server/,
// the way shared/notes/real-vscode.md describes: its own postinstall cannot run on these machines.
// Idempotent: a marker file records a finished install, so a second run takes milliseconds.
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const CODE_SERVER_VERSION = '4.100.3';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** Where everything lives; nothing here writes to ~/.config or ~/.local. */
export function codeServerPaths(root = repoRoot) {
  const dir = join(root, '.vscode-test', 'code-server');
  const pkg = join(dir, 'node_modules', 'code-server');
  return {
    dir,
    entry: join(pkg, 'out', 'node', 'entry.js'),
    vscodeDir: join(pkg, 'lib', 'vscode'),
    marker: join(dir, '.procscope-setup.json'),
    // Passed as --config: code-server otherwise creates ~/.config/code-server/config.yaml.
    config: join(dir, 'config.yaml'),
  };
}

/** Runs a command quietly; on failure prints its tail and throws. */
function run(cmd, args, cwd) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) return resolvePromise(output);
      reject(new Error(`\`${cmd} ${args.join(' ')}\` in ${cwd} failed (${signal ?? `exit ${code}`}):\n${output.split('\n').slice(-40).join('\n')}`));
    });
  });
}

function isDone(paths) {
  if (!existsSync(paths.marker) || !existsSync(paths.entry) || !existsSync(paths.config)) return false;
  try {
    return JSON.parse(readFileSync(paths.marker, 'utf8')).version === CODE_SERVER_VERSION;
  } catch {
    return false;
  }
}

/** Replaces whatever is at `path` with a symlink to `target`. */
function forceSymlink(target, path) {
  try {
    lstatSync(path);
    rmSync(path, { recursive: true, force: true });
  } catch {
    // nothing there yet
  }
  symlinkSync(target, path);
}

/**
 * Makes sure code-server is installed; returns its paths.
 * @param {{ root?: string, force?: boolean, log?: (line: string) => void }} [options]
 */
export async function setupCodeServer({ root = repoRoot, force = false, log = (line) => console.log(`[setup-code-server] ${line}`) } = {}) {
  const paths = codeServerPaths(root);
  if (!force && isDone(paths)) {
    return paths;
  }
  const started = performance.now();
  const step = async (what, cmd, args, cwd) => {
    const t = performance.now();
    log(`${what} ...`);
    await run(cmd, args, cwd);
    log(`${what}: done in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  };

  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor !== 20) log(`warning: code-server ${CODE_SERVER_VERSION} is made for Node 20; this is Node ${process.versions.node}`);
  rmSync(paths.marker, { force: true });
  mkdirSync(paths.dir, { recursive: true });
  // Without its own package.json, npm would walk up and install into the repository's node_modules.
  writeFileSync(join(paths.dir, 'package.json'), JSON.stringify({ name: 'procscope-code-server', private: true }, null, 2) + '\n');

  await step(`npm install code-server@${CODE_SERVER_VERSION}`, 'npm',
    ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--no-save', `code-server@${CODE_SERVER_VERSION}`], paths.dir);
  await step('npm rebuild argon2', 'npm', ['rebuild', 'argon2'], paths.dir);
  await step('npm install (lib/vscode, production)', 'npm',
    ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], paths.vscodeDir);
  // node-pty is left out on purpose: its rebuild fails here, and only terminals need it.
  await step('npm rebuild @vscode/spdlog native-watchdog', 'npm', ['rebuild', '@vscode/spdlog', 'native-watchdog'], paths.vscodeDir);

  forceSymlink('node_modules', join(paths.vscodeDir, 'node_modules.asar'));

  const rgTarget = join(paths.vscodeDir, 'node_modules', '@vscode', 'ripgrep', 'bin', 'rg');
  if (existsSync('/usr/bin/rg')) {
    mkdirSync(join(rgTarget, '..'), { recursive: true });
    forceSymlink('/usr/bin/rg', rgTarget);
  } else {
    log('no /usr/bin/rg: search inside VS Code will not work (apt-get install ripgrep)');
  }

  writeFileSync(paths.config, [
    '# Written by scripts/setup-code-server.mjs; the launchers pass their own flags on top.',
    'auth: none',
    'cert: false',
    'disable-telemetry: true',
    'disable-update-check: true',
    '',
  ].join('\n'));
  writeFileSync(paths.marker, JSON.stringify({ version: CODE_SERVER_VERSION, installedAt: new Date().toISOString() }, null, 2) + '\n');
  log(`code-server ${CODE_SERVER_VERSION} ready in ${((performance.now() - started) / 1000).toFixed(1)} s (${paths.dir})`);
  return paths;
}

if (import.meta.url === pathToFileURL(resolve(process.argv[1] ?? '')).href) {
  try {
    const paths = await setupCodeServer({ force: process.argv.includes('--force') });
    console.log(`[setup-code-server] code-server ${CODE_SERVER_VERSION}: ${paths.entry}`);
  } catch (error) {
    console.error(`[setup-code-server] FAILED: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  }
}
