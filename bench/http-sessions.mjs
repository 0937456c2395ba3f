// Benchmark: one tool edit reaching many live HTTP sessions. The example server
// (examples/http-sessions) runs in its own process; the clients, real SDK
// Clients over real HTTP, in others. For each edit: the time from the file
// write to the tools list_changed at every client.
//
// Baseline, in the same run: the same server without a reloader
// (bench/plain-http-sessions.mjs), told by a POST to send list_changed to every
// session the plain SDK way. That is what it costs this machine to reach the
// same clients with no file, watcher or reload: the floor.
//
//   pnpm bench:sessions                       (SDK 1.x then SDK 2.x: baseline and hotmcp, 1,000 sessions, 5 changes each)
//   SESSIONS=200 EDITS=5 SDKS=v1 CLIENT_PROCESSES=4 pnpm bench:sessions   (clients are spread over CLIENT_PROCESSES, default 2)
//   SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' pnpm bench:sessions   (profile the servers)
import { fork } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { connectV1, connectV2, createSandbox, startServer } from '../examples/http-sessions/dist/harness.js';
import { waitUntil } from '../packages/core/dist/testing/index.js';

const self = fileURLToPath(import.meta.url);
/** A wall-clock timestamp in ms with sub-ms precision, comparable across processes on one machine. */
const now = () => performance.timeOrigin + performance.now();

/**
 * The clients' process: open `count` sessions, report readiness, then record
 * when each one receives a tools list_changed, and report those times per edit.
 */
async function runClients(sdk, origin, count) {
  const connect = sdk === 'v1' ? connectV1 : connectV2;
  /** First list_changed of this edit, per session; and how many came beyond one per session. */
  let arrivals = new Map();
  let extra = 0;
  const sessions = [];
  const concurrency = 25;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const index = next++;
        const onListChanged = () => {
          if (arrivals.has(index)) extra++;
          else arrivals.set(index, now());
        };
        sessions.push(await connect(origin, onListChanged));
      }
    }),
  );
  process.send({ type: 'ready', sessions: sessions.length });
  process.on('message', async (message) => {
    if (message.type === 'collect') {
      const deadline = Date.now() + message.timeoutMs;
      while (arrivals.size < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      await new Promise((resolve) => setTimeout(resolve, 200)); // a duplicate would come right after
      process.send({ type: 'arrivals', arrivals: [...arrivals.values()], extra });
      arrivals = new Map();
      extra = 0;
    } else if (message.type === 'close') {
      await Promise.all(sessions.map((session) => session.close().catch(() => {})));
      process.send({ type: 'closed' });
      process.exit(0);
    }
  });
}

/** CPU time a process has used so far, in ms (Linux: /proc/<pid>/schedstat); undefined elsewhere. */
async function cpuMs(pid) {
  try {
    return Number((await readFile(`/proc/${pid}/schedstat`, 'utf8')).split(' ')[0]) / 1e6;
  } catch {
    return undefined;
  }
}

/** CPU ms used by the server and by all client processes together since `before` (from {@link cpuSnapshot}). */
async function cpuSince(before, server, clients) {
  const after = await cpuSnapshot(server, clients);
  const round = (value) => (Number.isFinite(value) ? Math.round(value) : null);
  return { serverCpuMs: round(after.server - before.server), clientsCpuMs: round(after.clients - before.clients) };
}

async function cpuSnapshot(server, clients) {
  const each = await Promise.all(clients.map((child) => cpuMs(child.pid)));
  return { server: await cpuMs(server.process.pid), clients: each.reduce((sum, value) => sum + value, 0) };
}

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  const round = (value) => (value === undefined ? null : Math.round(value * 10) / 10);
  return {
    n: sorted.length,
    min: round(sorted[0]),
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    p99: round(at(0.99)),
    max: round(sorted.at(-1)),
  };
}

const toolSource = (version) => `import { defineTool } from '@hotmcp/core';
import { z } from 'zod';

export default defineTool({
  name: 'echo',
  description: ${JSON.stringify(`Echo the text back (edit ${version})`)},
  inputSchema: z.object({ text: z.string() }),
  handler: async ({ text }) => ({ content: [{ type: 'text', text: ${JSON.stringify(`v${version}: `)} + text }] }),
});
`;

function waitFor(child, type) {
  return new Promise((resolve, reject) => {
    const onMessage = (message) => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message);
    };
    const onExit = (code, signal) =>
      reject(new Error(`clients process exited with ${code ?? signal} before '${type}'`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

const plainEntry = fileURLToPath(new URL('./plain-http-sessions.mjs', import.meta.url));

/**
 * One SDK on one server: a fresh server process (`hotmcp`: the example;
 * `plain`: the baseline), `sessions` clients in others, `edits` changes (a
 * file write, or for the baseline a POST /notify).
 */
async function runPhase(kind, sdk, sessions, edits, clientProcesses) {
  const sandbox = await createSandbox();
  const server = await startServer(
    sandbox,
    { HOTMCP_SDKS: sdk, HOTMCP_MAX_SUBSCRIPTIONS: String(sessions + 100) },
    60_000,
    {
      nodeArgs: process.env.SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
      ...(kind === 'plain' ? { entry: plainEntry } : {}),
    },
  );
  const label = `${kind} ${sdk}`;
  const shares = Array.from(
    { length: clientProcesses },
    (_, index) => Math.floor(sessions / clientProcesses) + (index < sessions % clientProcesses ? 1 : 0),
  ).filter((share) => share > 0);
  const processes = shares.map((share) =>
    fork(self, ['--clients', sdk, server.origin, String(share)], {
      stdio: 'inherit',
      execArgv: [...process.execArgv, ...(process.env.CLIENT_NODE_ARGS?.split(' ').filter(Boolean) ?? [])],
    }),
  );
  try {
    const connectStart = now();
    await Promise.all(processes.map((child) => waitFor(child, 'ready')));
    await waitUntil(
      async () => {
        const counts = await server.sessions();
        return sdk === 'v1' ? counts.v1Streaming >= sessions : counts.v2 >= sessions;
      },
      { timeoutMs: 120_000, what: `${sessions} ${sdk} sessions listening` },
    );
    const connectMs = now() - connectStart;
    const counts = await server.sessions();
    process.stderr.write(
      `${label}: ${sessions} sessions listening after ${Math.round(connectMs)} ms (${JSON.stringify(counts)})\n`,
    );
    const rounds = [];
    for (let edit = 1; edit <= edits; edit++) {
      await new Promise((resolve) => setTimeout(resolve, 1000)); // let the previous round's traffic settle
      const collected = Promise.all(processes.map((child) => waitFor(child, 'arrivals')));
      collected.catch(() => {}); // awaited below; an early failure surfaces there
      const cpuBefore = await cpuSnapshot(server, processes);
      const start = now();
      if (kind === 'plain') await fetch(`${server.origin}/notify`, { method: 'POST' });
      else await writeFile(`${sandbox.toolsDir}/echo.ts`, toolSource(edit));
      for (const child of processes) child.send({ type: 'collect', timeoutMs: 30_000 });
      const reports = await collected;
      const arrivals = reports.flatMap((report) => report.arrivals);
      const extra = reports.reduce((sum, report) => sum + report.extra, 0);
      const latencies = arrivals.map((at) => at - start);
      const cpu = await cpuSince(cpuBefore, server, processes);
      const round = { edit, received: latencies.length, of: sessions, duplicates: extra, ...stats(latencies), ...cpu };
      process.stderr.write(`${label} edit ${edit}: ${JSON.stringify(round)}\n`);
      rounds.push({ round, latencies });
    }
    const all = rounds.flatMap(({ latencies }) => latencies);
    // The server's own time per batch (load, check, commit to every session), and from that commit
    // until the last session's list_changed was handed to its transport, from its audit log.
    const audit = (await readFile(sandbox.auditLog, 'utf8').catch(() => '')).split('\n');
    const durations = (event) =>
      audit
        .filter((line) => line.includes(`"${event}"`))
        .map((line) => Math.round(JSON.parse(line).durationMs * 10) / 10)
        .slice(-edits);
    const batchMs = durations('batch.applied');
    const notifyMs = durations('fanout.notified');
    if (kind === 'hotmcp') {
      process.stderr.write(
        `${label}: server batch ms ${JSON.stringify(batchMs)}, sends after commit ms ${JSON.stringify(notifyMs)}\n`,
      );
    }
    if (process.env.DEBUG_SERVER) process.stderr.write(server.stderr());
    for (const child of processes) child.send({ type: 'close' });
    await Promise.all(
      processes.map(async (child) => {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        await waitFor(child, 'closed').catch(() => {});
        if (child.exitCode === null) await exited;
      }),
    );
    return {
      server: kind,
      sdk,
      sessions,
      clientProcesses: processes.length,
      connectMs: Math.round(connectMs),
      ...(kind === 'hotmcp' ? { serverBatchMs: batchMs, serverNotifyMs: notifyMs } : {}),
      edits: rounds.map(({ round }) => round),
      overall: { ...stats(all), allReceived: rounds.every(({ round }) => round.received === sessions) },
    };
  } finally {
    for (const child of processes) if (child.exitCode === null) child.kill();
    await server.stop();
    await sandbox.cleanup();
  }
}

async function main() {
  const sessions = Number(process.env.SESSIONS ?? 1000);
  const edits = Number(process.env.EDITS ?? 5);
  const sdks = (process.env.SDKS ?? 'v1,v2').split(',');
  const clientProcesses = Number(process.env.CLIENT_PROCESSES ?? 2);
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`;
  const load = () => loadavg().map((value) => Math.round(value * 10) / 10);
  // A 1-minute load average above the core count means the timings include waiting for a CPU.
  const loadBefore = load();
  process.stderr.write(`Machine: ${machine}; load average ${loadBefore.join(', ')}\n`);
  const phases = [];
  for (const sdk of sdks) {
    phases.push(await runPhase('plain', sdk, sessions, edits, clientProcesses));
    phases.push(await runPhase('hotmcp', sdk, sessions, edits, clientProcesses));
  }

  const loadAfter = load();
  const targetP99Ms = 200;
  const endpoint = { v1: 'SDK 1.x, one McpServer per session', v2: 'SDK 2.x createMcpHandler, listen streams' };
  const cpu = (phase, key) =>
    Math.round(phase.edits.reduce((sum, round) => sum + (round[key] ?? 0), 0) / phase.edits.length);
  const rows = phases.map(
    (phase) =>
      `| ${endpoint[phase.sdk]} | ${phase.server === 'plain' ? 'plain SDK server, list_changed sent by hand (baseline)' : 'hotmcp example, file edited'} | ${phase.overall.n}/${phase.sessions * phase.edits.length} | ${phase.overall.p50} | ${phase.overall.p95} | ${phase.overall.p99} | ${phase.overall.max} | ${cpu(phase, 'serverCpuMs')} | ${cpu(phase, 'clientsCpuMs')} |`,
  );
  const table = [
    '| endpoint | server | list_changed received | p50 ms | p95 ms | p99 ms | max ms | server CPU ms per change | clients CPU ms per change |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
  const versus = sdks.map((sdk) => {
    const plain = phases.find((phase) => phase.sdk === sdk && phase.server === 'plain');
    const hot = phases.find((phase) => phase.sdk === sdk && phase.server === 'hotmcp');
    const ratio = (key) => Math.round((hot.overall[key] / plain.overall[key]) * 100) / 100;
    return {
      sdk,
      p50Ratio: ratio('p50'),
      p99Ratio: ratio('p99'),
      p99OverBaselineMs: Math.round(hot.overall.p99 - plain.overall.p99),
    };
  });
  process.stdout.write(
    `\nMachine: ${machine}; load average before ${loadBefore.join(', ')}, after ${loadAfter.join(', ')}; ${sessions} sessions, ${edits} changes each; change → tools list_changed at every client; servers and clients share the machine\n\n${table}\n\n`,
  );
  for (const row of versus) {
    process.stdout.write(
      `${endpoint[row.sdk]}: hotmcp / baseline p50 ${row.p50Ratio}×, p99 ${row.p99Ratio}× (p99 ${row.p99OverBaselineMs >= 0 ? '+' : ''}${row.p99OverBaselineMs} ms)\n`,
    );
  }
  const hotPhases = phases.filter((phase) => phase.server === 'hotmcp');
  const pass = hotPhases.every((phase) => phase.overall.allReceived && phase.overall.p99 <= targetP99Ms);
  process.stdout.write(`Target: every client gets it, p99 ≤ ${targetP99Ms} ms: ${pass ? 'met' : 'NOT met'}\n`);
  const out = fileURLToPath(new URL('./results/http-sessions.json', import.meta.url));
  await mkdir(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
  await writeFile(
    out,
    `${JSON.stringify(
      {
        machine,
        loadAverage: { before: loadBefore, after: loadAfter },
        date: new Date().toISOString(),
        sessions,
        edits,
        targetP99Ms,
        pass,
        versus,
        phases,
      },
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`Results: ${out}\n`);
}

if (process.argv[2] === '--clients') await runClients(process.argv[3], process.argv[4], Number(process.argv[5]));
else await main();
