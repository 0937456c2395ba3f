/**
 * A fleet of replicas of examples/http-sessions, each in its own process with
 * its own tools folder, all fed by one Redis Stream. Used by `start.ts`, the
 * end-to-end tests and `pnpm bench:fleet`.
 */
import {
  createSandbox,
  type RunningServer,
  type Sandbox,
  startServer,
} from '@hotmcp/example-http-sessions/dist/harness.js';
import { type PublishOptions, type PublishResult, publish } from '@hotmcp/source-redis';
import { type RedisServer, startRedisServer } from '@hotmcp/source-redis/testing';

/** One replica: its folder (kept across restarts) and its running server. */
export interface Replica {
  name: string;
  sandbox: Sandbox;
  server: RunningServer;
  /** Kill it (SIGKILL: no goodbye, as a crash) or stop it (SIGTERM). */
  kill(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Start it again on the same folder and name (a new port); resolves once it listens. */
  restart(): Promise<void>;
}

/** Options of {@link startFleet}. */
export interface FleetOptions {
  /** How many replicas. Default 3. */
  replicas?: number;
  /** Use this Redis; default: start a redis-server of our own (append-only file on, so a restart keeps the stream). */
  redisUrl?: string;
  /** The stream. Default `hotmcp:fleet`. */
  stream?: string;
  /** A folder to publish before the replicas start. */
  initial?: string;
  /** More environment for each replica. */
  env?: Record<string, string>;
}

/** A running fleet. */
export interface Fleet {
  redisUrl: string;
  /** The redis-server we started, when we did. */
  redis?: RedisServer;
  stream: string;
  replicas: Replica[];
  /** Publish a folder to the fleet (`publish` of @hotmcp/source-redis). */
  publish(dir: string, options?: Partial<PublishOptions>): Promise<PublishResult>;
  stop(): Promise<void>;
}

/** Publish `dir` to the fleet on `redisUrl` and `stream`, as {@link Fleet.publish} does (usable from another thread). */
export function publishToFleet(
  redisUrl: string,
  stream: string,
  dir: string,
  more: Partial<PublishOptions> = {},
): Promise<PublishResult> {
  return publish({ dir, redis: redisUrl, stream, include: ['**/*.{ts,mts,js,mjs}'], ...more });
}

export async function startFleet(options: FleetOptions = {}): Promise<Fleet> {
  const redis = options.redisUrl ? undefined : await startRedisServer({ persistent: true });
  const redisUrl = options.redisUrl ?? (redis as RedisServer).url;
  const stream = options.stream ?? 'hotmcp:fleet';
  const fleetPublish = (dir: string, more: Partial<PublishOptions> = {}) => publishToFleet(redisUrl, stream, dir, more);
  if (options.initial) await fleetPublish(options.initial);

  async function startReplica(name: string): Promise<Replica> {
    const sandbox = await createSandbox();
    const env = {
      HOTMCP_SDKS: 'v1',
      HOTMCP_REDIS_URL: redisUrl,
      HOTMCP_REDIS_STREAM: stream,
      HOTMCP_REPLICA: name,
      HOTMCP_PREFLIGHT_TIMEOUT_MS: '30000',
      // hotmcp_status says whether the replica is behind the stream (Redis unreachable, catching up).
      HOTMCP_CONTROL_TOOLS: '1',
      ...options.env,
    };
    const replica: Replica = {
      name,
      sandbox,
      server: await startServer(sandbox, env),
      async kill(signal = 'SIGKILL') {
        const child = replica.server.process;
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill(signal);
        await exited;
      },
      async restart() {
        await replica.kill();
        replica.server = await startServer(sandbox, env);
      },
    };
    return replica;
  }

  const replicas = await Promise.all(
    Array.from({ length: options.replicas ?? 3 }, (_, index) => startReplica(`replica-${index + 1}`)),
  );
  return {
    redisUrl,
    ...(redis && { redis }),
    stream,
    replicas,
    publish: fleetPublish,
    async stop() {
      await Promise.all(replicas.map((replica) => replica.kill('SIGTERM')));
      await Promise.all(replicas.map((replica) => replica.sandbox.cleanup()));
      await redis?.stop();
    },
  };
}
