// Benchmark: shipping a tool change to a fleet of 3 replicas of
// examples/http-sessions, 100 live SDK 1.x sessions on each, with a
// redis-server of its own (examples/fleet).
//
// 1. Publish: 20 batches (each edits the echo tool), a few hundred ms apart,
//    while every session keeps calling tools. Per batch: the time from
//    `publish()` to the new result served by every replica (a probe session
//    per replica calls until it sees it). Every call of every session must
//    succeed: requests lost and sessions dropped are counted.
// 2. Catch-up: one replica killed, 10 batches published, the replica
//    restarted: its first new session must already get the last batch.
// 3. Baseline, same run: a rolling restart of the same 3 replicas (each
//    stopped and started in turn, as a restart-based deploy does): sessions
//    dropped, and the time until every replica serves again.
//
//   pnpm bench:fleet                         (3 replicas, 100 sessions each, 20 batches)
//   SESSIONS=20 BATCHES=5 pnpm bench:fleet   (smaller)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { startFleet } from '../examples/fleet/dist/fleet.js';
import { connectV1 } from '../examples/http-sessions/dist/harness.js';

const SESSIONS = Number(process.env.SESSIONS ?? 100);
const BATCHES = Number(process.env.BATCHES ?? 20);
const MISSED = Number(process.env.MISSED ?? 10);
const PACE_MS = Number(process.env.PACE_MS ?? 300);
const log = (message) => process.stderr.write(`bench:fleet: ${message}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const origin = mkdtempSync(path.join(tmpdir(), 'hotmcp-bench-fleet-'));
const echo = (version) => `import { defineTool } from '@hotmcp/core';
import { z } from 'zod';

export default defineTool({
  name: 'echo',
  description: 'Echo the text back',
  inputSchema: z.object({ text: z.string() }),
  handler: async ({ text }) => ({ content: [{ type: 'text', text: \`${version}: \${text}\` }] }),
});
`;
function version(name) {
  writeFileSync(path.join(origin, 'echo.ts'), echo(name));
  return origin;
}

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const round = (value) => Math.round(value * 10) / 10;
const load = () => loadavg().map((value) => round(value));

const loadAtStart = load();
log(`3 replicas x ${SESSIONS} sessions, ${BATCHES} batches; load ${loadAtStart.join(' ')} on ${cpus().length} cores`);
// The example closes a session idle for its grace time with no GET stream open (a client that left); under heavy
// load a client's GET stream can fail to open (a connection reset), and a bench client calls only every few
// seconds: a long grace keeps that policy out of what is measured. Streams open are reported below.
const fleet = await startFleet({ initial: version('v0'), env: { HOTMCP_SESSION_GRACE_MS: '600000' } });
const { Redis } = await import('ioredis');
const redis = new Redis(fleet.redisUrl);

/** Open a session; a connection reset while opening (not a session yet) is retried and counted. */
let connectRetries = 0;
async function connect(url) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectV1(url);
    } catch (error) {
      if (attempt === 3) throw error;
      connectRetries++;
    }
  }
}

async function openSessions(replica, count) {
  const sessions = [];
  for (let i = 0; i < count; i += 25) {
    const slice = Math.min(25, count - i);
    sessions.push(...(await Promise.all(Array.from({ length: slice }, () => connect(replica.server.origin)))));
  }
  return sessions;
}

const perReplica = await Promise.all(fleet.replicas.map((replica) => openSessions(replica, SESSIONS)));
const opened = await Promise.all(fleet.replicas.map((replica) => replica.server.sessions()));
log(
  `${perReplica.flat().length} sessions open; GET streams open: ${opened.map((count) => count.v1Streaming).join(', ')}`,
);

// Background traffic: every session calls echo in turn, 12 at a time; a call that fails is a request lost.
let traffic = true;
let calls = 0;
let lost = 0;
const lostMessages = new Set();
const all = perReplica.flat();
let cursor = 0;
const workers = Array.from({ length: 12 }, async () => {
  while (traffic) {
    const session = all[cursor++ % all.length];
    try {
      const { text, isError } = await session.call('echo', { text: 'x' });
      if (isError || !/^v\d+: x$/.test(text)) throw new Error(text);
      calls++;
    } catch (error) {
      lost++;
      lostMessages.add(String(error.message ?? error).slice(0, 120));
    }
  }
});

/** Wait until a probe session of every replica gets `expected`; resolves with the time each did. */
async function servedEverywhere(probes, expected, t0) {
  return Promise.all(
    probes.map(async (probe) => {
      for (;;) {
        if ((await probe.callText('echo', { text: 'x' })) === expected) return performance.now() - t0;
      }
    }),
  );
}

// 1. Publish.
const probes = perReplica.map((sessions) => sessions[0]);
const latencies = [];
for (let batch = 1; batch <= BATCHES; batch++) {
  const t0 = performance.now();
  await fleet.publish(version(`v${batch}`), { redis });
  const times = await servedEverywhere(probes, `v${batch}: x`, t0);
  latencies.push(Math.max(...times));
  await sleep(PACE_MS);
}
const loadAfterPublish = load();
traffic = false;
await Promise.all(workers);
const counts = await Promise.all(fleet.replicas.map((replica) => replica.server.sessions()));
const stillThere = await Promise.all(
  all.map((session) =>
    session.callText('echo', { text: 'x' }).then(
      (text) => text === `v${BATCHES}: x`,
      () => false,
    ),
  ),
);
const publishResult = {
  batches: BATCHES,
  p50Ms: round(percentile(latencies, 50)),
  p99Ms: round(percentile(latencies, 99)),
  maxMs: round(Math.max(...latencies)),
  calls,
  requestsLost: lost,
  lostMessages: [...lostMessages],
  sessionsDropped: all.length - stillThere.filter(Boolean).length,
  sessionsAttached: counts.map((count) => count.v1),
  getStreamsAtStart: opened.map((count) => count.v1Streaming),
  getStreamsAtEnd: counts.map((count) => count.v1Streaming),
  load: loadAfterPublish,
};
log(`publish: ${JSON.stringify(publishResult)}`);

// 2. Catch-up: kill replica 3, publish MISSED batches, restart it; its first new session must see the last one.
const victim = fleet.replicas[2];
await victim.kill('SIGKILL');
for (const session of perReplica[2]) await session.close().catch(() => {});
let last = BATCHES;
for (let i = 0; i < MISSED; i++) {
  last++;
  await fleet.publish(version(`v${last}`), { redis });
  await sleep(PACE_MS);
}
const restartStarted = performance.now();
await victim.restart();
const first = await connectV1(victim.server.origin);
const firstAnswer = await first.callText('echo', { text: 'x' });
const catchUp = {
  missed: MISSED,
  firstAnswer,
  convergedBeforeFirstSession: firstAnswer === `v${last}: x`,
  restartToFirstAnswerMs: round(performance.now() - restartStarted),
};
await first.close();
log(`catch-up: ${JSON.stringify(catchUp)}`);
perReplica[2] = await openSessions(victim, SESSIONS);

// 3. Baseline: a rolling restart of the same 3 replicas.
const before = perReplica.flat();
const rollStarted = performance.now();
for (const replica of fleet.replicas) {
  await replica.restart();
  const fresh = await connectV1(replica.server.origin);
  await fresh.callText('echo', { text: 'x' });
  await fresh.close();
}
const rollMs = performance.now() - rollStarted;
const survived = await Promise.all(
  before.map((session) =>
    session.callText('echo', { text: 'x' }).then(
      () => true,
      () => false,
    ),
  ),
);
const rolling = {
  sessionsDropped: survived.filter((ok) => !ok).length,
  sessions: before.length,
  timeToAllServingMs: round(rollMs),
  load: load(),
};
log(`rolling restart: ${JSON.stringify(rolling)}`);

await Promise.all(all.map((session) => session.close().catch(() => {})));
redis.disconnect();
await fleet.stop();
rmSync(origin, { recursive: true, force: true });

const result = {
  date: new Date().toISOString(),
  node: process.version,
  cores: cpus().length,
  loadAtStart,
  replicas: 3,
  sessionsPerReplica: SESSIONS,
  connectRetries,
  publish: publishResult,
  catchUp,
  rollingRestart: rolling,
  ratio: {
    timeToAllServing: round(rolling.timeToAllServingMs / publishResult.p99Ms),
  },
};
await mkdir(new URL('./results/', import.meta.url), { recursive: true });
await writeFile(new URL('./results/fleet.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
process.exit(0);
