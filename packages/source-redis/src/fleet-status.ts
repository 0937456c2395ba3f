/** What a fleet's replicas report: their last entry, outcome and errors. */
import type { Redis } from 'ioredis';
import {
  compareIds,
  DEFAULT_STREAM,
  decodeReport,
  fleetKeys,
  isLive,
  type ReplicaReport,
  ZERO_ID,
} from './fleet-protocol.js';
import { withRedis } from './redis-connection.js';

/** Options of {@link fleetStatus}. */
export interface FleetStatusOptions {
  /** A Redis URL, or an ioredis client (left open). */
  redis: string | Redis;
  /** The stream's key. Default `hotmcp:fleet`. */
  stream?: string;
}

/** One replica in {@link FleetStatus}. */
export interface ReplicaStatus extends ReplicaReport {
  /** Heartbeat within three periods and not stopped. */
  live: boolean;
  /** Its last applied entry is older than the stream's head (or it is still catching up). */
  behind: boolean;
  /**
   * How many entries it has still to apply: the head's number less that of its last applied entry (0 when it is
   * at the head); undefined when its entry carried no number.
   */
  behindBy?: number;
}

/** The fleet as Redis holds it. */
export interface FleetStatus {
  stream: string;
  /** The newest entry's id (`0-0`: nothing published). */
  head: string;
  /** Its number: how many entries were ever published (trimmed ones included). */
  seq: number;
  /** Entries kept in the stream. */
  length: number;
  /** Files in the snapshot. */
  files: number;
  /** Every replica that ever reported, sorted by name. */
  replicas: ReplicaStatus[];
}

/** Read the fleet's head and every replica's report, with whether each is live and behind. */
export async function fleetStatus(options: FleetStatusOptions): Promise<FleetStatus> {
  const keys = fleetKeys(options.stream ?? DEFAULT_STREAM);
  return withRedis(options.redis, async (redis) => {
    const [head, seqReply, length, files, names] = (await redis
      .multi()
      .get(keys.head)
      .get(keys.seq)
      .xlen(keys.stream)
      .hlen(keys.hashes)
      .smembers(keys.replicas)
      .exec())!.map(([, value]) => value) as [string | null, string | null, number, number, string[]];
    const pipeline = redis.pipeline();
    const sorted = [...names].sort();
    for (const name of sorted) pipeline.hgetall(keys.replica(name));
    const hashes = ((await pipeline.exec()) ?? []).map(([, value]) => value as Record<string, string>);
    const now = Date.now();
    const current = head ?? ZERO_ID;
    const seq = Number(seqReply ?? 0);
    const replicas = sorted.map((name, index): ReplicaStatus => {
      const report = decodeReport(name, hashes[index] ?? {});
      const atHead = compareIds(report.id, current) >= 0;
      const behindBy = atHead ? 0 : report.seq === undefined ? undefined : Math.max(0, seq - report.seq);
      return {
        ...report,
        live: isLive(report, now),
        behind: report.state === 'catching-up' || !atHead,
        ...(behindBy !== undefined && { behindBy }),
      };
    });
    return { stream: keys.stream, head: current, seq, length, files, replicas };
  });
}
