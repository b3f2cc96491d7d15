// Builds the console into OUT (run from the directory whose node_modules holds the tools, i.e.
// the CMake build dir's console/): OUT/index.html and OUT/<version>/{app.js,app.css}, where
// <version> is a hash of the bundle, so the daemon can serve the assets as immutable.
//   node build.mjs [--out DIR] [--tests DIR] [--typecheck]
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';

const src = dirname(fileURLToPath(import.meta.url));
// The tools live in the working directory's node_modules (the build dir), not beside the sources.
const require = createRequire(join(process.cwd(), 'package.json'));
const esbuild = require('esbuild');
const nodeModules = join(process.cwd(), 'node_modules');

const args = process.argv.slice(2);
const arg = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const out = arg('--out') && resolve(arg('--out'));
const testsOut = arg('--tests');

if (args.includes('--typecheck')) {
  // tsc resolves modules from the build dir's node_modules through a generated tsconfig.
  const tsconfig = join(process.cwd(), 'tsconfig.build.json');
  writeFileSync(tsconfig, JSON.stringify({
    extends: join(src, 'tsconfig.json'),
    compilerOptions: { baseUrl: nodeModules, paths: { '*': [join(nodeModules, '*'), join(nodeModules, '@types', '*')] },
                       typeRoots: [join(nodeModules, '@types')] },
    include: [join(src, 'src'), join(src, 'test')],
  }));
  try {
    execFileSync(process.execPath, [join(nodeModules, 'typescript', 'bin', 'tsc'), '-p', tsconfig], { stdio: 'inherit' });
  } catch {
    console.error('the console does not type-check (above)');
    process.exit(1);
  }
}

if (!out) process.exit(0); // --typecheck alone

const bundle = await esbuild.build({
  entryPoints: { app: join(src, 'src', 'main.tsx') },
  bundle: true, minify: true, format: 'esm', target: ['es2020'], write: false,
  outdir: 'out', nodePaths: [nodeModules], jsx: 'automatic', jsxImportSource: 'preact',
  loader: { '.css': 'css' }, legalComments: 'none', logLevel: 'warning',
});
const files = new Map();
for (const f of bundle.outputFiles) files.set(f.path.endsWith('.css') ? 'app.css' : 'app.js', f.contents);
const hash = createHash('sha256');
for (const [name, body] of [...files].sort()) hash.update(name).update(body);
const version = hash.digest('hex').slice(0, 16);

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, version), { recursive: true });
for (const [name, body] of files) writeFileSync(join(out, version, name), body);
const index = readFileSync(join(src, 'index.html'), 'utf8').replaceAll('{{version}}', version);
writeFileSync(join(out, 'index.html'), index);

let gz = 0;
for (const name of readdirSync(join(out, version))) gz += gzipSync(readFileSync(join(out, version, name)), { level: 9 }).length;
gz += gzipSync(index, { level: 9 }).length;
writeFileSync(join(out, 'bundle-size.txt'), `${gz}\n`);
console.log(`console ${version}: ${(gz / 1024).toFixed(1)} KiB gzipped`);
if (gz > 200 * 1024) {
  console.error('the console bundle is over its 200 KiB (gzipped) budget');
  process.exit(1);
}

if (testsOut) {
  // Tests are bundled with their packages left external: at run time they are required from
  // the build dir's node_modules, which is above the output directory.
  const entries = readdirSync(join(src, 'test')).filter((f) => f.endsWith('.test.ts'));
  await esbuild.build({
    entryPoints: entries.map((f) => join(src, 'test', f)), bundle: true, platform: 'node', format: 'cjs',
    target: ['node18'], outdir: resolve(testsOut), packages: 'external', sourcemap: 'inline',
    jsx: 'automatic', jsxImportSource: 'preact', logLevel: 'warning', outExtension: { '.js': '.cjs' },
  });
}
