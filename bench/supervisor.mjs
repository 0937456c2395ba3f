// pnpm bench:supervisor — what the hotmcp dev supervisor costs.
//
// 1. Overhead per message: tools/call round trips to the same server, direct
//    and through the supervisor, interleaved in rounds, same run.
// 2. Restart path: an .env edit → the first call answered by the restarted
//    server with the new value, against a cold start of the same server
//    (spawn → connect → first answered call), same run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const server = fileURLToPath(new URL('./restart-server.mjs', import.meta.url));
const supervise = fileURLToPath(new URL('./supervise.mjs', import.meta.url));
const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const calls = arg('calls', 2000);
const restarts = arg('restarts', 10);
const cwd = mkdtempSync(join(tmpdir(), 'hotmcp-bench-supervisor-'));
const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const text = (result) => result.content[0].text;

async function connect(supervised) {
  const args = supervised ? [supervise, '--', process.execPath, server] : [server];
  const transport = new StdioClientTransport({ command: process.execPath, args, cwd, stderr: 'ignore' });
  const client = new Client({ name: 'bench', version: '0' });
  await client.connect(transport);
  return client;
}

async function roundTrips(client, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await client.callTool({ name: 'ping', arguments: {} });
    times.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  return times;
}

try {
  // 1. Overhead per message.
  const direct = await connect(false);
  const through = await connect(true);
  await roundTrips(direct, 200);
  await roundTrips(through, 200);
  const d = [];
  const s = [];
  for (let round = 0; round < 10; round++) {
    d.push(...(await roundTrips(direct, calls / 10)));
    s.push(...(await roundTrips(through, calls / 10)));
  }
  await direct.close();
  await through.close();
  const overhead = quantile(s, 0.5) - quantile(d, 0.5);

  // 2. Restart path against cold starts.
  const cold = [];
  const restart = [];
  const supervised = await connect(true);
  for (let i = 0; i < restarts; i++) {
    let t = performance.now();
    const client = await connect(false);
    await client.callTool({ name: 'ping', arguments: {} });
    cold.push(performance.now() - t);
    await client.close();

    const value = `v${i}`;
    t = performance.now();
    writeFileSync(join(cwd, '.env'), `VALUE=${value}\n`);
    for (;;) {
      const answer = await supervised.callTool({ name: 'value', arguments: {} }).catch(() => undefined);
      if (answer && text(answer) === value) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    restart.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 300));
  }
  await supervised.close();

  const f = (x) => x.toFixed(1);
  console.log(
    `tools/call round trip, ${calls} calls each (µs): direct p50 ${f(quantile(d, 0.5))} p95 ${f(quantile(d, 0.95))}; through the supervisor p50 ${f(quantile(s, 0.5))} p95 ${f(quantile(s, 0.95))}; overhead p50 ${f(overhead)} µs`,
  );
  console.log(
    `restart path, ${restarts} .env edits (ms): edit → new value p50 ${f(quantile(restart, 0.5))} max ${f(Math.max(...restart))}; cold start → first call p50 ${f(quantile(cold, 0.5))}; ratio ${(quantile(restart, 0.5) / quantile(cold, 0.5)).toFixed(2)}×`,
  );
} finally {
  rmSync(cwd, { recursive: true, force: true });
}
