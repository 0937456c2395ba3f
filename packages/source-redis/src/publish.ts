/** Send a folder's changes to a fleet as one stream entry, and wait for every live replica to apply it. */
import path from 'node:path';
import { HotMcpError, type ModuleCompilation, precompileModule } from '@hotmcp/core';
import type { Redis } from 'ioredis';
import { type FolderSelection, readFolder } from './fleet-folder.js';
import {
  compareIds,
  DEFAULT_STREAM,
  type FileChange,
  fleetKeys,
  isLive,
  nextId,
  type ReplicaReport,
  ZERO_ID,
} from './fleet-protocol.js';
import { fleetStatus } from './fleet-status.js';
import { withRedis } from './redis-connection.js';

/** Options of {@link publish}. */
export interface PublishOptions extends FolderSelection {
  /** The folder to publish: its selected files become the fleet's tools folder. */
  dir: string;
  /** A Redis URL, or an ioredis client (left open). */
  redis: string | Redis;
  /** The stream's key. Default `hotmcp:fleet`. */
  stream?: string;
  /** Keep about this many entries in the stream (older ones are trimmed; the snapshot covers them). Default 1000. */
  maxLen?: number;
  /**
   * Wait until every live replica has applied the entry: `true`, or the most
   * ms to wait (default 30,000 with `true`). The result lists each replica's report.
   */
  wait?: boolean | number;
  /**
   * Compile the modules the entry writes, as the replicas' runner loader would,
   * and send the compilations with it: a replica whose compiler is the same
   * (this hotmcp, esbuild and Node major) runs them rather than compiling each
   * file itself, so the fleet's work per batch is done once. Default true.
   */
  compile?: boolean;
  /** Called once the entry is in the stream, before waiting. */
  onPublished?: (entry: { id: string; written: string[]; deleted: string[] }) => void;
  /** Called with each replica's report as it is seen to have applied the entry (with `wait`). */
  onReplica?: (report: ReplicaReport) => void;
}

/** What {@link publish} did. */
export interface PublishResult {
  /** The entry's id; undefined when the folder matched the snapshot (nothing sent). */
  id?: string;
  /** The stream's newest entry after publishing. */
  head: string;
  /** Paths written and deleted by the entry. */
  written: string[];
  deleted: string[];
  /** With `wait`: every replica live when the wait ended, with its report. */
  replicas?: ReplicaReport[];
  /** With `wait`: live replicas that had not applied the entry when the wait timed out. */
  pending?: string[];
}

/**
 * Hash the folder, diff it against the fleet's snapshot and send what differs
 * as one entry: `XADD` and the snapshot update in one `MULTI`/`EXEC`, under
 * `WATCH` of the snapshot, retried if another publish got in between.
 */
export async function publish(options: PublishOptions): Promise<PublishResult> {
  const keys = fleetKeys(options.stream ?? DEFAULT_STREAM);
  const local = readFolder(options.dir, options);
  const compilations = new Map<string, Promise<ModuleCompilation | undefined>>();
  /** The compilations of the modules among `written` (one that does not compile goes without: replicas report it). */
  const compile = (files: string[]) => {
    for (const file of files) {
      if (compilations.has(file) || !COMPILED.test(file)) continue;
      const content = local.get(file)?.content as string;
      compilations.set(
        file,
        precompileModule(path.join(options.dir, file), content).catch(() => undefined),
      );
    }
  };
  // The first module is compiled while the snapshot is read: that starts esbuild (tens of ms in a fresh
  // process) in the meantime, and it is often the file that changed.
  const first = [...local.keys()].find((file) => COMPILED.test(file));
  if (options.compile !== false && first !== undefined) compile([first]);
  const compiledOf = async (written: string[]): Promise<Record<string, ModuleCompilation>> => {
    if (options.compile === false) return {};
    compile(written);
    const compiled: Record<string, ModuleCompilation> = {};
    for (const file of written) {
      const compilation = await compilations.get(file);
      if (compilation) compiled[file] = compilation;
    }
    return compiled;
  };
  return withRedis(options.redis, async (redis) => {
    let sent: { id?: string; head: string; written: string[]; deleted: string[] } | undefined;
    for (let attempt = 0; sent === undefined; attempt++) {
      if (attempt === 20)
        throw new HotMcpError('HOTMCP_ERR_FLEET_UNAVAILABLE', 'publish: the snapshot kept changing under 20 attempts');
      // Sent together, answered in one round trip (ioredis writes them before any reply is read).
      const [, headReply, seqReply, remote] = await Promise.all([
        redis.watch(keys.head, keys.hashes),
        redis.get(keys.head),
        redis.get(keys.seq),
        redis.hgetall(keys.hashes),
      ]);
      const head = headReply ?? ZERO_ID;
      const seq = String(Number(seqReply ?? 0) + 1); // `S:seq` moves only with `S:head`, which is watched
      const changes: FileChange[] = [];
      for (const [path, { hash, content }] of local) if (remote[path] !== hash) changes.push({ path, hash, content });
      for (const path of Object.keys(remote)) if (!local.has(path)) changes.push({ path, deleted: true });
      const written = changes.filter((change) => !('deleted' in change)).map((change) => change.path);
      const deleted = changes.filter((change) => 'deleted' in change).map((change) => change.path);
      if (changes.length === 0) {
        await redis.unwatch();
        sent = { head, written, deleted };
        break;
      }
      const compiled = await compiledOf(written);
      const hint = Object.keys(compiled).length > 0 ? ['compiled', JSON.stringify(compiled)] : [];
      const id = nextId(head);
      const multi = redis
        .multi()
        .xadd(
          keys.stream,
          'MAXLEN',
          '~',
          String(options.maxLen ?? 1000),
          id,
          'prev',
          head,
          'seq',
          seq,
          'files',
          JSON.stringify(changes),
          ...hint,
        )
        .set(keys.head, id)
        .set(keys.seq, seq);
      for (const change of changes) {
        if ('deleted' in change) multi.hdel(keys.hashes, change.path).hdel(keys.files, change.path);
        else multi.hset(keys.hashes, change.path, change.hash).hset(keys.files, change.path, change.content);
      }
      const results = await multi.exec();
      if (results === null) continue; // the snapshot moved: diff again
      const failed = results.find(([error]) => error !== null);
      if (failed)
        throw new HotMcpError('HOTMCP_ERR_FLEET_UNAVAILABLE', `publish: ${String(failed[0])}`, { cause: failed[0] });
      sent = { id, head: id, written, deleted };
    }
    if (sent.id === undefined) return sent;
    options.onPublished?.({ id: sent.id, written: sent.written, deleted: sent.deleted });
    if (!options.wait) return sent;
    const timeoutMs = options.wait === true ? 30_000 : options.wait;
    return {
      ...sent,
      ...(await waitForReplicas(redis, options.stream ?? DEFAULT_STREAM, sent.id, timeoutMs, options.onReplica)),
    };
  });
}

/** The modules a runner loader compiles (CommonJS files and data are not compiled). */
const COMPILED = /\.(?:ts|mts|tsx|js|mjs|jsx)$/;

/** Poll the replicas' reports until every live one is at `id` or past it. */
async function waitForReplicas(
  redis: Redis,
  stream: string,
  id: string,
  timeoutMs: number,
  onReplica?: (report: ReplicaReport) => void,
): Promise<{ replicas: ReplicaReport[]; pending: string[] }> {
  const deadline = Date.now() + timeoutMs;
  const told = new Set<string>();
  for (;;) {
    const { replicas } = await fleetStatus({ redis, stream });
    const live = replicas.filter((replica) => isLive(replica));
    const done = live.filter((replica) => compareIds(replica.id, id) >= 0 && replica.state !== 'catching-up');
    for (const replica of done) {
      if (told.has(replica.name)) continue;
      told.add(replica.name);
      onReplica?.(replica);
    }
    const pending = live.filter((replica) => !done.includes(replica)).map((replica) => replica.name);
    if (pending.length === 0 || Date.now() > deadline) return { replicas: live, pending };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
