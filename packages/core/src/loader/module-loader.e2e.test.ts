// Both module loaders, one suite: each test runs in a real Node process
// (vitest's own module runner would intercept `import()`), against the built
// package and real files.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// Each test starts a Node process; a loaded CI machine needs more than the default 5 s.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 30_000 });

const coreDist = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '../../dist/index.js')).href;
const testingDist = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '../../dist/testing/index.js')).href;
const zodDir = dirname(createRequire(import.meta.url).resolve('zod/package.json'));
let base: string;
let root: string;

beforeEach(async () => {
  // The root is a folder of a project: the "server" (the driver) lives next to it.
  base = await realpath(await mkdtemp(join(tmpdir(), 'hotmcp-loader-')));
  root = join(base, 'tools');
  await writeFile(join(base, 'package.json'), '{ "type": "module" }');
  await mkdir(join(root, 'lib'), { recursive: true });
  // A package with an ESM and a CommonJS build: one copy must serve both the server and the tools.
  await mkdir(join(base, 'node_modules', 'dual'), { recursive: true });
  await writeFile(
    join(base, 'node_modules', 'dual', 'package.json'),
    '{ "name": "dual", "exports": { "import": "./esm.mjs", "require": "./cjs.cjs" } }',
  );
  await writeFile(join(base, 'node_modules', 'dual', 'esm.mjs'), 'export const instance = Symbol("esm");\n');
  await writeFile(join(base, 'node_modules', 'dual', 'cjs.cjs'), 'exports.instance = Symbol("cjs");\n');
  await symlink(zodDir, join(base, 'node_modules', 'zod'), 'dir');
});
afterEach(() => rm(base, { recursive: true, force: true }));

const write = (file: string, text: string) => writeFile(join(root, file), text);

interface Step {
  /** Files to write before loading (relative to root). */
  write?: Record<string, string>;
  /** Files to load (relative); their importers are added, as the engine does. */
  load: string[];
  /** Exported functions of loaded files to call afterwards: `file#name`. */
  call?: string[];
  /** Load as the files found at start-up (`load(files, { startup: true })`). */
  startup?: boolean;
  /**
   * While the load runs, `afterMs` after it began, or once `afterFile` (relative) exists (a module under way wrote
   * it: a fixed delay races the load on a busy machine): write these files, then tell the loader they changed.
   */
  meanwhile?: { afterMs?: number; afterFile?: string; write?: Record<string, string>; superseded: string[] };
}

type Loader = 'native' | 'runner';

/** Top-level code that writes started.txt in the root: the module's evaluation is under way. */
const startedMark = () =>
  `import { writeFileSync as markStarted } from 'node:fs';\nmarkStarted(${JSON.stringify(join(root, 'started.txt'))}, '');\n`;

interface DriveOptions {
  /** Packages the "server" imports first; tools see them as `globalThis.server[name]`. */
  serverImports?: string[];
  /** Settings besides the shared ones (`leakBudgetBytes`). */
  settings?: Record<string, unknown>;
  /** Keep a weak reference to every loaded version; the last report lists those still alive after GC. */
  trackVersions?: boolean;
  /** Warm the loader up first, as the engine does (the runner's preflight worker then starts before the first load). */
  warmUp?: boolean;
}

/** Run steps in a fresh Node process with the given loader; returns what each load produced. */
async function drive(loader: Loader, steps: Step[], options: DriveOptions = {}): Promise<Array<Record<string, any>>> {
  const driver = `
    import { existsSync, writeFileSync } from 'node:fs';
    import { join } from 'node:path';
    import { NativeEsmModuleLoader, RunnerModuleLoader } from ${JSON.stringify(coreDist)};
    import { MemoryAuditSink } from ${JSON.stringify(testingDist)};
    const root = ${JSON.stringify(root)};
    globalThis.server = {};
    for (const name of ${JSON.stringify(options.serverImports ?? [])}) globalThis.server[name] = await import(name);
    const settings = { root, include: [], exclude: [], deny: [], denyFiles: [], ...${JSON.stringify(options.settings ?? {})} };
    const audit = new MemoryAuditSink();
    const loader = ${JSON.stringify(loader)} === 'native'
      ? new NativeEsmModuleLoader(settings, audit)
      : new RunnerModuleLoader(settings);
    if (${options.warmUp === true}) loader.warmUp();
    const versions = [];
    const relative = (file) => file.startsWith(root) ? file.slice(root.length + 1) : file;
    const where = (error) => {
      const match = /(?:file:\\/\\/)?(\\/[^\\s:)?]+)(?:\\?[^\\s:)]*)?:(\\d+):\\d+/.exec(String(error?.stack));
      return match ? relative(match[1]) + ':' + match[2] : String(error?.stack);
    };
    const out = [];
    const exportsOf = {};
    for (const step of ${JSON.stringify(steps)}) {
      for (const [file, text] of Object.entries(step.write ?? {})) writeFileSync(join(root, file), text);
      const files = step.load.map((file) => join(root, file));
      const affected = [...new Set([...files, ...loader.importersOf(files)])];
      const report = {};
      const loading = loader.load(affected, step.startup ? { startup: true } : undefined);
      if (step.meanwhile) {
        const act = () => {
          for (const [file, text] of Object.entries(step.meanwhile.write ?? {})) writeFileSync(join(root, file), text);
          loader.superseded(step.meanwhile.superseded.map((file) => join(root, file)));
        };
        const { afterFile, afterMs = 0 } = step.meanwhile;
        if (afterFile === undefined) setTimeout(act, afterMs);
        else {
          const poll = setInterval(() => {
            if (!existsSync(join(root, afterFile))) return;
            clearInterval(poll);
            act();
          }, 5);
        }
      }
      for (const result of await loading) {
        const name = relative(result.file);
        if (result.ok) exportsOf[name] = result.exports;
        if (result.ok && ${options.trackVersions === true}) versions.push([name + '@' + out.length, new WeakRef(result.exports)]);
        report[name] = result.ok
          ? { value: result.exports.value }
          : {
              code: result.error.code,
              file: relative(result.error.file),
              line: result.error.line,
              ...(result.error.details?.superseded && { superseded: relative(result.error.details.superseded) }),
            };
      }
      for (const target of step.call ?? []) {
        const [file, name] = target.split('#');
        try {
          report[target] = { returned: await exportsOf[file][name]() };
        } catch (error) {
          report[target] = { threw: error.message, at: where(error) };
        }
      }
      report.importersOfHelper = [...loader.importersOf([join(root, 'lib/h.ts')])].map(relative).sort();
      out.push(report);
    }
    for (const key of Object.keys(exportsOf)) delete exportsOf[key];
    for (let i = 0; i < 5 && versions.length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      globalThis.gc();
    }
    out.push({
      alive: versions.filter(([, ref]) => ref.deref() !== undefined).map(([name]) => name),
      audit: audit.events.map(({ event, timestamp, pid, ...fields }) => ({ event, ...fields })),
    });
    process.stdout.write(JSON.stringify(out));
  `;
  await writeFile(join(base, 'driver.mjs'), driver);
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', 'driver.mjs'], {
    cwd: base,
    timeout: 50_000,
  });
  return JSON.parse(stdout);
}

describe.each<Loader>(['native', 'runner'])('the %s loader', (loader) => {
  it('loads .ts modules whose local imports are written with .js, .ts or no extension', async () => {
    await write('lib/h.ts', 'export const greet = (s: string): string => "hi " + s;\n');
    await write('a.ts', 'import { greet } from "./lib/h.js";\nexport const value: string = greet("a");\n');
    await write('b.ts', 'import { greet } from "./lib/h.ts";\nexport const value: string = greet("b");\n');
    await write('c.ts', 'import { greet } from "./lib/h";\nexport const value: string = greet("c");\n');
    const [first] = await drive(loader, [{ load: ['a.ts', 'b.ts', 'c.ts'] }]);
    expect(first).toMatchObject({ 'a.ts': { value: 'hi a' }, 'b.ts': { value: 'hi b' }, 'c.ts': { value: 'hi c' } });
    expect(first?.importersOfHelper).toEqual(['a.ts', 'b.ts', 'c.ts']);
  });

  it('re-evaluates every importer of an edited helper and shares an unchanged one', async () => {
    await write('lib/h.ts', 'export const greet = (s: string): string => "v1 " + s;\n');
    await write('lib/counter.ts', 'globalThis.evaluations = (globalThis.evaluations ?? 0) + 1;\nexport {};\n');
    const tool = (name: string) =>
      `import './lib/counter.js';\nimport { greet } from './lib/h.js';\nexport const value = greet('${name}') + ' #' + globalThis.evaluations;\n`;
    await write('a.ts', tool('a'));
    await write('b.ts', tool('b'));
    const [, second] = await drive(loader, [
      { load: ['a.ts', 'b.ts'] },
      { write: { 'lib/h.ts': 'export const greet = (s: string): string => "v2 " + s;\n' }, load: ['lib/h.ts'] },
    ]);
    expect(second).toMatchObject({ 'a.ts': { value: 'v2 a #1' }, 'b.ts': { value: 'v2 b #1' } });
  });

  it('reports a syntax error with code, file and line', async () => {
    await write('bad.ts', 'const x: number = 1;\nexport const value = x +;\n');
    const [first] = await drive(loader, [{ load: ['bad.ts'] }]);
    expect(first?.['bad.ts']).toEqual({ code: 'HOTMCP_ERR_SYNTAX', file: 'bad.ts', line: 2 });
  });

  it('reports a throw at import with the line that threw', async () => {
    await write('throws.ts', 'const n: number = 2;\n\nthrow new Error("boom " + n);\n');
    const [first] = await drive(loader, [{ load: ['throws.ts'] }]);
    expect(first?.['throws.ts']).toEqual({ code: 'HOTMCP_ERR_IMPORT_THREW', file: 'throws.ts', line: 3 });
  });

  it('reports a missing import with the importing line, and loads once the file exists', async () => {
    await write(
      'a.ts',
      'export const other = 1;\nimport { value as v } from "./lib/missing.js";\nexport const value = v;\n',
    );
    const [first, second] = await drive(loader, [
      { load: ['a.ts'] },
      { write: { 'lib/missing.ts': 'export const value = "found";\n' }, load: ['a.ts'] },
    ]);
    expect(first?.['a.ts']).toEqual({ code: 'HOTMCP_ERR_MODULE_NOT_FOUND', file: 'a.ts', line: 2 });
    expect(second?.['a.ts']).toEqual({ value: 'found' });
  });

  it('points a failure in a helper at the helper, for every module importing it', async () => {
    await write('lib/h.ts', 'export const greet = (s: string): string => s;\n');
    await write('a.ts', 'import { greet } from "./lib/h.js";\nexport const value = greet("a");\n');
    const [, second] = await drive(loader, [
      { load: ['a.ts'] },
      { write: { 'lib/h.ts': 'export const greet = (s: string): string => ;\n' }, load: ['lib/h.ts'] },
    ]);
    expect(second?.['a.ts']).toEqual({ code: 'HOTMCP_ERR_SYNTAX', file: 'lib/h.ts', line: 1 });
  });

  it('reports a missing package and a missing file outside the root with the importing line', async () => {
    await write(
      'a.ts',
      'export const x = 1;\n\nimport { nothing } from "no-such-package";\nexport const value = nothing;\n',
    );
    await write('b.ts', 'import { nothing } from "../not-there.js";\nexport const value = nothing;\n');
    const [first] = await drive(loader, [{ load: ['a.ts', 'b.ts'] }]);
    expect(first?.['a.ts']).toEqual({ code: 'HOTMCP_ERR_MODULE_NOT_FOUND', file: 'a.ts', line: 3 });
    expect(first?.['b.ts']).toEqual({ code: 'HOTMCP_ERR_MODULE_NOT_FOUND', file: 'b.ts', line: 1 });
  });

  it("gives tool modules the very package instances the server holds (zod, a dual ESM/CommonJS package, the server's own files by subpath import)", async () => {
    await writeFile(join(base, 'shared.mjs'), 'export const registry = new Map();\n');
    await writeFile(join(base, 'package.json'), '{ "type": "module", "imports": { "#shared": "./shared.mjs" } }');
    await write(
      'a.ts',
      `import { z } from 'zod';
import * as zod from 'zod';
import { instance } from 'dual';
import { registry } from '#shared';
const server = (globalThis as any).server;
export const value = [z === server.zod.z, zod === server.zod, instance === server.dual.instance, registry === server['${join(base, 'shared.mjs')}'].registry];
`,
    );
    const [first] = await drive(loader, [{ load: ['a.ts'] }], {
      serverImports: ['zod', 'dual', join(base, 'shared.mjs')],
    });
    expect(first?.['a.ts']).toEqual({ value: [true, true, true, true] });
  });

  it('refuses a path import that leaves the root (relative, absolute, through a symlink, dynamic) and keeps package imports', async () => {
    await writeFile(join(base, 'secret.mjs'), 'export const value = "secret";\n');
    await symlink(join(base, 'secret.mjs'), join(root, 'lib', 'link.mjs'));
    await write('up.ts', 'export const x = 1;\nimport { value } from "../secret.mjs";\nexport { value };\n');
    await write('linked.ts', 'import { value } from "./lib/link.mjs";\nexport { value };\n');
    await write(
      'absolute.ts',
      `import { value } from ${JSON.stringify(join(base, 'secret.mjs'))};\nexport { value };\n`,
    );
    await write('package.ts', 'import { z } from "zod";\nexport const value = typeof z.string;\n');
    await write(
      'dynamic.ts',
      'export const value = await import("../secret.mjs").then(() => "loaded", (e) => String(e.message.includes("outside the watched root")));\n',
    );
    const [first] = await drive(loader, [{ load: ['up.ts', 'linked.ts', 'absolute.ts', 'package.ts', 'dynamic.ts'] }]);
    expect(first?.['up.ts']).toEqual({ code: 'HOTMCP_ERR_OUTSIDE_ROOT', file: 'up.ts', line: 2 });
    expect(first?.['linked.ts']).toEqual({ code: 'HOTMCP_ERR_OUTSIDE_ROOT', file: 'linked.ts', line: 1 });
    expect(first?.['absolute.ts']).toEqual({ code: 'HOTMCP_ERR_OUTSIDE_ROOT', file: 'absolute.ts', line: 1 });
    expect(first?.['package.ts']).toEqual({ value: 'function' });
    expect(first?.['dynamic.ts']).toEqual({ value: 'true' });
  });

  it('refuses to load a file of the root that is a symlink to a file outside it', async () => {
    await writeFile(join(base, 'secret.ts'), 'export const value = "secret";\n');
    await symlink(join(base, 'secret.ts'), join(root, 'a.ts'));
    const [first] = await drive(loader, [{ load: ['a.ts'] }]);
    expect(first?.['a.ts']).toEqual({ code: 'HOTMCP_ERR_OUTSIDE_ROOT', file: 'a.ts' });
  });

  it('refuses an empty module and one that is not UTF-8, with the line of the bad byte', async () => {
    await write('empty.ts', '  \n');
    await writeFile(
      join(root, 'latin1.ts'),
      Buffer.concat([
        Buffer.from('export const a = 1;\nexport const value = "caf'),
        Buffer.from([0xe9]),
        Buffer.from('";\n'),
      ]),
    );
    const [first] = await drive(loader, [{ load: ['empty.ts', 'latin1.ts'] }]);
    expect(first?.['empty.ts']).toEqual({ code: 'HOTMCP_ERR_EMPTY_MODULE', file: 'empty.ts' });
    expect(first?.['latin1.ts']).toEqual({ code: 'HOTMCP_ERR_INVALID_ENCODING', file: 'latin1.ts', line: 2 });
  });

  it('runs what tool authors write: top-level await, import.meta, dynamic import of a local module, JSON', async () => {
    await write('lib/data.json', '{ "answer": 42 }\n');
    await write('lib/later.ts', 'export const later: string = "later";\n');
    await write(
      'a.ts',
      `import data from './lib/data.json' with { type: 'json' };
const waited = await new Promise<string>((resolve) => setTimeout(() => resolve('waited'), 1));
const { later } = await import('./lib/later.js');
let looped = 0;
for await (const n of [Promise.resolve(1), 2]) looped += n;
export const value = {
  waited, later, looped, answer: data.answer,
  url: new URL(import.meta.url).pathname.endsWith('/tools/a.ts'),
  dirname: import.meta.dirname === ${JSON.stringify(root)},
  filename: import.meta.filename === ${JSON.stringify(join(root, 'a.ts'))},
};
`,
    );
    const [first] = await drive(loader, [{ load: ['a.ts'] }]);
    expect(first?.['a.ts']).toEqual({
      value: { waited: 'waited', later: 'later', looped: 3, answer: 42, url: true, dirname: true, filename: true },
    });
  });

  it('gives a dynamic import the current version of a local module, and learns the import edge', async () => {
    await write('lib/h.ts', 'export const word = "one";\n');
    await write(
      'a.ts',
      'export async function value2() { return (await import("./lib/h.js")).word; }\nexport const value = 0;\n',
    );
    const [first, second] = await drive(loader, [
      { load: ['a.ts'], call: ['a.ts#value2'] },
      { write: { 'lib/h.ts': 'export const word = "two";\n' }, load: ['lib/h.ts'], call: ['a.ts#value2'] },
    ]);
    expect(first?.['a.ts#value2']).toEqual({ returned: 'one' });
    expect(second?.['a.ts#value2']).toEqual({ returned: 'two' });
    // The native loader hears of a dynamic import at its next load; the runner at once.
    expect(second?.importersOfHelper).toEqual(['a.ts']);
  });

  it('loads an import cycle with live, partial bindings as Node does', async () => {
    await write(
      'a.ts',
      "import { b } from './lib/b.js';\nexport function a(): string { return 'a'; }\nexport const value = b();\n",
    );
    // b runs first: a's function declaration is already there; its `value` is read later, once a has run.
    await write(
      'lib/b.ts',
      "import { a, value } from '../a.js';\nconst early = a();\nexport function b(): string { return 'b+' + early; }\nexport const late = () => value;\n",
    );
    const [first] = await drive(loader, [{ load: ['a.ts'] }]);
    expect(first?.['a.ts']).toEqual({ value: 'b+a' });
  });

  it('fails a cycle that reads a binding before it is initialised, with the line', async () => {
    await write('a.ts', "import { b } from './lib/b.js';\nexport const value: string = 'a' + b;\n");
    await write('lib/b.ts', "import { value } from '../a.js';\n\nexport const b: string = value;\n");
    const [first] = await drive(loader, [{ load: ['a.ts'] }]);
    expect(first?.['a.ts']).toEqual({ code: 'HOTMCP_ERR_IMPORT_THREW', file: 'lib/b.ts', line: 3 });
  });

  it('maps a stack trace of a tool handler to the line of the .ts source', async () => {
    await write(
      'a.ts',
      'interface Input {\n  n: number;\n}\n\nexport function fail(input: Input = { n: 1 }): never {\n  throw new Error("failed " + input.n);\n}\nexport const value = 1;\n',
    );
    const [first] = await drive(loader, [{ load: ['a.ts'], call: ['a.ts#fail'] }]);
    expect(first?.['a.ts#fail']).toEqual({ threw: 'failed 1', at: 'a.ts:6' });
  });
});

describe('the runner loader', () => {
  it('lets a replaced version be garbage-collected, keeping only the current one', async () => {
    const big = (tag: string) =>
      `export const value = ${JSON.stringify(tag)};\nexport const data = new Array(100_000).fill(${JSON.stringify(tag)});\n`;
    await write('a.ts', big('v1'));
    const [, , end] = await drive('runner', [{ load: ['a.ts'] }, { write: { 'a.ts': big('v2') }, load: ['a.ts'] }], {
      trackVersions: true,
    });
    expect(end?.alive).toEqual(['a.ts@1']); // the current version stays, to be shared by importers; v1 is gone
  });

  it('keeps the heap flat over 100 reloads of a 50 KB module (regression: V8 cached every compiled version on Node 24)', async () => {
    const driver = `
      import { writeFileSync } from 'node:fs';
      import { join } from 'node:path';
      import { RunnerModuleLoader } from ${JSON.stringify(coreDist)};
      const root = ${JSON.stringify(root)};
      const file = join(root, 'big.ts');
      const loader = new RunnerModuleLoader({ root, include: [], exclude: [], deny: [], denyFiles: [] });
      const source = (version) => {
        let text = 'const VERSION: number = ' + version + ';\\n';
        for (let i = 0; text.length < 50_000; i++) text += 'export function f' + i + '(n: number): number { return n * ' + i + ' + VERSION; }\\n';
        return text;
      };
      const heap = async () => {
        for (let i = 0; i < 4; i++) { await new Promise((resolve) => setTimeout(resolve, 10)); globalThis.gc(); }
        return process.memoryUsage().heapUsed;
      };
      let exports;
      const reload = async (version) => {
        writeFileSync(file, source(version));
        const [result] = await loader.load([file]);
        if (!result.ok) throw result.error;
        exports = result.exports;
      };
      for (let version = 0; version < 10; version++) await reload(version);
      const before = await heap();
      for (let version = 10; version < 110; version++) await reload(version);
      process.stdout.write(JSON.stringify({ grewBy: (await heap()) - before, works: exports.f1(1) === 110 }));
    `;
    await writeFile(join(base, 'heap.mjs'), driver);
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', 'heap.mjs'], { cwd: base });
    const { grewBy, works } = JSON.parse(stdout) as { grewBy: number; works: boolean };
    expect(works).toBe(true);
    expect(grewBy).toBeLessThan(5 * 1024 * 1024); // every version kept would be over 5 MB (50 KB of source alone, ×100)
  });

  it('adopts the graph Node imported, keeping its instances, even with a file caught half-saved; its edit then loads', async () => {
    await write('counter.js', 'let count = 0;\nexport const next = () => ++count;\n');
    await write('leaf.js', "export const leaf = 'v1';\n");
    await write(
      'entry.js',
      "import { next } from './counter.js';\nimport { leaf } from './leaf.js';\nexport const value = () => leaf + ' ' + next();\n",
    );
    const driver = `
      import { writeFileSync } from 'node:fs';
      import { join } from 'node:path';
      import { RunnerModuleLoader } from ${JSON.stringify(coreDist)};
      const root = ${JSON.stringify(root)};
      const entry = join(root, 'entry.js');
      const native = await import(entry);
      const out = [native.value()];
      writeFileSync(join(root, 'leaf.js'), ''); // a save caught half-way, as the graph is adopted
      const loader = new RunnerModuleLoader({ root, include: [], exclude: [], deny: [], denyFiles: [] });
      out.push((await loader.adoptNative(entry)).map((file) => file.slice(root.length + 1)).sort());
      writeFileSync(join(root, 'leaf.js'), "export const leaf = 'v2';\\n");
      const results = await loader.load([join(root, 'leaf.js'), entry]);
      const loaded = results.find((result) => result.file === entry);
      out.push(results.every((result) => result.ok) ? loaded.exports.value() : String(results.find((r) => !r.ok).error));
      process.stdout.write(JSON.stringify(out));
    `;
    await writeFile(join(base, 'adopt.mjs'), driver);
    const { stdout } = await promisify(execFile)(process.execPath, ['adopt.mjs'], { cwd: base });
    // The counter is Node's instance throughout: its count goes on from the first run.
    expect(JSON.parse(stdout)).toEqual(['v1 1', ['counter.js', 'entry.js', 'leaf.js'], 'v2 2']);
  });

  it('runs a compilation given with the batch only when its own compiler made it from the text on disk', async () => {
    await mkdir(join(base, 'publisher'));
    const driver = `
      import { writeFileSync } from 'node:fs';
      import { join } from 'node:path';
      import { precompileModule, RunnerModuleLoader } from ${JSON.stringify(coreDist)};
      const root = ${JSON.stringify(root)};
      const file = join(root, 'echo.ts');
      const text = (answer) => 'type Answer = string;\\n\\nexport function answer(): Answer {\\n  if (globalThis.fail) throw new Error("boom");\\n  return ' + JSON.stringify(answer) + ';\\n}\\n';
      // Compiled where a publisher has the folder, not at the replica's path.
      const given = await precompileModule(join(${JSON.stringify(base)}, 'publisher', 'echo.ts'), text('compiled'));
      // What only the given code answers: proves the loader ran it rather than compiling the file.
      const forged = { ...given, code: given.code.replace('"compiled"', '"from the batch"') };
      const loader = new RunnerModuleLoader({ root, include: [], exclude: [], deny: [], denyFiles: [], compileCache: false });
      const out = [];
      const load = async (compiled) => {
        const [result] = await loader.load([file], { compiled: { [file]: compiled } });
        if (!result.ok) return String(result.error);
        let location;
        globalThis.fail = true;
        try { result.exports.answer(); } catch (error) { location = /\\((.*?):(\\d+):\\d+\\)/.exec(error.stack)?.slice(1, 3).join(':'); }
        globalThis.fail = false;
        return [result.exports.answer(), result.precompiled === true, location];
      };
      writeFileSync(file, text('compiled'));
      out.push(await load(forged));
      writeFileSync(file, text('compiled') + '\\n');
      out.push(await load(forged)); // another text on disk
      writeFileSync(file, text('compiled'));
      out.push(await load({ ...forged, compiler: 'another' })); // another compiler
      out.push(await load({ ...forged, code: 'process.exit(3)' })); // not the runner's shape
      process.stdout.write(JSON.stringify(out));
    `;
    await writeFile(join(base, 'given.mjs'), driver);
    const { stdout } = await promisify(execFile)(process.execPath, ['given.mjs'], { cwd: base });
    const at = `${join(root, 'echo.ts')}:4`; // the source map, relative in the given code, resolves to the replica's file
    expect(JSON.parse(stdout)).toEqual([
      ['from the batch', true, at],
      ['compiled', false, at],
      ['compiled', false, at],
      ['compiled', false, at],
    ]);
  });

  it('does not hang when a module awaits the import of a module that imports it', async () => {
    await write(
      'a.ts',
      "const b = await import('./lib/b.js');\nexport const x = 'x';\nexport const value = 'a+' + b.value + '+' + b.seen();\n",
    );
    await write(
      'lib/b.ts',
      "import { x } from '../a.js';\nexport const value = 'b';\nexport const seen = () => typeof x;\n",
    );
    const [first] = await drive('runner', [{ load: ['a.ts'] }]);
    expect(first?.['a.ts']).toEqual({ value: 'a+b+string' });
  });
});

describe('the native loader', () => {
  it('keeps every version in memory (Node cannot evict an ES module)', async () => {
    await write('a.ts', 'export const value = 1;\n');
    const [, , end] = await drive(
      'native',
      [{ load: ['a.ts'] }, { write: { 'a.ts': 'export const value = 2;\n' }, load: ['a.ts'] }],
      {
        trackVersions: true,
      },
    );
    expect(end?.alive).toEqual(['a.ts@0', 'a.ts@1']);
  });

  it('audits one warning once the replaced versions exceed the leak budget', async () => {
    await write('a.ts', `export const value = 0;\n// ${'x'.repeat(1000)}\n`);
    const edit = (n: number) => ({
      write: { 'a.ts': `export const value = ${n};\n// ${'x'.repeat(1000)}\n` },
      load: ['a.ts'],
    });
    const reports = await drive('native', [{ load: ['a.ts'] }, edit(1), edit(2), edit(3), edit(4)], {
      settings: { leakBudgetBytes: 60_000 }, // about 26 KB per replaced version of this 1 KB file
    });
    const warnings = reports
      .at(-1)
      ?.audit.filter((event: { event: string }) => event.event === 'loader.leak_budget_exceeded');
    expect(warnings).toEqual([
      expect.objectContaining({ reloads: 3, budgetBytes: 60_000, advice: expect.stringContaining("loader: 'runner'") }),
    ]);
  });
});

describe('a tool folder that is not an ES module', () => {
  const warnings = (report: Record<string, any> | undefined) =>
    report?.audit.filter((event: { event: string }) => event.event === 'loader.warning') ?? [];

  it('makes the native loader, which needs "type": "module", warn once', async () => {
    await writeFile(join(base, 'package.json'), '{}');
    await write('a.ts', 'export const value: string = "ok";\n');
    const reports = await drive('native', [{ load: ['a.ts'] }, { load: ['a.ts'] }]);
    expect(warnings(reports.at(-1))).toEqual([
      expect.objectContaining({ message: expect.stringContaining('"type": "module"') }),
    ]);
  });

  it('loads under the runner loader with no warning', async () => {
    await writeFile(join(base, 'package.json'), '{}');
    await write('a.ts', 'export const value: string = "ok";\n');
    const reports = await drive('runner', [{ load: ['a.ts'] }]);
    expect(reports[0]?.['a.ts']).toEqual({ value: 'ok' });
    expect(warnings(reports.at(-1))).toEqual([]);
  });
});

describe('the import preflight', () => {
  /** A module that logs which thread evaluates it to threads.log, then exports `value`. */
  const writeLogging = (value: number) => `import { appendFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
appendFileSync(${JSON.stringify(join(base, 'threads.log'))}, isMainThread ? 'main\\n' : 'worker\\n');
export const value = ${value};
`;
  const threads = async () => (await readFile(join(base, 'threads.log'), 'utf8')).split('\n').filter(Boolean);

  it('evaluates the modules found at start-up once, on the main thread, and the next version in the worker first', async () => {
    await write('a.ts', writeLogging(1));
    const reports = await drive(
      'runner',
      [
        { load: ['a.ts'], startup: true },
        { write: { 'a.ts': writeLogging(2) }, load: ['a.ts'] },
      ],
      { settings: { preflight: { timeoutMs: 2000 } }, warmUp: true },
    );
    expect(reports.slice(0, 2).map((report) => report['a.ts'])).toEqual([{ value: 1 }, { value: 2 }]);
    expect(await threads()).toEqual(['main', 'worker', 'main']);
  });

  it('preflights the modules found at start-up too with atStartup', async () => {
    await write('a.ts', writeLogging(1));
    const [report] = await drive('runner', [{ load: ['a.ts'], startup: true }], {
      settings: { preflight: { timeoutMs: 2000, atStartup: true } },
      warmUp: true,
    });
    expect(report?.['a.ts']).toEqual({ value: 1 });
    expect(await threads()).toEqual(['worker', 'main']);
  });

  it('refuses a module found at start-up whose top-level await never settles within the limit, and one that throws, loading the rest', async () => {
    await write('hangs.ts', 'await new Promise(() => {});\nexport const value = 1;\n');
    await write('throws.ts', 'const n: number = 2;\n\nthrow new Error("boom " + n);\n');
    await write('good.ts', 'export const value: number = 3;\n');
    const [report] = await drive('runner', [{ load: ['good.ts', 'hangs.ts', 'throws.ts'], startup: true }], {
      settings: { preflight: { timeoutMs: 300 } },
    });
    expect(report).toMatchObject({
      'good.ts': { value: 3 },
      'hangs.ts': { code: 'HOTMCP_ERR_IMPORT_TIMEOUT', file: 'hangs.ts' },
      'throws.ts': { code: 'HOTMCP_ERR_IMPORT_THREW', file: 'throws.ts', line: 3 },
    });
  });

  it('refuses a module found at start-up once its top-level code has run for the limit, not for twice the limit', async () => {
    // Settles at 1.75 times the limit: past it, and before the second limit a wait that restarted at the first
    // timeout would give it (its body starts after the wait does).
    await write('late.ts', 'await new Promise((resolve) => setTimeout(resolve, 700));\nexport const value = 1;\n');
    await write('importer.ts', "import { value } from './late.js';\nexport { value };\n");
    const [report] = await drive('runner', [{ load: ['importer.ts'], startup: true }], {
      settings: { preflight: { timeoutMs: 400 } },
    });
    expect(report).toMatchObject({ 'importer.ts': { code: 'HOTMCP_ERR_IMPORT_TIMEOUT', file: 'late.ts' } });
  });

  it('gives up a version still running its top-level code on the main thread once its file is saved again', async () => {
    const late = (value: number) =>
      `await new Promise((resolve) => setTimeout(resolve, 1500));\nexport const value = ${value};\n`;
    await write('late.ts', `${startedMark()}${late(1)}`);
    const [given, kept] = await drive(
      'runner',
      [
        {
          load: ['late.ts'],
          meanwhile: { afterFile: 'started.txt', write: { 'late.ts': late(2) }, superseded: ['late.ts'] },
        },
        // Told of a change that left the text as it was (no edit): the version is waited for.
        { load: ['late.ts'], meanwhile: { afterMs: 300, superseded: ['late.ts'] } },
      ],
      { settings: { preflight: false } },
    );
    expect(given).toMatchObject({ 'late.ts': { code: 'HOTMCP_ERR_IMPORT_TIMEOUT', superseded: 'late.ts' } });
    expect(kept).toMatchObject({ 'late.ts': { value: 2 } });
  });

  it('gives up a version still running its top-level code in the import preflight once its file is saved again', async () => {
    // Never settles: only the preflight's limit (5 s here) would end it, were it not given up.
    await write('late.ts', `${startedMark()}await new Promise(() => {});\nexport const value = 1;\n`);
    await write('importer.ts', "import { value } from './late.js';\nexport { value };\n");
    const late = (value: number) =>
      `await new Promise((resolve) => setTimeout(resolve, 600));\nexport const value = ${value};\n`;
    const [given, kept] = await drive(
      'runner',
      [
        {
          load: ['importer.ts'],
          meanwhile: { afterFile: 'started.txt', write: { 'late.ts': late(2) }, superseded: ['late.ts'] },
        },
        // Told of a change that left the text as it was (no edit): the version is waited for.
        { load: ['late.ts'], meanwhile: { afterMs: 300, superseded: ['late.ts'] } },
      ],
      { settings: { preflight: { timeoutMs: 5000 } } },
    );
    // Given up as it hung in the worker (without the cut, it would fail at the limit, with no `superseded`).
    expect(given).toMatchObject({
      'importer.ts': { code: 'HOTMCP_ERR_IMPORT_TIMEOUT', file: 'late.ts', superseded: 'late.ts' },
    });
    expect(kept).toMatchObject({ 'late.ts': { value: 2 }, 'importer.ts': { value: 2 } });
  });

  it('waits for a package that takes longer than the limit to import, in a worker warmed before the first load', async () => {
    await mkdir(join(base, 'node_modules', 'slow'), { recursive: true });
    await writeFile(
      join(base, 'node_modules', 'slow', 'package.json'),
      '{ "name": "slow", "type": "module", "exports": "./index.js" }',
    );
    // Takes at least three times the limit below to import, and then finishes.
    await writeFile(
      join(base, 'node_modules', 'slow', 'index.js'),
      'await new Promise((resolve) => setTimeout(resolve, 900));\nexport const slow = "imported";\n',
    );
    const [report] = await drive(
      'runner',
      [{ write: { 'a.ts': "import { slow } from 'slow';\nexport const value = slow;\n" }, load: ['a.ts'] }],
      { settings: { preflight: { timeoutMs: 300 } }, warmUp: true },
    );
    expect(report?.['a.ts']).toEqual({ value: 'imported' });
  });
});
