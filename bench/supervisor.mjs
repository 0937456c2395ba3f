// pnpm bench:supervisor — what the hotmcp dev supervisor costs.
//
// 1. Overhead per message: tools/call round trips to the same server, direct,
//    through the supervisor, and through a bare Node pipe relay (the floor for
//    any relay built on Node's streams), interleaved in rounds, same run; and
//    the same with a 200 KB answer.
//    And `hotmcp dev` over the same server: behind its supervisor in direct
//    mode (the default: the server process serves the client's stdio itself),
//    in relay mode, and with --no-supervisor (same runtime, no supervisor).
// 2. Restart path: an .env edit → the first call answered by the restarted
//    server with the new value, against a cold start of the same server
//    (spawn → connect → first answered call), same run; every call made
//    meanwhile is counted as answered, errored or lost (no answer in 10 s);
//    through the supervisor relaying, and in direct mode.
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const server = fileURLToPath(new URL('./restart-server.mjs', import.meta.url));
const supervise = fileURLToPath(new URL('./supervise.mjs', import.meta.url));
const relay = fileURLToPath(new URL('./pipe-relay.mjs', import.meta.url));
const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const calls = arg('calls', 2000);
const bigCalls = arg('big-calls', 100);
const restarts = arg('restarts', 10);
const cwd = mkdtempSync(join(tmpdir(), 'hotmcp-bench-supervisor-'));
// hotmcp dev watches the entry's project: a project of its own, with the bench's packages.
writeFileSync(join(cwd, 'package.json'), '{ "type": "module" }\n');
symlinkSync(fileURLToPath(new URL('./node_modules', import.meta.url)), join(cwd, 'node_modules'), 'dir');
copyFileSync(server, join(cwd, 'server.mjs'));
const hotmcp = join(dirname(createRequire(import.meta.url).resolve('@hotmcp/cli')), 'bin.cjs');
const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const text = (result) => result.content[0].text;

async function connect(through, onStderr) {
  const args = {
    direct: [server],
    supervisor: [supervise, '--', process.execPath, server],
    'supervisor-direct': [supervise, '--direct', '--', process.execPath, server],
    relay: [relay, '--', process.execPath, server],
    dev: [hotmcp, 'dev', '--no-audit', 'server.mjs'],
    'dev-relay': [hotmcp, 'dev', '--no-audit', 'server.mjs'],
    'dev-bare': [hotmcp, 'dev', '--no-audit', '--no-supervisor', 'server.mjs'],
  }[through];
  const transport = new StdioClientTransport({
    command: process.execPath,
    args,
    cwd,
    env: { ...process.env, HOTMCP_SUPERVISOR_MODE: through === 'dev-relay' ? 'relay' : 'direct' },
    stderr: onStderr ? 'pipe' : 'ignore',
  });
  if (onStderr) transport.stderr?.on('data', (chunk) => onStderr(chunk.toString()));
  const client = new Client({ name: 'bench', version: '0' });
  await client.connect(transport);
  return client;
}

async function roundTrips(client, n, tool) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await client.callTool({ name: tool, arguments: {} });
    times.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  return times;
}

async function compare(tool, n, kinds = ['direct', 'supervisor', 'relay']) {
  const clients = await Promise.all(kinds.map((kind) => connect(kind)));
  for (const client of clients) await roundTrips(client, Math.min(200, n), tool);
  const times = kinds.map(() => []);
  for (let round = 0; round < 10; round++) {
    for (const [i, client] of clients.entries()) times[i].push(...(await roundTrips(client, n / 10, tool)));
  }
  for (const client of clients) await client.close();
  return Object.fromEntries(kinds.map((kind, i) => [kind, times[i]]));
}

try {
  // 1. Overhead per message.
  const small = await compare('ping', calls);
  const big = await compare('big', bigCalls);
  const devKinds = ['dev-bare', 'dev', 'dev-relay'];
  const devSmall = await compare('ping', calls, devKinds);
  const devBig = await compare('big', bigCalls, devKinds);

  // 2. Restart path against cold starts, through the supervisor relaying and in direct mode.
  const restartRuns = [];
  for (const through of ['supervisor', 'supervisor-direct']) restartRuns.push([through, await restartPath(through)]);
  print(small, big, devSmall, devBig, restartRuns);
} finally {
  rmSync(cwd, { recursive: true, force: true });
}

async function restartPath(through) {
  const cold = [];
  const restart = [];
  // When the supervisor said it restarts (and started the new process): its own share of the restart path.
  const decided = [];
  let decidedAt = 0;
  let editAt = 0;
  const count = { calls: 0, answered: 0, errored: 0, lost: 0, restarts: 0 };
  const supervised = await connect(through, (chunk) => {
    const said = chunk.split('restarting the server:').length - 1;
    if (said > 0 && decidedAt < editAt) decidedAt = performance.now();
    count.restarts += said;
  });
  for (let i = 0; i < restarts; i++) {
    let t = performance.now();
    const client = await connect('direct');
    await client.callTool({ name: 'ping', arguments: {} });
    cold.push(performance.now() - t);
    await client.close();

    const value = `${through}-v${i}`;
    t = performance.now();
    editAt = t;
    writeFileSync(join(cwd, '.env'), `VALUE=${value}\n`);
    for (;;) {
      count.calls++;
      const answer = await supervised.callTool({ name: 'value', arguments: {} }, undefined, { timeout: 10_000 }).then(
        (result) => {
          count.answered++;
          return result;
        },
        (error) => {
          if (/timed out/i.test(String(error?.message))) count.lost++;
          else count.errored++;
          return undefined;
        },
      );
      if (answer && text(answer) === value) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    restart.push(performance.now() - t);
    decided.push(decidedAt - t);
    await new Promise((r) => setTimeout(r, 300));
  }
  await supervised.close();
  return { cold, restart, decided, count };
}

function print(small, big, devSmall, devBig, restartRuns) {
  const f = (x) => x.toFixed(1);
  const rows = (label, times, unit, names) => {
    const [baseKind] = Object.keys(names);
    const base = quantile(times[baseKind], 0.5);
    console.log(`${label}:`);
    for (const [kind, name] of Object.entries(names)) {
      const p50 = quantile(times[kind], 0.5);
      const over = kind === baseKind ? '' : `; overhead p50 ${f((p50 - base) / unit)}`;
      console.log(`  ${name.padEnd(40)} p50 ${f(p50 / unit)} p95 ${f(quantile(times[kind], 0.95) / unit)}${over}`);
    }
  };
  const plain = { direct: 'direct', supervisor: 'through the supervisor', relay: 'bare Node pipe relay' };
  const dev = {
    'dev-bare': 'hotmcp dev --no-supervisor',
    dev: 'hotmcp dev (supervisor, direct mode)',
    'dev-relay': 'hotmcp dev (supervisor, relay mode)',
  };
  rows(`tools/call round trip, ${calls} calls each (µs)`, small, 1, plain);
  rows(`tools/call with a 200 KB answer, ${bigCalls} calls each (ms)`, big, 1000, plain);
  rows(`hotmcp dev: tools/call round trip, ${calls} calls each (µs)`, devSmall, 1, dev);
  rows(`hotmcp dev: tools/call with a 200 KB answer, ${bigCalls} calls each (ms)`, devBig, 1000, dev);
  for (const [through, { cold, restart, decided, count }] of restartRuns) {
    const mode = through === 'supervisor' ? 'relay mode' : 'direct mode';
    console.log(
      `restart path (${mode}), ${restarts} .env edits (ms): edit → new value p50 ${f(quantile(restart, 0.5))} max ${f(Math.max(...restart))}; cold start → first call p50 ${f(quantile(cold, 0.5))}; ratio ${(quantile(restart, 0.5) / quantile(cold, 0.5)).toFixed(2)}×; edit → new process started p50 ${f(quantile(decided, 0.5))}`,
    );
    console.log(
      `  calls during the restarts: ${count.calls} made, ${count.answered} answered, ${count.errored} errored, ${count.lost} lost; ${count.restarts} restarts for ${restarts} edits`,
    );
  }
}
