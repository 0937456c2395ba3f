/**
 * The Redis change source, publish and fleet status against a real
 * redis-server (127.0.0.1, a free port, a temp folder), on real folders.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ChangeBatch, createReloader, isHotMcpError } from '@hotmcp/core';
import { FakeRegistryAdapter, MemoryAuditSink } from '@hotmcp/core/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runFleetCli } from './fleet-cli.js';
import { fleetKeys, sha256 } from './fleet-protocol.js';
import { fleetStatus } from './fleet-status.js';
import { publish } from './publish.js';
import { createRedisChangeSource, type RedisChangeSource } from './redis-change-source.js';
import { type RedisServer, startRedisServer } from './testing/redis-server.js';

const packageDir = path.resolve(fileURLToPath(import.meta.url), '../..');
let redis: RedisServer;
let client: Redis;
let dir: string;
let stream: string;
let streams = 0;
const sources: RedisChangeSource[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  client = new Redis(redis.url);
});
afterAll(async () => {
  client.disconnect();
  await redis.stop();
});
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'hotmcp-fleet-test-'));
  symlinkSync(path.join(packageDir, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  stream = `test:fleet:${++streams}`;
});
afterEach(async () => {
  await Promise.all(sources.splice(0).map((source) => source.stop()));
  rmSync(dir, { recursive: true, force: true });
});

/** A folder to publish from, with these files. */
function origin(files: Record<string, string>): string {
  const folder = path.join(dir, 'origin');
  rmSync(folder, { recursive: true, force: true });
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(folder, file)), { recursive: true });
    writeFileSync(path.join(folder, file), content);
  }
  return folder;
}

function replicaRoot(name: string): string {
  const root = path.join(dir, name);
  mkdirSync(root, { recursive: true });
  return root;
}

async function startSource(root: string, name = 'r1', audit?: MemoryAuditSink) {
  const source = createRedisChangeSource({
    root,
    redis: redis.url,
    stream,
    replica: name,
    ...(audit && { audit }),
  });
  sources.push(source);
  const batches: ChangeBatch[] = [];
  const errors: Error[] = [];
  const baseline = await source.start(
    (batch) => batches.push(batch),
    (error) => errors.push(error),
  );
  return { source, batches, errors, baseline };
}

const tool = (text: string) =>
  `import { defineTool } from '@hotmcp/core';\nexport default defineTool({ name: 'greet', description: 'd', handler: async () => ({ content: [{ type: 'text', text: ${JSON.stringify(text)} }] }) });\n`;

describe('publish', () => {
  it('sends only the files that differ from the snapshot, and nothing when the folder matches it', async () => {
    const first = await publish({ dir: origin({ 'a.ts': 'a1', 'b.ts': 'b1' }), redis: client, stream });
    expect(first.written).toEqual(['a.ts', 'b.ts']);
    const second = await publish({
      dir: origin({ 'a.ts': 'a2', 'b.ts': 'b1', 'c/d.ts': 'd1' }),
      redis: client,
      stream,
    });
    expect(second.written).toEqual(['a.ts', 'c/d.ts']);
    expect(second.deleted).toEqual([]);
    const third = await publish({ dir: origin({ 'a.ts': 'a2', 'c/d.ts': 'd1' }), redis: client, stream });
    expect(third.deleted).toEqual(['b.ts']);
    const again = await publish({ dir: origin({ 'a.ts': 'a2', 'c/d.ts': 'd1' }), redis: client, stream });
    expect(again.id).toBeUndefined();
    const keys = fleetKeys(stream);
    expect(await client.xlen(stream)).toBe(3);
    expect(await client.get(keys.head)).toBe(third.id);
    expect(await client.hgetall(keys.hashes)).toEqual({ 'a.ts': sha256('a2'), 'c/d.ts': sha256('d1') });
    const entries = await client.xrange(stream, '-', '+');
    expect(entries.map(([, fields]) => fields[1])).toEqual(['0-0', first.id, second.id]);
  });
});

describe('the fleet CLI', () => {
  it('names the Redis it could not reach, and exits 1', async () => {
    const lines: string[] = [];
    const output = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(line) };
    const code = await runFleetCli(['fleet', 'status', '--redis', 'redis://127.0.0.1:1'], output);
    expect(code).toBe(1);
    expect(lines).toEqual([
      expect.stringMatching(/^hotmcp: cannot reach Redis at redis:\/\/127\.0\.0\.1:1: connect ECONNREFUSED/),
    ]);
  });

  it('exits 2 with its usage on a bad option, naming its own program', async () => {
    const lines: string[] = [];
    const output = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(line) };
    const names = { program: 'hotmcp-fleet', status: 'status' };
    expect(await runFleetCli(['publish', 'tools', '--bogus'], output, names)).toBe(2);
    expect(lines.join('\n')).toMatch(
      /^hotmcp-fleet: Unknown option '--bogus'[\s\S]*\n {2}hotmcp-fleet status \[--redis/,
    );
  });
});

describe('RedisChangeSource', () => {
  it('applies what it missed before start resolves, then each new entry as one batch, in order', async () => {
    await publish({ dir: origin({ 'a.ts': 'a1' }), redis: client, stream });
    await publish({ dir: origin({ 'a.ts': 'a2', 'b.ts': 'b1' }), redis: client, stream });
    const root = replicaRoot('r1');
    const { source, batches, baseline } = await startSource(root);
    expect(baseline).toEqual([path.join(root, 'a.ts'), path.join(root, 'b.ts')]);
    expect(readFileSync(path.join(root, 'a.ts'), 'utf8')).toBe('a2');
    expect(batches).toEqual([]);

    const edit = await publish({ dir: origin({ 'a.ts': 'a3', 'c.ts': 'c1' }), redis: client, stream });
    await expect.poll(() => source.lastId).toBe(edit.id);
    // With the publisher's compilations of the modules written, for the loader to run.
    const compiled = (text: string) =>
      expect.objectContaining({ code: expect.stringContaining(text), compiler: expect.any(String) });
    expect(batches).toEqual([
      {
        added: [path.join(root, 'c.ts')],
        changed: [path.join(root, 'a.ts')],
        removed: [path.join(root, 'b.ts')],
        compiled: { [path.join(root, 'a.ts')]: compiled('a3'), [path.join(root, 'c.ts')]: compiled('c1') },
      },
    ]);
    expect(readFileSync(path.join(root, 'a.ts'), 'utf8')).toBe('a3');
    const saved = JSON.parse(readFileSync(path.join(root, '.hotmcp-fleet.json'), 'utf8'));
    expect(saved.id).toBe(edit.id);
    const listing = source.rescan();
    expect([...listing.files.keys()].sort()).toEqual([path.join(root, 'a.ts'), path.join(root, 'c.ts')]);
    expect(source.stamp(path.join(root, 'a.ts'))).toBe(listing.files.get(path.join(root, 'a.ts')));
    expect(source.stamp(path.join(root, 'b.ts'))).toBe('');
  });

  it('refuses an entry with a path out of the root, writes nothing of it, audits it and goes on', async () => {
    const root = replicaRoot('r1');
    const audit = new MemoryAuditSink();
    const { source, errors, batches } = await startSource(root, 'r1', audit);
    const files = [
      { path: 'ok.ts', hash: sha256('x'), content: 'x' },
      { path: '../escaped.ts', hash: sha256('y'), content: 'y' },
    ];
    const bad = await client.xadd(stream, '*', 'prev', '0-0', 'files', JSON.stringify(files));
    await expect.poll(() => source.lastId).toBe(bad);
    expect(errors.map((error) => isHotMcpError(error) && error.code)).toEqual(['HOTMCP_ERR_OUTSIDE_ROOT']);
    expect(audit.events.map((event) => event.event)).toContain('fleet.entry_refused');
    expect(() => readFileSync(path.join(dir, 'escaped.ts'))).toThrow();
    expect(() => readFileSync(path.join(root, 'ok.ts'))).toThrow();
    const report = (await fleetStatus({ redis: client, stream })).replicas[0];
    expect(report).toMatchObject({
      name: 'r1',
      id: bad,
      outcome: 'refused',
      errors: [{ code: 'HOTMCP_ERR_OUTSIDE_ROOT' }],
    });
    const lines: string[] = [];
    const code = await runFleetCli(['fleet', 'status', '--redis', redis.url, '--stream', stream], {
      out: (line) => lines.push(line),
      err: (line) => lines.push(line),
    });
    expect(code).toBe(0);
    expect(lines[1]).toBe(`  r1 ${bad} refused (live, current, serving)`);
    expect(lines[2]).toMatch(/^\s+HOTMCP_ERR_OUTSIDE_ROOT: fleet entry path "\.\.\/escaped\.ts" refused/);

    const next = await client.xadd(stream, '*', 'prev', bad as string, 'files', JSON.stringify([files[0]]));
    await expect.poll(() => source.lastId).toBe(next);
    expect(batches).toEqual([{ added: [path.join(root, 'ok.ts')], changed: [], removed: [] }]);
  });

  it('retries an entry this replica cannot write, rather than skip it', async () => {
    const root = replicaRoot('r1');
    writeFileSync(path.join(root, 'sub'), 'a file where the entry wants a folder');
    const { source, errors, batches } = await startSource(root);
    const entry = await publish({ dir: origin({ 'sub/x.ts': 'x' }), redis: client, stream });
    await expect.poll(() => errors.length).toBeGreaterThan(0);
    expect(source.lastId).toBe('0-0');
    expect((await fleetStatus({ redis: client, stream })).replicas[0]).toMatchObject({
      outcome: 'failed',
      behind: true,
    });
    // What hotmcp_status shows of it: the entry seen, not applied.
    expect(source.status()).toMatchObject({
      behind: true,
      reason: `entries up to ${entry.id} are not applied yet (last applied 0-0)`,
      details: { lastApplied: '0-0', newestSeen: entry.id },
    });
    rmSync(path.join(root, 'sub'));
    await expect.poll(() => source.lastId, { timeout: 10_000 }).toBe(entry.id);
    expect(source.status()).toMatchObject({ behind: false, details: { lastApplied: entry.id } });
    expect(batches).toEqual([
      expect.objectContaining({ added: [path.join(root, 'sub/x.ts')], changed: [], removed: [] }),
    ]);
  });

  it('is shown behind the stream, by how many entries, while it is down, and current once it caught up', async () => {
    const root = replicaRoot('r1');
    await publish({ dir: origin({ 'a.ts': 'a1' }), redis: client, stream });
    const first = await startSource(root);
    await first.source.stop();
    await publish({ dir: origin({ 'a.ts': 'a2' }), redis: client, stream });
    const last = await publish({ dir: origin({ 'a.ts': 'a3' }), redis: client, stream });
    await client.xtrim(stream, 'MAXLEN', 1); // the count does not depend on what the stream still keeps
    const status = async () => {
      const lines: string[] = [];
      const code = await runFleetCli(['fleet', 'status', '--redis', redis.url, '--stream', stream], {
        out: (line) => lines.push(line),
        err: (line) => lines.push(line),
      });
      return { code, lines, fleet: await fleetStatus({ redis: client, stream }) };
    };
    const down = await status();
    expect(down.fleet).toMatchObject({ head: last.id, seq: 3, length: 1 });
    expect(down.fleet.replicas).toMatchObject([{ name: 'r1', live: false, behind: true, behindBy: 2, seq: 1 }]);
    expect(down.code).toBe(0);
    expect(down.lines[0]).toBe(`${stream}: head ${last.id} (entry 3), 1 entries kept, 1 files`);
    expect(down.lines[1]).toMatch(/^ {2}r1 \S+ written \(down, behind by 2 entries, stopped\)$/);

    const { source } = await startSource(root);
    expect(source.lastId).toBe(last.id);
    // Its report says so once its start has settled.
    await expect.poll(async () => (await status()).lines[1]).toBe(`  r1 ${last.id} written (live, current, serving)`);
    expect((await status()).fleet.replicas).toMatchObject([{ live: true, behind: false, behindBy: 0, seq: 3 }]);
  });

  it('is live as soon as it is connected, so publish --wait waits for a replica still loading its first version', async () => {
    let loaded = () => {};
    const firstLoad = new Promise<void>((resolve) => {
      loaded = resolve;
    });
    // Its heartbeat is a minute away, and its first report waits for the engine's first load.
    const source = createRedisChangeSource({
      root: replicaRoot('r1'),
      redis: redis.url,
      stream,
      replica: 'r1',
      heartbeatMs: 60_000,
    });
    sources.push(source);
    source.observe({ idle: () => firstLoad, status: () => ({ errors: [] }) as never });
    await source.start(() => {});
    await expect
      .poll(async () => (await fleetStatus({ redis: client, stream })).replicas)
      .toMatchObject([{ name: 'r1', live: true, state: 'catching-up' }]);

    let waited = false;
    const sending = publish({
      dir: origin({ 'a.ts': 'a1' }),
      redis: client,
      stream,
      wait: 30_000,
      onPublished: () => {
        waited = true;
      },
    });
    await expect.poll(() => waited).toBe(true);
    loaded();
    const sent = await sending;
    expect(sent.pending).toEqual([]);
    expect(sent.replicas).toMatchObject([{ name: 'r1', id: sent.id, state: 'serving' }]);
  });

  it('restores the snapshot when the entries it missed were trimmed away', async () => {
    const root = replicaRoot('r1');
    await publish({ dir: origin({ 'a.ts': 'a1', 'gone.ts': 'g' }), redis: client, stream });
    const first = await startSource(root);
    await first.source.stop();
    await publish({ dir: origin({ 'a.ts': 'a2' }), redis: client, stream });
    const last = await publish({ dir: origin({ 'a.ts': 'a3', 'b.ts': 'b1' }), redis: client, stream });
    await client.xtrim(stream, 'MAXLEN', 0);
    const audit = new MemoryAuditSink();
    const { source, baseline } = await startSource(root, 'r1', audit);
    expect(source.lastId).toBe(last.id);
    expect(baseline).toEqual([path.join(root, 'a.ts'), path.join(root, 'b.ts')]);
    expect(readFileSync(path.join(root, 'a.ts'), 'utf8')).toBe('a3');
    expect(audit.events.map((event) => event.event)).toContain('fleet.snapshot_restored');
  });

  it("runs the publisher's compilations when its compiler is the replica's, and compiles itself when none can be read", {
    timeout: 90_000,
  }, async () => {
    const root = replicaRoot('r1');
    const audit = new MemoryAuditSink();
    const source = createRedisChangeSource({ root, redis: redis.url, stream, replica: 'r1', audit });
    sources.push(source);
    const adapter = new FakeRegistryAdapter();
    const reloader = await createReloader({ root, adapter, changeSource: source, coalesce: false, audit });
    source.observe(reloader);
    await reloader.start();
    const applied = () => audit.events.filter((event) => event.event === 'batch.applied').at(-1);
    const answer = async () => JSON.stringify(await adapter.tool('greet')?.handler({}, {} as never));
    try {
      // publish waits for the replicas it sees live: this one must have said so first (its first report).
      await expect
        .poll(async () => (await fleetStatus({ redis: client, stream })).replicas[0]?.state, { timeout: 30_000 })
        .toBe('serving');
      await publish({ dir: origin({ 'greet.ts': tool('v1') }), redis: client, stream, wait: 30_000 });
      expect(await answer()).toContain('v1');
      expect(applied()).toMatchObject({ loaded: 1, precompiled: 1 });

      await publish({ dir: origin({ 'greet.ts': tool('v2') }), redis: client, stream, wait: 30_000, compile: false });
      expect(await answer()).toContain('v2');
      expect(applied()).toMatchObject({ loaded: 1 });
      expect(applied()).not.toHaveProperty('precompiled');

      // An entry whose compilations cannot be read: said, and applied all the same.
      const keys = fleetKeys(stream);
      const head = (await client.get(keys.head)) as string;
      const content = tool('v3');
      await client.xadd(
        stream,
        '*',
        'prev',
        head,
        'files',
        JSON.stringify([{ path: 'greet.ts', hash: sha256(content), content }]),
        'compiled',
        '[',
      );
      await expect.poll(answer, { timeout: 30_000 }).toContain('v3');
      expect(audit.events).toContainEqual(expect.objectContaining({ event: 'fleet.compiled_ignored', replica: 'r1' }));
      expect(applied()).not.toHaveProperty('precompiled');
    } finally {
      await reloader.stop();
    }
  });

  it('reports the engine outcome: a broken module is failed with its error, the last good version stays', {
    timeout: 90_000,
  }, async () => {
    const root = replicaRoot('r1');
    await publish({ dir: origin({ 'greet.ts': tool('v1'), 'broken.ts': 'export default {' }), redis: client, stream });
    const source = createRedisChangeSource({ root, redis: redis.url, stream, replica: 'r1' });
    sources.push(source);
    const adapter = new FakeRegistryAdapter();
    const reloader = await createReloader({
      root,
      adapter,
      changeSource: source,
      coalesce: false,
      audit: false,
      preflight: false,
    });
    source.observe(reloader);
    await reloader.start();
    try {
      // Its first load, of what it caught up with, is reported once it serves.
      await expect
        .poll(async () => (await fleetStatus({ redis: client, stream })).replicas[0]?.state, { timeout: 30_000 })
        .toBe('serving');
      expect((await fleetStatus({ redis: client, stream })).replicas[0]).toMatchObject({
        outcome: 'failed',
        errors: [{ module: 'broken.ts', code: 'HOTMCP_ERR_SYNTAX' }],
      });
      const lines: string[] = [];
      const code = await runFleetCli(
        [
          'publish',
          origin({ 'greet.ts': 'export default {' }),
          '--redis',
          redis.url,
          '--stream',
          stream,
          '--wait',
          '--timeout',
          '30000',
        ],
        { out: (line) => lines.push(line), err: (line) => lines.push(line) },
      );
      expect(code).toBe(1);
      expect(lines.join('\n')).toMatch(/r1 \S+ failed\n\s+greet\.ts HOTMCP_ERR_SYNTAX/);
      expect(reloader.status().counts.tools).toBe(1);

      const fixed = await publish({ dir: origin({ 'greet.ts': tool('v2') }), redis: client, stream, wait: 30_000 });
      expect(fixed.replicas).toMatchObject([{ name: 'r1', id: fixed.id, outcome: 'applied', errors: [] }]);
      expect(fixed.pending).toEqual([]);
    } finally {
      await reloader.stop();
    }
  });
});
