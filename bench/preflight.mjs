// Benchmark: what the import preflight (new versions evaluated first in a
// worker thread under a time limit) costs per reload, with it on and off in
// the same run, interleaved so both see the same machine load.
//
//   pnpm build && node bench/preflight.mjs      (ITERATIONS=40 by default)
//
// 1. Engine: the real reload engine, runner loader and SDK v1 adapter on a
//    real McpServer, driven by a hand-fed change source (no watcher, no
//    coalescing): one tool module (zod + @hotmcp/core) edited, from the batch
//    reaching the engine to the new version committed. Edits spaced 300 ms
//    apart (the next worker is spawned and warm by then) and back to back
//    (the next edit may wait for the worker to start).
// 2. End to end: the SDK v1 example server under a real stdio SDK Client,
//    default settings otherwise, edit → first call returning the new code
//    (what issue 7 targets), edits 600 ms apart.
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { callText, connect, createSandbox } from '../examples/sdk-v1-server/dist/harness.js';
import { createSdkV1Adapter } from '../packages/adapter-sdk-v1/dist/index.js';
import { createReloader } from '../packages/core/dist/index.js';
import { FakeChangeSource } from '../packages/core/dist/testing/index.js';

const iterations = Number(process.env.ITERATIONS ?? 40);
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const toolSource = (reply) => `import { defineTool } from '@hotmcp/core';
import { z } from 'zod';

export default defineTool({
  name: 'greet',
  description: ${JSON.stringify(`Greet someone (${reply.trim()})`)},
  inputSchema: { name: z.string() },
  handler: async ({ name }) => ({ content: [{ type: 'text', text: ${JSON.stringify(reply)} + name }] }),
});
`;

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), max: sorted.at(-1) };
}

// ---------------------------------------------------------------- 1. engine

async function engineSetup(preflight) {
  const sandbox = await createSandbox();
  const file = join(sandbox.toolsDir, 'greet.ts');
  await sandbox.write('greet.ts', toolSource('v0 '));
  const source = new FakeChangeSource([file]);
  const server = new McpServer({ name: 'bench', version: '0' }, { capabilities: { tools: { listChanged: true } } });
  const reloader = await createReloader({
    adapter: createSdkV1Adapter(server),
    root: sandbox.toolsDir,
    include: ['greet.ts'],
    changeSource: source,
    coalesce: false,
    audit: false,
    preflight,
  });
  await reloader.start();
  let version = 0;
  return {
    sandbox,
    reloader,
    async reload() {
      await sandbox.write('greet.ts', toolSource(`v${++version} `));
      const start = performance.now();
      source.emit({ changed: [file] });
      await reloader.idle();
      const ms = performance.now() - start;
      const status = reloader.status();
      if (status.errors.length > 0) throw new Error(`reload failed: ${JSON.stringify(status.errors)}`);
      return ms;
    },
  };
}

const engine = { on: await engineSetup(undefined), off: await engineSetup(false) };
const engineSamples = { spaced: { on: [], off: [] }, backToBack: { on: [], off: [] } };
for (let i = 0; i < 5; i++) for (const mode of ['on', 'off']) await engine[mode].reload(); // warm-up
for (let i = 0; i < iterations; i++) {
  for (const mode of i % 2 ? ['on', 'off'] : ['off', 'on']) {
    await pause(300);
    engineSamples.spaced[mode].push(await engine[mode].reload());
  }
}
for (const mode of ['on', 'off']) {
  await pause(300);
  for (let i = 0; i < iterations; i++) engineSamples.backToBack[mode].push(await engine[mode].reload());
}
for (const { reloader, sandbox } of Object.values(engine)) {
  await reloader.stop();
  await sandbox.cleanup();
}

// ---------------------------------------------------------------- 2. end to end

const e2eSamples = { on: [], off: [] };
const e2e = {};
for (const [mode, env] of [
  ['on', {}],
  ['off', { HOTMCP_PREFLIGHT_TIMEOUT_MS: '0' }],
]) {
  const sandbox = await createSandbox();
  const session = await connect(sandbox, env);
  await sandbox.write('greet.ts', toolSource('v0 '));
  await session.waitForListChanged(1);
  e2e[mode] = { sandbox, session };
}
try {
  for (let i = 1; i <= iterations; i++) {
    for (const mode of i % 2 ? ['on', 'off'] : ['off', 'on']) {
      const { sandbox, session } = e2e[mode];
      await pause(600);
      const start = performance.now();
      await sandbox.write('greet.ts', toolSource(`e${i} `));
      while (!(await callText(session.client, 'greet', { name: 'x' })).startsWith(`e${i} `)) {}
      e2eSamples[mode].push(performance.now() - start);
    }
  }
} finally {
  for (const { sandbox, session } of Object.values(e2e)) {
    await session.close();
    await sandbox.cleanup();
  }
}

// ---------------------------------------------------------------- report

const rows = [
  ['engine reload, edits 300 ms apart', engineSamples.spaced],
  ['engine reload, back-to-back edits', engineSamples.backToBack],
  ['edit → first call returning new code (example server, stdio, edits 600 ms apart)', e2eSamples],
].map(([name, { on, off }]) => ({ name, on: stats(on), off: stats(off) }));
const machine = `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, Node ${process.version}, ${process.platform}`;
const fmt = (v) => `${v.toFixed(1)} ms`;
const table = [
  `Machine: ${machine}; ${iterations} samples per cell; preflight on = default ({ timeoutMs: 2000 }).`,
  '',
  '| measure | preflight | p50 | p95 | max | p50 on − off | p50 on / off |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...rows.flatMap(({ name, on, off }) => [
    `| ${name} | on | ${fmt(on.p50)} | ${fmt(on.p95)} | ${fmt(on.max)} | ${fmt(on.p50 - off.p50)} | ${(on.p50 / off.p50).toFixed(2)}× |`,
    `| ${name} | off | ${fmt(off.p50)} | ${fmt(off.p95)} | ${fmt(off.max)} | | |`,
  ]),
].join('\n');
process.stdout.write(`${table}\n`);
await writeFile(
  new URL('./results/preflight.json', import.meta.url),
  `${JSON.stringify({ machine, iterations, date: new Date().toISOString(), rows }, null, 2)}\n`,
);
process.exit(0);
