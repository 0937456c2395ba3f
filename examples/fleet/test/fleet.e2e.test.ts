/**
 * Three replicas of examples/http-sessions (separate processes), a real
 * redis-server and live SDK clients on every replica: publish an edit, a
 * broken file, kill and restart a replica, restart Redis — no session dropped.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { waitUntil } from '@hotmcp/core/testing';
import { type ClientSession, connectV1 } from '@hotmcp/example-http-sessions/dist/harness.js';
import { fleetStatus } from '@hotmcp/source-redis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Fleet, startFleet } from '../src/fleet.js';

const echo = (prefix: string, description = 'Echo the text back') => `import { defineTool } from '@hotmcp/core';
import { z } from 'zod';

export default defineTool({
  name: 'echo',
  description: ${JSON.stringify(description)},
  inputSchema: z.object({ text: z.string() }),
  handler: async ({ text }) => ({ content: [{ type: 'text', text: \`${prefix}: \${text}\` }] }),
});
`;
const shout = `import { defineTool } from '@hotmcp/core';
export default defineTool({ name: 'shout', description: 'Shout', handler: async () => ({ content: [{ type: 'text', text: 'HEY' }] }) });
`;

let fleet: Fleet;
let work: string;
/** Live clients: two per replica, opened at the start, never reconnected. */
const clients: Array<{ replica: number; session: ClientSession }> = [];

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(work, 'publish-'));
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  return dir;
}

const onReplica = (index: number) => clients.filter((client) => client.replica === index);

/** What `hotmcp_status`, called by an SDK client, says of its replica's place in the stream. */
async function sourceStatus(session: ClientSession): Promise<{ behind: boolean; reason?: string; details?: object }> {
  return JSON.parse(await session.callText('hotmcp_status')).source;
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'hotmcp-fleet-e2e-'));
  fleet = await startFleet({ initial: folder({ 'echo.ts': echo('v1') }) });
  for (const [index, replica] of fleet.replicas.entries()) {
    for (let i = 0; i < 2; i++) clients.push({ replica: index, session: await connectV1(replica.server.origin) });
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map(({ session }) => session.close().catch(() => {})));
  await fleet?.stop();
  rmSync(work, { recursive: true, force: true });
});

it('every client of every replica sees a published edit, with one list_changed', async () => {
  for (const { session } of clients) expect(await session.callText('echo', { text: 'x' })).toBe('v1: x');
  const result = await fleet.publish(folder({ 'echo.ts': echo('v2', 'Echo, second edition') }), { wait: 20_000 });
  expect(result.pending).toEqual([]);
  expect(result.replicas?.map((replica) => [replica.name, replica.id, replica.outcome])).toEqual(
    fleet.replicas.map((replica) => [replica.name, result.id, 'applied']),
  );
  for (const { session } of clients) {
    await session.waitForListChanged(1);
    expect(await session.callText('echo', { text: 'x' })).toBe('v2: x');
    expect(session.listChanged()).toBe(1);
  }
});

it('a broken file fails the same way on every replica, which all keep the last good version', async () => {
  const result = await fleet.publish(folder({ 'echo.ts': 'export default defineTool({' }), { wait: 20_000 });
  const reports = result.replicas ?? [];
  expect(reports.map((replica) => replica.outcome)).toEqual(['failed', 'failed', 'failed']);
  const errors = reports.map((replica) =>
    replica.errors.map(({ module, code, message }) => ({ module, code, message })),
  );
  expect(errors[0]).toMatchObject([{ module: 'echo.ts', code: 'HOTMCP_ERR_SYNTAX' }]);
  expect(errors[1]).toEqual(errors[0]);
  expect(errors[2]).toEqual(errors[0]);
  for (const { session } of clients) expect(await session.callText('echo', { text: 'x' })).toBe('v2: x');
});

it('a replica killed while two batches are published catches up before it serves a new session', async () => {
  const victim = fleet.replicas[2];
  if (!victim) throw new Error('no third replica');
  await victim.kill('SIGKILL');
  for (const { session } of onReplica(2)) await session.close().catch(() => {});
  clients.splice(0, clients.length, ...clients.filter((client) => client.replica !== 2));

  await fleet.publish(folder({ 'echo.ts': echo('v3', 'Echo, third edition') }));
  const last = await fleet.publish(folder({ 'echo.ts': echo('v3', 'Echo, third edition'), 'shout.ts': shout }));
  for (const { session } of clients) {
    await waitUntil(async () => (await session.callText('echo', { text: 'x' })) === 'v3: x', {
      timeoutMs: 15_000,
      what: 'v3 on a live replica',
    });
    await waitUntil(async () => (await session.listTools()).includes('shout'), {
      timeoutMs: 15_000,
      what: 'shout on a live replica',
    });
  }

  await victim.restart();
  // Its first session, opened as soon as it listens, already has both batches.
  const fresh = await connectV1(victim.server.origin);
  clients.push({ replica: 2, session: fresh });
  expect(await fresh.callText('echo', { text: 'x' })).toBe('v3: x');
  expect(await fresh.listTools()).toContain('shout');
  const status = await fleetStatus({ redis: fleet.redisUrl, stream: fleet.stream });
  const restarted = status.replicas.find((replica) => replica.name === victim.name);
  expect(restarted).toMatchObject({ id: last.id, behind: false, live: true, outcome: 'applied' });
});

it('replicas reconnect after Redis restarts and apply what was published after it', async () => {
  const redis = fleet.redis;
  if (!redis) throw new Error('the fleet runs its own redis-server');
  const [first] = clients;
  if (!first) throw new Error('no client');
  const name = fleet.replicas[first.replica]?.name;
  expect(await sourceStatus(first.session)).toMatchObject({ behind: false, details: { replica: name } });
  await redis.restart(async () => {
    // Cut off, a replica cannot know what is published: it says so to its clients.
    await waitUntil(async () => (await sourceStatus(first.session)).behind, {
      timeoutMs: 15_000,
      what: 'hotmcp_status saying the replica is behind while Redis is down',
    });
    expect((await sourceStatus(first.session)).reason).toMatch(/^Redis unreachable since /);
  });
  // `publish --wait` waits for the replicas it sees live: let each one's heartbeat reach the new Redis first
  // (on a loaded machine a replica's reconnect can take longer than its liveness window).
  await waitUntil(
    async () =>
      (await fleetStatus({ redis: fleet.redisUrl, stream: fleet.stream })).replicas.filter((replica) => replica.live)
        .length === fleet.replicas.length,
    { timeoutMs: 20_000, what: 'every replica live again after the Redis restart' },
  );
  const result = await fleet.publish(folder({ 'echo.ts': echo('v4', 'Echo, fourth edition'), 'shout.ts': shout }), {
    wait: 20_000,
  });
  expect(result.pending).toEqual([]);
  expect(result.replicas?.map((replica) => [replica.id, replica.outcome])).toEqual(
    fleet.replicas.map(() => [result.id, 'applied']),
  );
  for (const { session } of clients) {
    expect(await session.callText('echo', { text: 'x' })).toBe('v4: x');
    expect(await sourceStatus(session)).toMatchObject({ behind: false, details: { lastApplied: result.id } });
  }
});

it('no session was dropped: every client still talks on the session it opened', async () => {
  for (const [index, replica] of fleet.replicas.entries()) {
    const counts = await replica.server.sessions();
    expect(counts.v1).toBe(onReplica(index).length);
  }
  for (const { session } of clients) {
    expect(await session.listTools()).toEqual(['server_info', 'hotmcp_status', 'hotmcp_reload', 'echo', 'shout']);
  }
});
