import { join } from 'node:path';
import { waitUntil } from '@hotmcp/core/testing';
import { type AuditEvent, auditEvents, loadFailed } from '@hotmcp/example-e2e-suites';
import { afterEach, beforeEach, expect } from 'vitest';
import { type ConnectOptions, callText, connect, createSandbox, type Sandbox, type Session } from '../src/harness.js';

export { type AuditEvent, auditEvents, loadFailed, waitForAudit } from '@hotmcp/example-e2e-suites';

/** A tool module that answers `${greeting} ${name}`. */
export function greetTool(name: string, greeting: string): string {
  return `import { defineTool } from '@hotmcp/core';
import { z } from 'zod';

export default defineTool({
  name: '${name}',
  description: 'Say ${greeting}',
  inputSchema: { name: z.string() },
  handler: async ({ name }) => ({ content: [{ type: 'text', text: '${greeting} ' + name }] }),
});
`;
}

/** How many audit events there are so far: pass it as `after` to wait only for later ones. */
export async function auditMark(sandbox: Sandbox): Promise<number> {
  return (await auditEvents(sandbox)).length;
}

/** Wait (bounded) for an audit event matching `match` among those recorded after `after` (see {@link auditMark}). */
export async function waitForAuditAfter(
  sandbox: Sandbox,
  after: number,
  match: (event: AuditEvent) => boolean,
  timeoutMs = 10_000,
): Promise<AuditEvent> {
  let found: AuditEvent | undefined;
  await waitUntil(
    async () => {
      found = (await auditEvents(sandbox)).slice(after).find(match);
      return found !== undefined;
    },
    { timeoutMs, what: 'an audit event' },
  );
  return found as AuditEvent;
}

/**
 * The module.failed event for `file` (relative to the tools folder) recorded
 * after `mark`. A write truncates a file before it fills it, so the watcher may
 * see it empty first: that HOTMCP_ERR_EMPTY_MODULE is skipped unless `empty`
 * says it is the one wanted.
 */
export function moduleFailureAfter(
  server: ServerUnderTest,
  file: string,
  mark: number,
  empty = false,
): Promise<AuditEvent> {
  return waitForAuditAfter(
    server.sandbox,
    mark,
    (e) => (empty ? e.event === 'module.failed' : loadFailed(e)) && e.module === server.path(file),
  );
}

/** The pid the static `server_info` tool reports: the same pid before and after a fault means no restart. */
export async function serverPid(session: Session): Promise<number> {
  return (JSON.parse(await callText(session.client, 'server_info')) as { pid: number }).pid;
}

/** The names of the tools a client lists, sorted. */
export async function toolNames(session: Session): Promise<string[]> {
  return (await session.client.listTools()).tools.map((tool) => tool.name).sort();
}

/** Wait (bounded) until calling `name` with `args` answers `text`. */
export async function untilAnswers(
  session: Session,
  name: string,
  args: Record<string, unknown>,
  text: string,
  timeoutMs = 10_000,
): Promise<void> {
  let last = '';
  try {
    await waitUntil(
      async () => {
        last = await callText(session.client, name, args).catch((error: Error) => error.message);
        return last === text;
      },
      { timeoutMs, what: `${name} to answer ${JSON.stringify(text)}` },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last answer: ${JSON.stringify(last)}`);
  }
}

/** One server per test: a fresh sandbox, the server connected over stdio, and its pid. */
export interface ServerUnderTest {
  sandbox: Sandbox;
  session: Session;
  /** The server's pid at start. */
  pid: number;
  /** Absolute path of a file under the tools folder. */
  path(relative: string): string;
}

/** Options of {@link useServer}. */
export interface UseServerOptions {
  env?: Record<string, string>;
  /** Prepare the sandbox before the server starts. Returns options for `connect` (e.g. a user to run as). */
  prepare?: (sandbox: Sandbox) => Promise<ConnectOptions | undefined>;
}

/** Register hooks that give each test its own server; read the fields inside tests. */
export function useServer(options: UseServerOptions = {}): ServerUnderTest {
  const state = {} as ServerUnderTest;
  beforeEach(async () => {
    state.sandbox = await createSandbox();
    const connectOptions = (await options.prepare?.(state.sandbox)) ?? {};
    state.session = await connect(state.sandbox, options.env, connectOptions);
    state.pid = await serverPid(state.session);
    state.path = (relative) => join(state.sandbox.toolsDir, relative);
  });
  afterEach(async () => {
    await state.session?.close();
    await state.sandbox?.cleanup();
  });
  return state;
}

/** The server did not restart, and the example's `echo` still answers with its original code. */
export async function expectEchoKept(server: ServerUnderTest): Promise<void> {
  expect(await serverPid(server.session)).toBe(server.pid);
  expect(await callText(server.session.client, 'echo', { text: 'still' })).toBe('« still »');
}

/** A good save of `echo.ts` is picked up: the fixed version answers and the batch loads with no failure. */
export async function expectEchoRecovers(server: ServerUnderTest, file = 'echo.ts'): Promise<void> {
  const mark = await auditMark(server.sandbox);
  await server.sandbox.write(file, greetTool('echo', 'Fixed'));
  await untilAnswers(server.session, 'echo', { name: 'x' }, 'Fixed x');
  await waitForAuditAfter(server.sandbox, mark, (e) => e.event === 'batch.applied' && e.failed === 0);
  expect(await serverPid(server.session)).toBe(server.pid);
}

/**
 * How to start the server when a case needs file permissions to bite: root
 * reads everything, so a test running as root starts it without the
 * capabilities that let it (see ConnectOptions.withoutFileOverride); anyone
 * else starts it as themselves.
 */
export const AS_ROOT = process.getuid?.() === 0;

/** The connect options under which file permissions apply to the server. */
export async function permissionsBite(): Promise<ConnectOptions | undefined> {
  return AS_ROOT ? { withoutFileOverride: true } : undefined;
}
