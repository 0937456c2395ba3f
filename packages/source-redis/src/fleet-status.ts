/** What a fleet's replicas report: their last entry, outcome and errors. */
import { Redis } from 'ioredis';
import {
  compareIds,
  DEFAULT_STREAM,
  decodeReport,
  fleetKeys,
  isLive,
  type ReplicaReport,
  ZERO_ID,
} from './fleet-protocol.js';

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
}

/** The fleet as Redis holds it. */
export interface FleetStatus {
  stream: string;
  /** The newest entry's id (`0-0`: nothing published). */
  head: string;
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
  const owned = typeof options.redis === 'string';
  const redis =
    typeof options.redis === 'string' ? new Redis(options.redis, { maxRetriesPerRequest: 2 }) : options.redis;
  try {
    const [head, length, files, names] = (await redis
      .multi()
      .get(keys.head)
      .xlen(keys.stream)
      .hlen(keys.hashes)
      .smembers(keys.replicas)
      .exec())!.map(([, value]) => value) as [string | null, number, number, string[]];
    const pipeline = redis.pipeline();
    const sorted = [...names].sort();
    for (const name of sorted) pipeline.hgetall(keys.replica(name));
    const hashes = ((await pipeline.exec()) ?? []).map(([, value]) => value as Record<string, string>);
    const now = Date.now();
    const current = head ?? ZERO_ID;
    const replicas = sorted.map((name, index) => {
      const report = decodeReport(name, hashes[index] ?? {});
      return {
        ...report,
        live: isLive(report, now),
        behind: report.state === 'catching-up' || compareIds(report.id, current) < 0,
      };
    });
    return { stream: keys.stream, head: current, length, files, replicas };
  } finally {
    if (owned) redis.disconnect();
  }
}
