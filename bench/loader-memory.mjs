// Benchmark: what each module loader costs over a long life of reloads.
//
//   pnpm bench:loaders   (= pnpm build && node --expose-gc bench/loader-memory.mjs)
//   (RELOADS=200,1000 by default; QUICK=1 for 20,100; MEMORY_NODES=<node binary>,… runs
//   the memory scenarios on other Node versions too; `--only examples` runs the example
//   servers' rows alone). Prints markdown tables and writes
//   bench/results/loader-memory-node<major>.json. `pnpm bench` runs the leaf edit and
//   per-call scenarios below too (`--child leaf|call <loader> 0`).
//
// The example servers (bench/example-memory.mjs): examples/sdk-v1-server over stdio and
// examples/http-sessions over HTTP, run as users run them, a 50 KB tool module reloaded
// through a real SDK client; RSS as it stands and after forced full GCs, heap, external and
// array-buffer memory, on this Node and each of MEMORY_NODES.
//
// Every measurement runs in its own Node process (a fresh heap: the native
// loader's versions never leave it), with the real reload engine, a fake
// change source driven by hand and a minimal registry adapter that keeps only
// the current definitions, as a server's registry does. Measured:
//
// - heap retained: `heapUsed` after N reloads minus `heapUsed` after a
//   warm-up, both after several forced GCs, for a 50 KB tool module and for a
//   20-module graph (every file edited at once, as a branch switch does);
// - leaf edit: one helper of the 20-module graph edited, from the batch
//   reaching the engine to the new version committed (load of the helper and
//   its two importers, diff, commit): no file-watching latency;
// - per call: calling a tool's handler as the registry does, loaded by each
//   loader, against the same two modules imported by Node directly. SDK
//   dispatch and JSON-RPC are not included (they are the same either way).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { getHeapSpaceStatistics } from 'node:v8';
import { EXAMPLES, exampleHeader, exampleRows, measureExample } from './example-memory.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const coreUrl = pathToFileURL(join(here, '../packages/core/dist/index.js')).href;
const testingUrl = pathToFileURL(join(here, '../packages/core/dist/testing/index.js')).href;
const LOADERS = ['runner', 'native'];

// ---------------------------------------------------------------- modules

/** A tool module of about `bytes` of TypeScript: one tool and many small functions. */
function bigModule(bytes, version) {
  let text = `import { defineTool } from '@hotmcp/core';\nconst VERSION: number = ${version};\n`;
  for (let i = 0; text.length < bytes; i++) {
    text += `export function helper${i}(input: { n: number; label: string }): string {\n  const scaled: number = input.n * ${i} + VERSION;\n  return \`\${input.label}:\${scaled.toFixed(2)}\`;\n}\n`;
  }
  return `${text}export default defineTool({ name: 'big', handler: () => ({ content: [{ type: 'text', text: helper0({ n: 1, label: 'v' }) }] }) });\n`;
}

/** index.ts → 4 mid helpers → 15 leaves: 20 modules of about 2 KB. */
const GRAPH = (() => {
  const files = { 'index.ts': { imports: ['mid-0', 'mid-1', 'mid-2', 'mid-3'].map((m) => `./lib/${m}.js`) } };
  for (let m = 0; m < 4; m++) {
    const leaves = [0, 1, 2, 3].map((l) => m * 4 + l).filter((l) => l < 15);
    files[`lib/mid-${m}.ts`] = { imports: leaves.map((l) => `./leaf-${l}.js`) };
  }
  for (let l = 0; l < 15; l++) files[`lib/leaf-${l}.ts`] = { imports: [] };
  return files;
})();

function graphModule(file, version) {
  const { imports } = GRAPH[file];
  const names = imports.map((_, i) => `dep${i}`);
  let text = imports.map((spec, i) => `import { value as ${names[i]} } from '${spec}';\n`).join('');
  if (file === 'index.ts') text = `import { defineTool } from '@hotmcp/core';\n${text}`;
  text += `const VERSION: number = ${version};\n`;
  for (let i = 0; text.length < 2000; i++) {
    text += `export function f${i}(n: number): number {\n  return n * ${i} + VERSION;\n}\n`;
  }
  text += `export const value: string = ${JSON.stringify(file)} + VERSION${names.map((n) => ` + ${n}`).join('')};\n`;
  if (file === 'index.ts') {
    text += `export default defineTool({ name: 'graph', handler: () => ({ content: [{ type: 'text', text: value }] }) });\n`;
  }
  return text;
}

const CALL_HELPER = "export function decorate(text: string): string {\n  return '« ' + text + ' »';\n}\n";
const callTool = (importFrom) =>
  `import { defineTool } from '@hotmcp/core';\nimport { decorate } from '${importFrom}';\nexport default defineTool({\n  name: 'echo',\n  handler: async ({ text }: { text: string }) => ({ content: [{ type: 'text', text: decorate(text) }] }),\n});\n`;

// ---------------------------------------------------------------- child

async function child(scenario, loaderName, reloads) {
  const {
    createContainer,
    createReloaderFromContainer,
    registerClass,
    registerValue,
    TOKENS,
    RunnerModuleLoader,
    NativeEsmModuleLoader,
  } = await import(coreUrl);
  const { FakeChangeSource } = await import(testingUrl);
  // Tool modules import '@hotmcp/core' by name, as users do: only path imports must stay inside the root.
  const sandbox = mkdtempSync(join(tmpdir(), 'hotmcp-bench-'));
  mkdirSync(join(sandbox, 'node_modules', '@hotmcp'), { recursive: true });
  symlinkSync(join(here, '../packages/core'), join(sandbox, 'node_modules', '@hotmcp', 'core'), 'dir');
  writeFileSync(join(sandbox, 'package.json'), '{ "type": "module" }');
  const root = join(sandbox, 'tools');
  mkdirSync(join(root, 'lib'), { recursive: true });
  const write = (file, text) => writeFileSync(join(root, file), text);
  const tools = new Map();
  const adapter = {
    contractVersion: 1,
    adapterName: 'bench',
    list: () => ({ tools: [...tools.keys()], prompts: [], resources: [], resourceTemplates: [] }),
    prepare: async (change) => ({ change }),
    commit({ change }) {
      for (const { name } of change.remove) tools.delete(name);
      for (const definition of change.upsert) tools.set(definition.name, definition);
      return { notified: [] };
    },
  };
  const files =
    scenario === 'big'
      ? ['big.ts']
      : scenario === 'graph' || scenario === 'leaf'
        ? Object.keys(GRAPH)
        : ['echo.ts', 'lib/format.ts'];
  let version = 0;
  const writeAll = () => {
    version++;
    for (const file of files) {
      if (scenario === 'big') write(file, bigModule(50 * 1024, version));
      else if (scenario === 'call') write(file, file === 'echo.ts' ? callTool('./lib/format.js') : CALL_HELPER);
      else write(file, graphModule(file, version));
    }
  };
  writeAll();
  const source = new FakeChangeSource(files.map((file) => join(root, file)));
  const container = createContainer();
  registerValue(container, TOKENS.settings, {
    root,
    include: [],
    exclude: [],
    deny: [],
    denyFiles: [],
    ...(process.env.PREFLIGHT === '0' && { preflight: false }),
  });
  registerValue(container, TOKENS.changeSource, source);
  registerValue(container, TOKENS.registryAdapter, adapter);
  registerValue(container, TOKENS.auditSink, { record() {}, close: async () => {} });
  registerClass(container, TOKENS.moduleLoader, loaderName === 'native' ? NativeEsmModuleLoader : RunnerModuleLoader);
  const reloader = createReloaderFromContainer(container);
  await reloader.start();

  const reloadAll = async () => {
    writeAll();
    source.emit({ changed: files.map((file) => join(root, file)) });
    await reloader.idle();
  };
  // Memory as it stands (RSS), then after forced full GCs (every field).
  const memory = async () => {
    const raw = process.memoryUsage().rss;
    for (let i = 0; i < 6; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      globalThis.gc();
    }
    const { heapUsed, heapTotal, rss, external, arrayBuffers } = process.memoryUsage();
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((space) => [space.space_name, space.space_size]));
    return { heapUsed, heapTotal, rss, external, arrayBuffers, rawRss: raw, ...(process.env.MEMORY_SPACES && spaces) };
  };
  const minus = (a, b) => Object.fromEntries(Object.keys(a).map((key) => [key, a[key] - b[key]]));
  const result = {};
  if (scenario === 'big' || scenario === 'graph') {
    for (let i = 0; i < 10; i++) await reloadAll(); // warm up: JIT, esbuild's service, tsx's cache
    const baseline = await memory();
    let done = 0;
    for (const target of reloads) {
      while (done < target) {
        await reloadAll();
        done++;
      }
      result[target] = minus(await memory(), baseline);
    }
    const check = reloader.status();
    if (check.errors.length > 0 || check.counts.tools !== 1)
      throw new Error(`bench module failed: ${JSON.stringify(check.errors)}`);
  } else if (scenario === 'leaf') {
    const samples = [];
    for (let i = 0; i < 120; i++) {
      const leaf = `lib/leaf-${i % 15}.ts`;
      write(leaf, graphModule(leaf, 1000 + i));
      const start = performance.now();
      source.emit({ changed: [join(root, leaf)] });
      await reloader.idle();
      if (i >= 20) samples.push(performance.now() - start);
    }
    const answer = (await tools.get('graph').handler({}, {})).content[0].text;
    if (!answer.includes('1119')) throw new Error(`leaf edit not visible: ${answer}`);
    samples.sort((a, b) => a - b);
    const at = (q) => samples[Math.min(samples.length - 1, Math.ceil(q * samples.length) - 1)];
    Object.assign(result, { n: samples.length, p50: at(0.5), p95: at(0.95), max: samples.at(-1) });
  } else {
    // The same two modules, imported by Node directly: the handler a server would register itself.
    const direct = join(root, 'direct');
    mkdirSync(join(direct, 'lib'), { recursive: true });
    writeFileSync(
      join(direct, 'echo.mjs'),
      callTool('./lib/format.mjs').replace(': { text: string }', '').replaceAll(': string', ''),
    );
    writeFileSync(join(direct, 'lib/format.mjs'), CALL_HELPER.replaceAll(': string', ''));
    const directHandler = (await import(pathToFileURL(join(direct, 'echo.mjs')).href)).default.handler;
    const loadedHandler = tools.get('echo').handler;
    const args = { text: 'hi' };
    const extra = {};
    const time = async (handler, calls) => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) await handler(args, extra);
      return Number(process.hrtime.bigint() - start) / calls;
    };
    const rounds = { direct: [], loaded: [] };
    await time(directHandler, 200_000);
    await time(loadedHandler, 200_000);
    for (let round = 0; round < 7; round++) {
      rounds.direct.push(await time(directHandler, 500_000));
      rounds.loaded.push(await time(loadedHandler, 500_000));
    }
    const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
    Object.assign(result, { directNs: median(rounds.direct), loadedNs: median(rounds.loaded) });
  }
  await reloader.stop();
  rmSync(sandbox, { recursive: true, force: true });
  return result;
}

// ---------------------------------------------------------------- parent

/** The example servers' memory on this Node and each of MEMORY_NODES: markdown lines and raw results. */
async function exampleMemory(reloads) {
  const nodes = [process.execPath, ...(process.env.MEMORY_NODES ?? '').split(',').filter(Boolean)];
  const rows = [];
  const results = {};
  for (const node of nodes) {
    const version = (await promisify(execFile)(node, ['--version'])).stdout.trim();
    for (const example of Object.keys(EXAMPLES)) {
      const result = await measureExample(example, node, reloads, (line) => process.stderr.write(`${line}\n`));
      results[`${version} ${example}`] = result;
      rows.push(exampleRows(version, example, result));
    }
  }
  const lines = [
    `Example servers as users run them, a 50 KB tool module reloaded through a real SDK client: growth from a warmed-up baseline (10 reloads) after ${reloads.join(' / ')} reloads; "after GC": forced full GCs of the main thread (a last-resort one where V8 has it, Node 22 and later) and of the preflight workers; heap (main thread; preflight workers before and after their GC), external and array buffers after the GCs, after ${reloads.at(-1)} reloads.`,
    '',
    ...exampleHeader(reloads),
    ...rows,
  ];
  return { lines, results };
}

async function main() {
  const reloads = (process.env.RELOADS ?? (process.env.QUICK ? '20,100' : '200,1000')).split(',').map(Number);
  if (process.argv[2] === '--only' && process.argv[3] === 'examples') {
    const { lines, results } = await exampleMemory(reloads);
    process.stdout.write(`${lines.join('\n')}\n`);
    mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
    writeFileSync(
      new URL('./results/example-memory.json', import.meta.url),
      `${JSON.stringify({ machine: `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}`, date: new Date().toISOString(), reloads, results }, null, 2)}\n`,
    );
    return;
  }
  const run = async (scenario, loaderName, node = process.execPath) => {
    const { stdout } = await promisify(execFile)(
      node,
      ['--expose-gc', fileURLToPath(import.meta.url), '--child', scenario, loaderName, reloads.join(',')],
      { maxBuffer: 1 << 20 },
    );
    process.stderr.write(`  ${scenario} / ${loaderName} done\n`);
    return JSON.parse(stdout);
  };
  const results = {};
  for (const loaderName of LOADERS) {
    results[loaderName] = {};
    for (const scenario of ['big', 'graph', 'leaf', 'call'])
      results[loaderName][scenario] = await run(scenario, loaderName);
  }
  // The memory scenarios again on each Node of MEMORY_NODES (paths, comma-separated), e.g. Node 24.
  const otherNodes = {};
  for (const node of (process.env.MEMORY_NODES ?? '').split(',').filter(Boolean)) {
    const version = (await promisify(execFile)(node, ['--version'])).stdout.trim();
    otherNodes[version] = {};
    for (const loaderName of LOADERS) {
      otherNodes[version][loaderName] = {};
      for (const scenario of ['big', 'graph'])
        otherNodes[version][loaderName][scenario] = await run(scenario, loaderName, node);
    }
  }

  const mb = (bytes) => `${(bytes / 1048576).toFixed(1)} MB`;
  const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
  const ms = (value) => `${value.toFixed(1)} ms`;
  const [few, many] = reloads;
  const rows = [];
  const memoryRows = (node, byLoader) => {
    for (const loaderName of LOADERS) {
      const r = byLoader[loaderName];
      for (const [scenario, name] of [
        ['big', '50 KB module'],
        ['graph', '20-module graph, all edited'],
      ]) {
        const at = (n) => r[scenario][n];
        rows.push(
          `| ${node} | ${loaderName} | ${name} | ${mb(at(few).heapUsed)} | ${mb(at(many).heapUsed)} | ${kb(at(many).heapUsed / many)} | ${mb(at(many).rawRss)} | ${mb(at(many).rss)} | ${mb(at(many).external)} | ${mb(at(many).arrayBuffers)} |`,
        );
      }
    }
  };
  memoryRows(process.version, results);
  for (const [version, byLoader] of Object.entries(otherNodes)) memoryRows(version, byLoader);
  const timing = LOADERS.map((loaderName) => {
    const { leaf, call } = results[loaderName];
    return `| ${loaderName} | ${ms(leaf.p50)} | ${ms(leaf.p95)} | ${call.directNs.toFixed(0)} ns | ${call.loadedNs.toFixed(0)} ns | ${(call.loadedNs - call.directNs).toFixed(0)} ns |`;
  });
  const examples = await exampleMemory(reloads);
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, Node ${process.version}, ${process.platform}`;
  const table = [
    `Machine: ${machine}.`,
    '',
    `Growth from a warmed-up baseline: heap after forced full GCs; RSS as it stands ("raw") and after the GCs; external and array-buffer memory after the GCs; all after ${many} reloads but the first column.`,
    '',
    `| Node | loader | module | heap retained after ${few} reloads | after ${many} | per reload | RSS raw | RSS after GC | external | array buffers |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    ...examples.lines,
    '',
    '| loader | leaf edit → new version committed, p50 | p95 | handler call, imported by Node | loaded by hotmcp | overhead per call |',
    '| --- | --- | --- | --- | --- | --- |',
    ...timing,
  ].join('\n');
  process.stdout.write(`${table}\n`);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(
    new URL(`./results/loader-memory-node${process.versions.node.split('.')[0]}.json`, import.meta.url),
    `${JSON.stringify({ machine, date: new Date().toISOString(), reloads, results, otherNodes, examples: examples.results }, null, 2)}\n`,
  );
}

if (process.argv[2] === '--child') {
  const [, , , scenario, loaderName, reloads] = process.argv;
  process.stdout.write(JSON.stringify(await child(scenario, loaderName, reloads.split(',').map(Number))));
} else {
  if (typeof globalThis.gc !== 'function') process.stderr.write('(children run with --expose-gc themselves)\n');
  if (!process.env.MEMORY_NODES) {
    process.stderr.write(
      '(memory on this Node only: MEMORY_NODES=<node binary>,… adds the rows of other Nodes, e.g. Node 24)\n',
    );
  }
  await main();
}
