// Benchmark: how long a real stdio client waits for an edit to take effect,
// against what a restart-based reloader pays (kill + cold start + initialize)
// for the same server, measured in the same run.
//
//   pnpm bench            (20 iterations; ITERATIONS=50 pnpm bench for more)
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
// The example's own stdio harness (temp copy of its tools, real SDK Client).
import { callText, connect, createSandbox } from '../examples/sdk-v1-server/dist/harness.js';

const iterations = Number(process.env.ITERATIONS ?? 20);
// Edits are spaced as a person's or an agent's are (they read the result before the
// next edit): 600 ms, past @parcel/watcher's own 500 ms quiet threshold (closer
// events wait for its 50 ms window) and the coalescer's 100 ms settle window.
// Back-to-back edits are measured separately below.
const gapMs = Number(process.env.GAP_MS ?? 600);
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// Each edit changes the description too: only a change clients can see sends a list_changed.
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

const sandbox = await createSandbox();
const editToListChanged = [];
const editToNewResult = [];
const backToBack = [];
const coldRestart = [];
const plainRestart = [];
try {
  const session = await connect(sandbox);
  await sandbox.write('greet.ts', toolSource('v0 '));
  await session.waitForListChanged(1);
  for (let i = 1; i <= iterations; i++) {
    // edit → list_changed
    await pause(gapMs);
    const seen = session.listChanged();
    let start = performance.now();
    await sandbox.write('greet.ts', toolSource(`a${i} `));
    await session.waitForListChanged(seen + 1);
    editToListChanged.push(performance.now() - start);
    // edit → first call that returns the new code (the client keeps calling)
    await pause(gapMs);
    start = performance.now();
    await sandbox.write('greet.ts', toolSource(`b${i} `));
    while (!(await callText(session.client, 'greet', { name: 'x' })).startsWith(`b${i} `)) {}
    editToNewResult.push(performance.now() - start);
    await session.waitForListChanged(seen + 2);
  }
  // Back-to-back: the next edit is written as soon as the previous list_changed arrives.
  await pause(gapMs);
  for (let i = 1; i <= iterations; i++) {
    const seen = session.listChanged();
    const start = performance.now();
    await sandbox.write('greet.ts', toolSource(`c${i} `));
    await session.waitForListChanged(seen + 1);
    backToBack.push(performance.now() - start);
  }
  await session.close();

  // Baseline: a restart reloader kills the server and pays a cold start and
  // a new handshake before the first call can return the new code.
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    const cold = await connect(sandbox);
    await callText(cold.client, 'greet', { name: 'x' });
    coldRestart.push(performance.now() - start);
    await cold.close();
  }
  // The floor of any restart: the same SDK with no reloader and one static tool.
  const plainServer = fileURLToPath(new URL('./plain-server.mjs', import.meta.url));
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    const client = new Client({ name: 'bench', version: '0' });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [plainServer] }));
    await callText(client, 'greet', { name: 'x' });
    plainRestart.push(performance.now() - start);
    await client.close();
  }
} finally {
  await sandbox.cleanup();
}

const rows = {
  'edit → list_changed': stats(editToListChanged),
  'edit → first call returning new code': stats(editToNewResult),
  'edit → list_changed, back-to-back edits (coalesced as a burst)': stats(backToBack),
  'restart of this server: cold start + initialize + first call': stats(coldRestart),
  'restart of a plain SDK server (no reloader, one tool)': stats(plainRestart),
};
const hot = rows['edit → first call returning new code'].p50;
const ratio = rows['restart of this server: cold start + initialize + first call'].p50 / hot;
const plainRatio = rows['restart of a plain SDK server (no reloader, one tool)'].p50 / hot;
const machine = `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, Node ${process.version}, ${process.platform}`;
const fmt = (v) => `${v.toFixed(1)} ms`;
const table = [
  `Machine: ${machine}; ${iterations} iterations; default settings (native file events where they load, runner loader); edits ${gapMs} ms apart.`,
  '',
  '| measure | p50 | p95 | max |',
  '| --- | --- | --- | --- |',
  ...Object.entries(rows).map(([name, s]) => `| ${name} | ${fmt(s.p50)} | ${fmt(s.p95)} | ${fmt(s.max)} |`),
  '',
  `Edit → new result (p50) is ${ratio.toFixed(1)}× faster than restarting this server, and ${plainRatio.toFixed(1)}× faster than restarting a plain SDK server.`,
].join('\n');
process.stdout.write(`${table}\n`);
await writeFile(
  new URL('./results/reload-latency.json', import.meta.url),
  `${JSON.stringify({ machine, iterations, date: new Date().toISOString(), rows, ratio, plainRatio }, null, 2)}\n`,
);
