import { request } from 'node:http';
import { waitUntil } from '@hotmcp/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClientSession,
  connectV1,
  connectV2,
  createSandbox,
  type RunningServer,
  type Sandbox,
  startServer,
} from '../src/harness.js';

const echo = (prefix: string, description = 'Echo the text back') => `import { defineTool } from '@hotmcp/core';
import { z } from 'zod';

export default defineTool({
  name: 'echo',
  description: ${JSON.stringify(description)},
  inputSchema: z.object({ text: z.string() }),
  handler: async ({ text }) => ({ content: [{ type: 'text', text: \`${prefix}: \${text}\` }] }),
});
`;

/** HOTMCP_SESSION_GRACE_MS for the server under test. */
const GRACE_MS = 2000;

const shout = (name: string) => `import { defineTool } from '@hotmcp/core';

export default defineTool({
  name: ${JSON.stringify(name)},
  description: 'Says its name',
  handler: async () => ({ content: [{ type: 'text', text: ${JSON.stringify(name.toUpperCase())} }] }),
});
`;

let sandbox: Sandbox;
let server: RunningServer;
const open: ClientSession[] = [];

async function v1(): Promise<ClientSession> {
  const session = await connectV1(server.origin);
  open.push(session);
  return session;
}

async function v2(): Promise<ClientSession> {
  const session = await connectV2(server.origin);
  open.push(session);
  return session;
}

/** A 2025-era client of the SDK 2.x endpoint: an SDK 1.x client on /v2/mcp. */
async function v2Legacy(): Promise<ClientSession> {
  const session = await connectV1(server.origin, undefined, '/v2/mcp');
  open.push(session);
  return session;
}

/** Wait until every session (SDK 1.x, and 2025-era on SDK 2.x) has its GET stream open, so a list_changed cannot pass it by. */
async function streamsOpen(): Promise<void> {
  await waitUntil(
    async () => {
      const counts = await server.sessions();
      return counts.v1Streaming === counts.v1 && counts.v2LegacyStreaming === counts.v2Legacy;
    },
    { timeoutMs: 15_000, what: 'every session to open its GET stream' },
  );
}

/** No session attached and no listen stream open. */
async function idle(): Promise<boolean> {
  const counts = await server.sessions();
  return counts.v1 === 0 && counts.v2 === 0 && counts.v2Legacy === 0;
}

/**
 * A client that only POSTs (it never opens the GET stream): one JSON-RPC
 * message to /mcp; resolves with the status and the session id the server gave.
 */
async function post(message: object, sessionId?: string): Promise<{ status: number; sessionId: string | null }> {
  const response = await fetch(new URL('/mcp', server.origin), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-06-18',
      ...(sessionId !== undefined && { 'mcp-session-id': sessionId }),
    },
    body: JSON.stringify({ jsonrpc: '2.0', ...message }),
  });
  await response.text();
  return { status: response.status, sessionId: response.headers.get('mcp-session-id') };
}

/** Send a raw HTTP request with the given Host header; resolves with the status code. */
function statusWithHost(path: string, host: string): Promise<number> {
  const url = new URL(path, server.origin);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: {
          host,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-06-18',
        },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'rebinder', version: '1' } },
      }),
    );
  });
}

beforeAll(async () => {
  sandbox = await createSandbox();
  // Long enough for a client between its requests on a loaded machine, short enough to see idle sessions go.
  server = await startServer(sandbox, { HOTMCP_SESSION_GRACE_MS: String(GRACE_MS) });
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((session) => session.close().catch(() => {})));
});

afterAll(async () => {
  await server?.stop();
  await sandbox?.cleanup();
});

describe('examples/http-sessions', () => {
  it('sends list_changed to every session, SDK 1.x and 2.x, and the next call runs the new code', async () => {
    const sessions = [await v1(), await v1(), await v1(), await v2(), await v2(), await v2Legacy()];
    await streamsOpen();
    for (const session of sessions) expect(await session.callText('echo', { text: 'hi' })).toMatch(/: hi$/);

    await sandbox.write('echo.ts', echo('edited', 'Echo, edited'));

    await Promise.all(sessions.map((session) => session.waitForListChanged(1)));
    for (const session of sessions) {
      expect(await session.callText('echo', { text: 'hi' })).toBe('edited: hi');
    }
  });

  it('starts a new session from the current catalog', async () => {
    const watcher = await v1();
    await streamsOpen();
    await sandbox.write('late.ts', shout('late'));
    await watcher.waitForListChanged(1);

    for (const session of [await v1(), await v2(), await v2Legacy()]) {
      expect(await session.listTools()).toEqual(expect.arrayContaining(['server_info', 'echo', 'late']));
      expect(await session.callText('late')).toBe('LATE');
    }
  });

  it('detaches closed sessions: the counts return to their baseline', async () => {
    await waitUntil(idle, { timeoutMs: 15_000, what: 'the sessions of earlier tests to be gone' });
    const terminated = await connectV1(server.origin);
    const dropped = await connectV1(server.origin);
    const listeners = [await connectV2(server.origin), await connectV2(server.origin)];
    const legacyTerminated = await connectV1(server.origin, undefined, '/v2/mcp');
    const legacyDropped = await connectV1(server.origin, undefined, '/v2/mcp');
    await streamsOpen();
    expect(await server.sessions()).toMatchObject({ v1: 2, v2: 2, v2Legacy: 2, v2LegacyStreaming: 2 });

    await terminated.close({ terminate: true }); // DELETE: the session ends at once
    await dropped.close(); // no DELETE: reaped once its GET stream stays closed past the grace time
    await legacyTerminated.close({ terminate: true });
    await waitUntil(async () => (await server.sessions()).v2Legacy === 1, {
      timeoutMs: 15_000,
      what: 'the DELETE to end the session',
    });
    await legacyDropped.close();
    for (const listener of listeners) await listener.close();

    await waitUntil(idle, { timeoutMs: 15_000, what: 'the session counts to return to 0' });
  });

  it('keeps a session that never listens while it keeps asking, and closes it once idle past the grace time', async () => {
    await waitUntil(idle, { timeoutMs: 15_000, what: 'the sessions of earlier tests to be gone' });
    const { sessionId } = await post({
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'post-only', version: '0' } },
    });
    if (sessionId === null) throw new Error('no session id in the initialize answer');
    expect((await post({ method: 'notifications/initialized' }, sessionId)).status).toBe(202);
    expect(await server.sessions()).toMatchObject({ v1: 1, v1Streaming: 0 });
    // Requests a quarter of the grace time apart, for twice the grace time: never idle long enough to be closed.
    for (let id = 2; id < 10; id++) {
      expect((await post({ id, method: 'tools/list' }, sessionId)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, GRACE_MS / 4));
    }
    await waitUntil(idle, { timeoutMs: 15_000, what: 'the idle session to be closed' });
    expect((await post({ id: 10, method: 'tools/list' }, sessionId)).status).toBe(404);
  });

  it('keeps serving the sessions that stay while others come and go', async () => {
    const stays = await v1();
    for (let round = 0; round < 3; round++) {
      const passing = await connectV1(server.origin);
      await passing.close({ terminate: true });
    }
    await streamsOpen();
    await sandbox.write('echo.ts', echo('again'));
    await stays.waitForListChanged(1);
    expect(await stays.callText('echo', { text: 'x' })).toBe('again: x');
    expect((await server.sessions()).v1).toBe(1);
  });

  it('refuses a request whose Host header is not localhost (DNS rebinding), on both endpoints', async () => {
    await waitUntil(idle, { timeoutMs: 15_000, what: 'the sessions of earlier tests to be gone' });
    expect(await statusWithHost('/mcp', 'attacker.example')).toBe(403);
    expect(await statusWithHost('/v2/mcp', 'attacker.example')).toBe(403);
    expect(await statusWithHost('/mcp', 'localhost.attacker.example:80')).toBe(403);
    expect(await server.sessions()).toEqual({ v1: 0, v1Streaming: 0, v2: 0, v2Legacy: 0, v2LegacyStreaming: 0 });
    // The same request with a local Host header is served.
    expect(await statusWithHost('/mcp', server.origin.replace('http://', ''))).toBe(200);
  });
});
