/**
 * Streamable HTTP on @modelcontextprotocol/sdk 1.x: one McpServer per
 * session, every one attached to a fan-out adapter, so a reload reaches every
 * live session and a new session starts from the current catalog.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSdkV1Adapter } from '@hotmcp/adapter-sdk-v1';
import { type AuditSink, createFanOutAdapter, type FanOutRegistryAdapter } from '@hotmcp/core';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { SessionTable } from './session-table.js';

/** Options of {@link createV1Sessions}. */
export interface V1SessionsOptions {
  audit: AuditSink;
  /**
   * How long a session may stay idle — no GET stream open (the channel
   * list_changed goes out on) and no request being answered — before it is
   * closed: a client that went away without a DELETE, or never listened.
   */
  graceMs: number;
}

/** The SDK 1.x endpoint: a request handler and what it holds. */
export interface V1Sessions {
  handle(req: IncomingMessage & { body?: unknown }, res: ServerResponse): Promise<void>;
  /** Live sessions, as the fan-out counts them. */
  attached(): number;
  /** Sessions with their GET stream open: those a list_changed reaches right now. */
  streaming(): number;
  /** The adapter the reloader commits to: every session of this endpoint is attached to it. */
  fanOut: FanOutRegistryAdapter;
  /** Attach another endpoint's fan-out, so each batch reaches its sessions too (not counted as a session). */
  attachEndpoint(other: FanOutRegistryAdapter): Promise<void>;
  close(): Promise<void>;
}

const startedAt = Date.now();

/** Every session's server, and the catalog server, are built here: same capabilities, same static tool. */
function createServer(): McpServer {
  const server = new McpServer(
    { name: 'hotmcp-example-http-v1', version: '0.1.0' },
    {
      capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true } },
    },
  );
  server.registerTool(
    'server_info',
    { description: 'Process id and uptime of this server (it never restarts on a reload)' },
    async () => ({
      content: [{ type: 'text', text: JSON.stringify({ pid: process.pid, uptimeMs: Date.now() - startedAt }) }],
    }),
  );
  return server;
}

function jsonRpcError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

/** The handler of the SDK 1.x endpoint, and the fan-out to hand to the reloader. */
export function createV1Sessions(options: V1SessionsOptions): V1Sessions {
  const sessions = new SessionTable<StreamableHTTPServerTransport>(options.graceMs);
  const fanOut = createFanOutAdapter({
    catalog: createSdkV1Adapter(createServer()),
    audit: options.audit,
    // A session that could not take a batch still serves the old catalog: close it, its client reconnects.
    onSessionFailed: (adapter) => sessions.closeFor(adapter),
  });
  let endpoints = 0;

  async function open(req: IncomingMessage & { body?: unknown }, res: ServerResponse): Promise<void> {
    const server = createServer();
    const adapter = createSdkV1Adapter(server);
    const detach = await fanOut.attach(adapter); // before connect: the catalog is there when the client lists
    const session = sessions.open(adapter, (init) => new StreamableHTTPServerTransport(init), detach);
    const { transport } = session;
    await server.connect(transport);
    session.track(req, res);
    await transport.handleRequest(req, res, req.body);
    if (transport.sessionId === undefined) session.close(); // the initialize was refused: no session to keep
  }

  return {
    async handle(req, res) {
      const id = req.headers['mcp-session-id'];
      if (typeof id === 'string') {
        const session = sessions.get(id);
        if (session === undefined) return jsonRpcError(res, 404, 'Session not found');
        session.track(req, res);
        return session.transport.handleRequest(req, res, req.body);
      }
      if (req.method === 'POST' && isInitializeRequest(req.body)) return open(req, res);
      jsonRpcError(res, 400, 'Bad Request: no valid session id');
    },
    attached: () => fanOut.size - endpoints,
    streaming: () => sessions.streaming,
    fanOut,
    async attachEndpoint(other) {
      await fanOut.attach(other);
      endpoints++;
    },
    close: () => sessions.closeAll(),
  };
}
