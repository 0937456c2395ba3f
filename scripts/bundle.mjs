#!/usr/bin/env node
// A package's build, second step: bundle what tsc emitted in dist/ into dist/bundle/, one file per entry and
// the chunks they share, which is what package.json's exports point at. Node 20 loads ES modules one file at a
// time; a start of the example server loaded about a hundred files of hotmcp and its small dependencies
// before it could answer, and a bundle is a handful. tsc's .js files stay in dist/ (its .d.ts are the types).
//
//   node ../../scripts/bundle.mjs [--inline a,b] [--preload module] [name=dist/file.js ...]
//
// Entries: each export whose `default` is ./dist/bundle/<name>.js, built from the tsc file its `types` names
// (./dist/x/index.d.ts → dist/x/index.js), and each name=file given (a worker or a loader hook the code opens by
// a URL beside its own: every output lands in the one folder, so `new URL('./<name>.js', import.meta.url)` finds
// it from any chunk). Dependencies stay imports of their own, except the --inline ones; --preload: a module
// required first by each output that holds an --inline package's code or imports it itself (tsyringe needs
// reflect-metadata loaded before its own code runs; an output without it, the stdout guard say, does not load
// it). A name ending in .cjs is bundled alone as CommonJS, with nothing shared (a command's launcher: Node starts
// a CommonJS script sooner than an ES module); its import.meta.url is its own file's URL.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const args = process.argv.slice(2);
const option = (name) => {
  const at = args.indexOf(name);
  return at < 0 ? undefined : args.splice(at, 2)[1];
};
const inline = new Set((option('--inline') ?? '').split(',').filter(Boolean));
const preload = option('--preload');

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const entryPoints = [];
const commonJs = [];
for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
  const out = /^\.\/dist\/bundle\/(.+)\.js$/.exec(target.default ?? '')?.[1];
  if (out === undefined) continue;
  if (typeof target.types !== 'string') throw new Error(`bundle: export ${subpath} has no types to find its tsc file`);
  entryPoints.push({ in: target.types.replace(/\.d\.ts$/, '.js'), out });
}
for (const arg of args) {
  const [out, file] = arg.split('=');
  if (!out || !file) throw new Error(`bundle: expected name=dist/file.js, got ${arg}`);
  if (out.endsWith('.cjs')) commonJs.push({ in: file, out: out.slice(0, -'.cjs'.length) });
  else entryPoints.push({ in: file, out });
}
if (entryPoints.length === 0) throw new Error('bundle: no export points into ./dist/bundle/');

const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]
  .filter((name) => !inline.has(name))
  .flatMap((name) => [name, `${name}/*`]);

rmSync('dist/bundle', { recursive: true, force: true }); // chunks of an earlier build, named by other hashes
const shared = {
  outdir: 'dist/bundle',
  bundle: true,
  platform: 'node',
  target: 'node20',
  // An inlined package's ES build (tsyringe's is ESM under `module`).
  mainFields: ['module', 'main'],
  external,
  logLevel: 'error', // not the warning for an import() of a computed URL: the runner's and the launcher's, on purpose
};
const { metafile } = await build({
  ...shared,
  entryPoints,
  splitting: true,
  format: 'esm',
  chunkNames: 'chunk-[hash]',
  metafile: true,
});
if (preload) {
  // Loaded with require(), not imported: Node's ES loader would first scan the CommonJS package for its export
  // names (cjs-module-lexer; ~10 ms for reflect-metadata at every start). The sources' own `import '<preload>'`
  // lines become the same one line at the top.
  const inlined = (input) => [...inline].some((name) => input.includes(`node_modules/${name}/`));
  const imported = `import ${JSON.stringify(preload)};\n`;
  const required = `import { createRequire as __hotmcpCreateRequire } from "node:module";\n__hotmcpCreateRequire(import.meta.url)(${JSON.stringify(preload)});\n`;
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (!file.endsWith('.js')) continue;
    const code = readFileSync(file, 'utf8');
    if (!code.includes(imported) && !Object.keys(output.inputs).some(inlined)) continue;
    const hashbang = code.startsWith('#!') ? code.slice(0, code.indexOf('\n') + 1) : '';
    writeFileSync(file, `${hashbang}${required}${code.slice(hashbang.length).replaceAll(imported, '')}`);
  }
}
if (commonJs.length > 0) {
  await build({
    ...shared,
    entryPoints: commonJs,
    outExtension: { '.js': '.cjs' },
    format: 'cjs',
    define: { 'import.meta.url': '__importMetaUrl' },
    banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  });
}
