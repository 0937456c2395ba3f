/**
 * The HTTP sessions example (examples/http-sessions) as a fuzz target: one
 * server process with an SDK 1.x endpoint (a session per client, each with
 * its own McpServer, reached through the fan-out) and an SDK 2.x endpoint
 * (`createMcpHandler` and `subscriptions/listen` for 2026-07-28 clients, a
 * session each for 2025-era clients), each endpoint with its own reloader on
 * the same tools folder: two real clients on each, plus a 2025-era client of
 * the SDK 2.x endpoint. Every client must see what the model says after every
 * step, and hear of every change to what is listed.
 */

import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitUntil } from '@hotmcp/core/testing';
import {
  type ClientSession,
  connectV1,
  connectV2,
  createSandbox,
  type RunningServer,
  type Sandbox,
  startServer,
} from '@hotmcp/example-http-sessions/dist/harness.js';
import {
  answerOf,
  FENCE_FILE,
  FuzzTarget,
  fenceModule,
  pidOf,
  STATIC_TOOL,
  tail,
  type Viewer,
} from './stress-server.js';

/** The example's own tool files, removed so each run starts from an empty folder. */
const EXAMPLE_FILES = ['echo.ts'];
/** Clients per endpoint. */
const CLIENTS_PER_SDK = 2;

export class HttpStressServer extends FuzzTarget {
  readonly toolsDir: string;
  readonly viewers: readonly Viewer[];

  private constructor(
    readonly sandbox: Sandbox,
    readonly server: RunningServer,
    private readonly clients: ReadonlyArray<{ label: string; session: ClientSession }>,
    readonly pid: number,
  ) {
    super();
    this.toolsDir = sandbox.toolsDir;
    server.process.once('exit', () => {
      this.alive = false;
    });
    this.viewers = clients.map(({ label, session }) => ({
      label,
      tools: () => session.tools(),
      answer: (name) =>
        answerOf(async () => {
          const { text, isError } = await session.call(name);
          return { content: [{ type: 'text', text }], isError };
        }),
      listChanged: () => session.listChanged(),
    }));
  }

  /**
   * Start the server on an empty tools folder (plus the fence tool), connect
   * two SDK 1.x and two SDK 2.x clients and a 2025-era client of the SDK 2.x
   * endpoint, wait until all five listen for changes, and settle on the empty
   * view.
   */
  static async start(): Promise<HttpStressServer> {
    const sandbox = await createSandbox();
    for (const file of EXAMPLE_FILES) await rm(join(sandbox.toolsDir, file), { force: true });
    await writeFile(join(sandbox.toolsDir, FENCE_FILE), fenceModule(0));
    // Sessions here are kept for the whole run, even while a sequence is between looks.
    const server = await startServer(sandbox, { HOTMCP_SESSION_GRACE_MS: '3600000' });
    const clients: Array<{ label: string; session: ClientSession }> = [];
    try {
      for (let index = 1; index <= CLIENTS_PER_SDK; index++) {
        clients.push({ label: `SDK 1.x client ${index}`, session: await connectV1(server.origin) });
        clients.push({ label: `SDK 2.x client ${index}`, session: await connectV2(server.origin) });
      }
      clients.push({
        label: 'a 2025-era client of the SDK 2.x endpoint',
        session: await connectV1(server.origin, undefined, '/v2/mcp'),
      });
      // A change is only heard on an open GET stream (1.x) or subscription (2.x).
      await waitUntil(
        async () => {
          const counts = await server.sessions();
          return (
            counts.v1Streaming === CLIENTS_PER_SDK && counts.v2 === CLIENTS_PER_SDK && counts.v2LegacyStreaming === 1
          );
        },
        { timeoutMs: 15_000, what: 'every client listening' },
      );
      const pid = pidOf(await (clients[0] as { session: ClientSession }).session.callText(STATIC_TOOL));
      const target = new HttpStressServer(sandbox, server, clients, pid);
      await target.settle({}, 'start');
      return target;
    } catch (error) {
      await Promise.all(clients.map(({ session }) => session.close().catch(() => undefined)));
      await server.stop();
      await sandbox.cleanup();
      throw error;
    }
  }

  /** The pid every client's `server_info` reports; throws when they differ. */
  async currentPid(): Promise<number> {
    const pids = new Set(
      await Promise.all(this.clients.map(async ({ session }) => pidOf(await session.callText(STATIC_TOOL)))),
    );
    if (pids.size !== 1) throw new Error(`the clients see different servers: pids ${[...pids].join(', ')}`);
    return [...pids][0] as number;
  }

  stderrTail(): string {
    return tail(this.server.stderr());
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map(({ session }) => session.close().catch(() => undefined)));
    await this.server.stop();
    await this.sandbox.cleanup();
  }
}
