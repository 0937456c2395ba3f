/**
 * A real `redis-server` for tests, examples and benchmarks: 127.0.0.1, a free
 * port, its own temp folder; stopped and restarted on demand.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /**
   * Keep data across restarts: the append-only file, fsync'd every second (Redis' own default for it; a
   * restart by SIGTERM writes everything first). Default false: nothing saved.
   */
  persistent?: boolean;
  /** The binary. Default `$REDIS_SERVER`, else `redis-server` on the PATH. */
  binary?: string;
  /** Most ms to wait for it to answer PING. Default 10,000. */
  timeoutMs?: number;
}

/** A running redis-server. */
export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  /**
   * Stop it (SIGTERM, then wait) and start it again on the same port and
   * folder; `whileDown` runs in between (what clients see of the outage).
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
  /** Stop it; with `keepDir`, leave its folder. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function ping(url: string, timeoutMs: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}:\n${log()}`);
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch {
    } finally {
      client.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`redis-server did not answer within ${timeoutMs} ms:\n${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Start a redis-server; resolves once it answers PING. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hotmcp-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const binary = options.binary ?? process.env.REDIS_SERVER ?? 'redis-server';
  const persistence = options.persistent
    ? ['--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '']
    : ['--appendonly', 'no', '--save', ''];
  let child: ChildProcess;
  let log = '';
  const launch = async () => {
    log = '';
    child = spawn(binary, ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, ...persistence], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    const spawned = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', resolve);
    });
    if (spawned) {
      throw new Error(`cannot run ${binary} (${spawned.message}); install it: apt-get install redis-server`);
    }
    await ping(url, options.timeoutMs ?? 10_000, child, () => log);
  };
  const halt = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  await launch();
  return {
    url,
    port,
    dir,
    async restart(whileDown) {
      await halt();
      try {
        await whileDown?.();
      } finally {
        await launch();
      }
    },
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
