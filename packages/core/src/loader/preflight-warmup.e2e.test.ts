// The runner loader's preflight worker, in a real Node process against the
// built package: it starts and imports `@hotmcp/core` (as a tool module in the
// root resolves it) once the start-up's load is done (before it, when that load
// is preflighted too), and stays warm for the next batch when a batch leaves
// only a request in flight.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, expect, it } from 'vitest';

const coreDist = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '../../dist/index.js')).href;

let base: string;
beforeEach(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'hotmcp-warmup-')));
  await mkdir(join(base, 'tools'));
  // What tool modules in the root resolve `@hotmcp/core` to: here, a package that says where it was imported.
  const fake = join(base, 'node_modules', '@hotmcp', 'core');
  await mkdir(fake, { recursive: true });
  await writeFile(join(fake, 'package.json'), '{ "name": "@hotmcp/core", "type": "module", "exports": "./index.js" }');
  await writeFile(
    join(fake, 'index.js'),
    `import { appendFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
appendFileSync(${JSON.stringify(join(base, 'imported.log'))}, (isMainThread ? 'main' : 'worker') + '\\n');
`,
  );
});
afterEach(() => rm(base, { recursive: true, force: true }));

/**
 * Warm a runner loader up (and call `startupDone()` when `done`), never load anything, and say where the root's
 * `@hotmcp/core` was imported.
 */
async function warmUp(preflight: unknown, waitMs: number, nodeOptions: string[] = [], done = false): Promise<string[]> {
  const driver = `
    import { existsSync } from 'node:fs';
    import { RunnerModuleLoader } from ${JSON.stringify(coreDist)};
    const loader = new RunnerModuleLoader({
      root: ${JSON.stringify(join(base, 'tools'))}, include: [], exclude: [], deny: [], denyFiles: [],
      preflight: ${JSON.stringify(preflight)},
    });
    loader.warmUp();
    ${done ? 'loader.startupDone();' : ''}
    const deadline = Date.now() + ${waitMs};
    while (!existsSync(${JSON.stringify(join(base, 'imported.log'))}) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await loader.close();
  `;
  await promisify(execFile)(process.execPath, [...nodeOptions, '--input-type=module', '-e', driver], { cwd: base });
  return (await readFile(join(base, 'imported.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
}

it('starts the preflight worker once the start-up is loaded and imports @hotmcp/core there', async () => {
  expect(await warmUp({ timeoutMs: 2000 }, 10_000, [], true)).toEqual(['worker']);
}, 20_000);

it('starts no preflight worker before the start-up is loaded (that load does not use it)', async () => {
  // What the worker would have written within this time (it takes well under a second) is not there.
  expect(await warmUp({ timeoutMs: 2000 }, 1500)).toEqual([]);
}, 20_000);

it('starts the preflight worker before any load when the start-up is preflighted too (atStartup)', async () => {
  expect(await warmUp({ timeoutMs: 2000, atStartup: true }, 10_000)).toEqual(['worker']);
}, 20_000);

it('starts the preflight worker in a process run with options Node refuses in a worker (V8 and per-process ones)', async () => {
  // --expose-gc and --max-semi-space-size are V8's, --title is per-process: a worker passed them does not start.
  const options = ['--expose-gc', '--max-semi-space-size=4', '--title=hotmcp-warmup', '--conditions=development'];
  expect(await warmUp({ timeoutMs: 2000 }, 10_000, options, true)).toEqual(['worker']);
}, 20_000);

it('starts nothing when the preflight is off', async () => {
  // What the worker would have written within this time (it takes well under a second) is not there.
  expect(await warmUp(false, 1500, [], true)).toEqual([]);
}, 20_000);

it('keeps the warm worker for the next batch when a batch leaves only a file operation in flight', async () => {
  const log = join(base, 'threads.log');
  const tool = join(base, 'tools', 'reads.js');
  await writeFile(
    tool,
    `import { appendFileSync, readFile } from 'node:fs';
import { isMainThread, threadId } from 'node:worker_threads';
readFile(${JSON.stringify(tool)}, () => {}); // still in flight when the module has been evaluated
appendFileSync(${JSON.stringify(log)}, (isMainThread ? 'main' : 'worker ' + threadId) + '\\n');
export const loaded = true;
`,
  );
  const driver = `
    import { RunnerModuleLoader } from ${JSON.stringify(coreDist)};
    const loader = new RunnerModuleLoader({
      root: ${JSON.stringify(join(base, 'tools'))}, include: [], exclude: [], deny: [], denyFiles: [],
      preflight: { timeoutMs: 2000 },
    });
    for (let batch = 0; batch < 2; batch++) {
      const [result] = await loader.load([${JSON.stringify(tool)}]);
      if (!result.ok) throw result.error;
    }
    await loader.close();
  `;
  await promisify(execFile)(process.execPath, ['--input-type=module', '-e', driver], { cwd: base });
  const threads = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  expect(threads).toHaveLength(4);
  const [first, main, second] = threads;
  expect(main).toBe('main');
  expect(first).toMatch(/^worker \d+$/);
  expect(second).toBe(first);
}, 20_000);

it('evaluates the first batch after the start-up in the worker that warmed up, even while the warm-up runs', async () => {
  const log = join(base, 'threads.log');
  const tool = join(base, 'tools', 'tool.js');
  await writeFile(
    tool,
    `import { appendFileSync } from 'node:fs';
import { isMainThread, threadId } from 'node:worker_threads';
appendFileSync(${JSON.stringify(log)}, (isMainThread ? 'main' : 'worker ' + threadId) + '\\n');
export const loaded = true;
`,
  );
  // @hotmcp/core, as the root's modules resolve it, says in which thread it was imported (once per thread).
  await writeFile(
    join(base, 'node_modules', '@hotmcp', 'core', 'index.js'),
    `import { appendFileSync } from 'node:fs';
import { isMainThread, threadId } from 'node:worker_threads';
appendFileSync(${JSON.stringify(log)}, 'core ' + (isMainThread ? 'main' : 'worker ' + threadId) + '\\n');
`,
  );
  const driver = `
    import { RunnerModuleLoader } from ${JSON.stringify(coreDist)};
    const loader = new RunnerModuleLoader({
      root: ${JSON.stringify(join(base, 'tools'))}, include: [], exclude: [], deny: [], denyFiles: [],
      preflight: { timeoutMs: 2000 },
    });
    loader.warmUp();
    loader.startupDone(); // the worker starts and runs its warm-up; the batch below comes at once
    const [result] = await loader.load([${JSON.stringify(tool)}]);
    if (!result.ok) throw result.error;
    await loader.close();
  `;
  const { stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', driver], { cwd: base });
  expect(stderr).toBe('');
  const lines = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  // One worker thread: it imported @hotmcp/core ahead, and evaluated the batch's module before the main thread did.
  const workers = new Set(lines.filter((line) => line.includes('worker')).map((line) => line.split(' ').at(-1)));
  expect(workers.size).toBe(1);
  const [id] = workers;
  expect(lines).toEqual([`core worker ${id}`, `worker ${id}`, 'main']);
}, 20_000);
