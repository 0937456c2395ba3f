// The loader runs in a real Node process (vitest's own module runner would
// intercept `import()`), against the built package and real files.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, expect, it } from 'vitest';

const coreDist = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '../../dist/index.js')).href;
let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'hotmcp-loader-'));
  await writeFile(join(root, 'package.json'), '{ "type": "module" }');
  await mkdir(join(root, 'lib'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

const write = (file: string, text: string) => writeFile(join(root, file), text);

interface Step {
  /** Files to write before loading (relative to root). */
  write?: Record<string, string>;
  /** Files to load (relative); their importers are added, as the engine does. */
  load: string[];
}

/** Run steps in a fresh Node process; returns what each load produced. */
async function drive(steps: Step[]): Promise<Array<Record<string, unknown>>> {
  const driver = `
    import { writeFileSync } from 'node:fs';
    import { join } from 'node:path';
    import { NativeEsmModuleLoader } from ${JSON.stringify(coreDist)};
    const root = ${JSON.stringify(root)};
    const loader = new NativeEsmModuleLoader({ root, include: [], exclude: [], deny: [], denyFiles: [] });
    const out = [];
    for (const step of ${JSON.stringify(steps)}) {
      for (const [file, text] of Object.entries(step.write ?? {})) writeFileSync(join(root, file), text);
      const files = step.load.map((file) => join(root, file));
      const affected = [...new Set([...files, ...loader.importersOf(files)])];
      const report = {};
      for (const result of await loader.load(affected)) {
        const name = result.file.slice(root.length + 1);
        report[name] = result.ok
          ? { value: result.exports.value }
          : { code: result.error.code, file: result.error.file.slice(root.length + 1), line: result.error.line };
      }
      report.importersOfHelper = [...loader.importersOf([join(root, 'lib/h.ts')])].map((f) => f.slice(root.length + 1)).sort();
      out.push(report);
    }
    process.stdout.write(JSON.stringify(out));
  `;
  await write('driver.mjs', driver);
  const { stdout } = await promisify(execFile)(process.execPath, [join(root, 'driver.mjs')], { cwd: root });
  return JSON.parse(stdout);
}

it('loads .ts modules whose local imports are written with .js, .ts or no extension', async () => {
  await write('lib/h.ts', 'export const greet = (s: string): string => "hi " + s;\n');
  await write('a.ts', 'import { greet } from "./lib/h.js";\nexport const value: string = greet("a");\n');
  await write('b.ts', 'import { greet } from "./lib/h.ts";\nexport const value: string = greet("b");\n');
  await write('c.ts', 'import { greet } from "./lib/h";\nexport const value: string = greet("c");\n');
  const [first] = await drive([{ load: ['a.ts', 'b.ts', 'c.ts'] }]);
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
  const [, second] = await drive([
    { load: ['a.ts', 'b.ts'] },
    { write: { 'lib/h.ts': 'export const greet = (s: string): string => "v2 " + s;\n' }, load: ['lib/h.ts'] },
  ]);
  expect(second).toMatchObject({ 'a.ts': { value: 'v2 a #1' }, 'b.ts': { value: 'v2 b #1' } });
});

it('reports a syntax error with code, file and line', async () => {
  await write('bad.ts', 'const x: number = 1;\nexport const value = x +;\n');
  const [first] = await drive([{ load: ['bad.ts'] }]);
  expect(first?.['bad.ts']).toEqual({ code: 'HOTMCP_ERR_SYNTAX', file: 'bad.ts', line: 2 });
});

it('reports a throw at import with the line that threw', async () => {
  await write('throws.ts', 'const n: number = 2;\n\nthrow new Error("boom " + n);\n');
  const [first] = await drive([{ load: ['throws.ts'] }]);
  expect(first?.['throws.ts']).toEqual({ code: 'HOTMCP_ERR_IMPORT_THREW', file: 'throws.ts', line: 3 });
});

it('reports a missing import with the importing line, and loads once the file exists', async () => {
  await write(
    'a.ts',
    'export const other = 1;\nimport { value as v } from "./lib/missing.js";\nexport const value = v;\n',
  );
  const [first, second] = await drive([
    { load: ['a.ts'] },
    { write: { 'lib/missing.ts': 'export const value = "found";\n' }, load: ['a.ts'] },
  ]);
  expect(first?.['a.ts']).toEqual({ code: 'HOTMCP_ERR_MODULE_NOT_FOUND', file: 'a.ts', line: 2 });
  expect(second?.['a.ts']).toEqual({ value: 'found' });
});

it('points a failure in a helper at the helper, for every module importing it', async () => {
  await write('lib/h.ts', 'export const greet = (s: string): string => s;\n');
  await write('a.ts', 'import { greet } from "./lib/h.js";\nexport const value = greet("a");\n');
  const [, second] = await drive([
    { load: ['a.ts'] },
    { write: { 'lib/h.ts': 'export const greet = (s: string): string => ;\n' }, load: ['lib/h.ts'] },
  ]);
  expect(second?.['a.ts']).toEqual({ code: 'HOTMCP_ERR_SYNTAX', file: 'lib/h.ts', line: 1 });
});
