/**
 * Runs this example the way a user does: a temp copy of its tools folder, the
 * server in its own process on a free port of 127.0.0.1, and real SDK clients
 * over real HTTP. Used by the end-to-end tests and the benchmark.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cp, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

const here = dirname(fileURLToPath(import.meta.url));
export const exampleDir = join(here, '..');
export const serverEntry = join(exampleDir, 'dist', 'server.js');

/** A temp folder holding a copy of the example's tools, resolving packages from the example. */
export interface Sandbox {
  dir: string;
  toolsDir: string;
  auditLog: string;
  /** Write a file under the tools folder (path relative to it). */
  write(relative: string, content: string): Promise<void>;
  cleanup(): Promise<void>;
}

export async function createSandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'hotmcp-http-sessions-'));
  const toolsDir = join(dir, 'tools');
  await cp(join(exampleDir, 'tools'), toolsDir, { recursive: true });
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
  await symlink(join(exampleDir, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return {
    dir,
    toolsDir,
    auditLog: join(dir, 'audit', 'audit.log'),
    write: (relative, content) => writeFile(join(toolsDir, relative), content),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** What `GET /hotmcp/sessions` reports. */
export interface SessionCounts {
  /** SDK 1.x sessions attached to the fan-out. */
  v1: number;
  /** Of those, the ones with their GET stream open. */
  v1Streaming: number;
  /** SDK 2.x `subscriptions/listen` streams open. */
  v2: number;
  /** Sessions of 2025-era clients on the SDK 2.x endpoint. */
  v2Legacy: number;
  /** Of those, the ones with their GET stream open. */
  v2LegacyStreaming: number;
}

/** The example server, running in its own process. */
export interface RunningServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  process: ChildProcess;
  sessions(): Promise<SessionCounts>;
  stderr(): string;
  stop(): Promise<void>;
}

/** More of {@link startServer}. */
export interface StartOptions {
  /** Node options before the entry, e.g. `--cpu-prof`. */
  nodeArgs?: readonly string[];
  /** Another server script speaking the same protocol (the benchmark's plain SDK baseline). Default: this example. */
  entry?: string;
}

/** Start `dist/server.js` on a free port; resolves once it listens. */
export async function startServer(
  sandbox: Sandbox,
  env: Record<string, string> = {},
  timeoutMs = 60_000,
  options: StartOptions = {},
): Promise<RunningServer> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.entry ?? serverEntry], {
    cwd: sandbox.dir,
    env: {
      ...process.env,
      PORT: '0',
      HOTMCP_TOOLS_DIR: sandbox.toolsDir,
      HOTMCP_AUDIT_LOG: sandbox.auditLog,
      ...env,
    },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let stderr = '';
  const origin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not listen within ${timeoutMs} ms:\n${stderr}`)),
      timeoutMs,
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${stderr}`));
    });
  });
  return {
    origin,
    process: child,
    sessions: async () => (await (await fetch(`${origin}/hotmcp/sessions`)).json()) as SessionCounts,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** An MCP client session that counts tools list_changed. */
export interface ClientSession {
  listTools(): Promise<string[]>;
  /** The listed tools with their descriptions. */
  tools(): Promise<Array<{ name: string; description?: string | undefined }>>;
  callText(name: string, args?: Record<string, unknown>): Promise<string>;
  /** A call's first text and whether it is an error result. */
  call(name: string, args?: Record<string, unknown>): Promise<{ text: string; isError: boolean }>;
  listChanged(): number;
  /** Resolves when the count reaches `count`; rejects after `timeoutMs`. */
  waitForListChanged(count: number, timeoutMs?: number): Promise<void>;
  /** Close the client; with `terminate`, end the session with a DELETE first (SDK 1.x). */
  close(options?: { terminate?: boolean }): Promise<void>;
}

function counter() {
  let count = 0;
  const waiters = new Set<() => void>();
  return {
    bump() {
      count++;
      for (const wake of waiters) wake();
    },
    value: () => count,
    wait(target: number, timeoutMs = 15_000): Promise<void> {
      if (count >= target) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = () => {
          if (count < target) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for tools list_changed #${target} (got ${count})`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
  };
}

function firstText(content: unknown): string {
  const first = (content as Array<{ text?: string }> | undefined)?.[0];
  return first?.text ?? '';
}

/**
 * `fetch` for the clients' transports: each request gets an abort signal of
 * its own, tied to the transport's until its response body ends (a
 * list_changed stream ends only when the client closes). Both SDKs hand one
 * long-lived signal to every request, and fetch leaves a listener on it per
 * request (removed only when the signal is collected), so a long run of one
 * client warns of a listener leak.
 */
export async function isolatingFetch(url: string | URL, init?: RequestInit): Promise<Response> {
  const parent = init?.signal;
  if (!parent) return fetch(url, init);
  const controller = new AbortController();
  const abort = () => controller.abort(parent.reason);
  const unlink = () => parent.removeEventListener('abort', abort);
  parent.addEventListener('abort', abort, { once: true });
  if (parent.aborted) abort();
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: controller.signal });
  } catch (error) {
    unlink();
    throw error;
  }
  if (!response.body) {
    unlink();
    return response;
  }
  const body = response.body.pipeThrough(new TransformStream({ flush: unlink }));
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/**
 * Connect an SDK 1.x client to `POST /mcp` (one session, one McpServer on the
 * server), or to another path: on `/v2/mcp` it is a 2025-era client of the
 * SDK 2.x endpoint.
 */
export async function connectV1(origin: string, onListChanged?: () => void, path = '/mcp'): Promise<ClientSession> {
  const client = new Client({ name: 'hotmcp-http-v1', version: '0.0.0' });
  const changes = counter();
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    changes.bump();
    onListChanged?.();
  });
  const transport = new StreamableHTTPClientTransport(new URL(`${origin}${path}`), { fetch: isolatingFetch });
  await client.connect(transport);
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const result = await client.callTool({ name, arguments: args });
    return { text: firstText(result.content), isError: result.isError === true };
  };
  return {
    listTools: async () => (await client.listTools()).tools.map((tool) => tool.name),
    tools: async () => (await client.listTools()).tools,
    callText: async (name, args) => (await call(name, args)).text,
    call,
    listChanged: changes.value,
    waitForListChanged: changes.wait,
    async close(options = {}) {
      if (options.terminate) await transport.terminateSession();
      await client.close();
    },
  };
}

/**
 * Connect an SDK 2.x client to `POST /v2/mcp` on protocol 2026-07-28 and open
 * a `subscriptions/listen` stream for tools list_changed.
 */
export async function connectV2(origin: string, onListChanged?: () => void): Promise<ClientSession> {
  const client = new ClientV2({ name: 'hotmcp-http-v2', version: '0.0.0' }, { versionNegotiation: { mode: 'auto' } });
  const changes = counter();
  client.setNotificationHandler('notifications/tools/list_changed', async () => {
    changes.bump();
    onListChanged?.();
  });
  await client.connect(new TransportV2(new URL(`${origin}/v2/mcp`), { fetch: isolatingFetch }));
  await client.listen({ toolsListChanged: true });
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const result = await client.callTool({ name, arguments: args });
    return { text: firstText(result.content), isError: result.isError === true };
  };
  return {
    listTools: async () => (await client.listTools()).tools.map((tool) => tool.name),
    tools: async () => (await client.listTools()).tools,
    callText: async (name, args) => (await call(name, args)).text,
    call,
    listChanged: changes.value,
    waitForListChanged: changes.wait,
    close: () => client.close(),
  };
}
