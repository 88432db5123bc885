// Builds the extension bundle (dist/), and with --tests the test and bench bundles (out/).
import * as esbuild from 'esbuild';
import { cpSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = new Set(process.argv.slice(2));
const watch = args.has('--watch');
const withTests = args.has('--tests');

/** Every file under `dir` whose name ends with one of `suffixes`. */
function filesUnder(dir, suffixes) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => statSync(f).isFile() && suffixes.some((s) => f.endsWith(s)));
}

const common = {
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'cjs',
  logLevel: 'warning',
  sourcemap: 'linked',
};

const builds = [
  {
    ...common,
    entryPoints: {
      extension: join(root, 'src/extension.ts'),
      supervisor: join(root, 'src/supervisor/main.ts'),
      watchdog: join(root, 'src/core/watchdog/main.ts'),
    },
    outdir: join(root, 'dist'),
    external: ['vscode'],
    minify: !watch,
  },
];

if (withTests) {
  const entries = [
    ...filesUnder(join(root, 'test/unit'), ['.test.ts']),
    ...filesUnder(join(root, 'test/stress'), ['.test.ts']),
    ...filesUnder(join(root, 'test/fixtures'), ['.ts']),
    ...filesUnder(join(root, 'test/integration/suite'), ['.ts']),
    ...filesUnder(join(root, 'bench'), ['.ts']),
  ];
  builds.push({
    ...common,
    entryPoints: entries.map((f) => ({ in: f, out: relative(root, f).replace(/\.ts$/, '') })),
    outdir: join(root, 'out'),
    external: ['vscode'],
    packages: 'external',
  });
}

function copyPythonHelper() {
  const from = join(root, 'src/python');
  const to = join(root, 'dist/python');
  rmSync(to, { recursive: true, force: true });
  if (existsSync(from)) cpSync(from, to, { recursive: true, filter: (src) => !src.includes('__pycache__') && !src.endsWith('.pyc') });
}

rmSync(join(root, 'dist'), { recursive: true, force: true });
if (withTests) rmSync(join(root, 'out'), { recursive: true, force: true });
copyPythonHelper();
if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
  console.log('[build] watching for changes');
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
