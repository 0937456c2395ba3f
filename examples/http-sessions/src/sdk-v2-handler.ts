/**
 * Streamable HTTP on @modelcontextprotocol/server 2.x.
 *
 * 2026-07-28 clients: `createMcpHandler` builds a fresh McpServer for every
 * request, so there is no session to attach. Each one is seeded with the
 * current catalog; list_changed reaches them on the `subscriptions/listen`
 * streams they open, through the handler's event bus (`handler.notify`), once
 * per batch; the bus (`createPacedEventBus`) writes them a slice of streams
 * per event-loop turn.
 *
 * 2025-era clients (what `isLegacyRequest` routes here): a session each, with
 * its own McpServer on a sessionful `WebStandardStreamableHTTPServerTransport`,
 * attached to the fan-out like the SDK 1.x endpoint's sessions, so list_changed
 * reaches them on their GET stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { createPacedEventBus, createSdkV2Adapter } from '@hotmcp/adapter-sdk-v2';
import { type AuditSink, createFanOutAdapter, type FanOutRegistryAdapter, type ListKind } from '@hotmcp/core';
import {
  createMcpHandler,
  hostHeaderValidationResponse,
  isInitializeRequest,
  isLegacyRequest,
  localhostAllowedHostnames,
  McpServer,
  type ServerNotifier,
  WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server';
import { SessionTable } from './session-table.js';

/** Options of {@link createV2Handler}. */
export interface V2HandlerOptions {
  audit: AuditSink;
  /** Most `subscriptions/listen` streams open at once. */
  maxSubscriptions: number;
  /** How long a 2025-era client's session may stay idle before it is closed (see {@link SessionTable}). */
  graceMs: number;
  onerror(error: Error): void;
}

/** The SDK 2.x endpoint: a request handler and what it holds. */
export interface V2Handler {
  handle(req: IncomingMessage & { body?: unknown }, res: ServerResponse): Promise<void>;
  /** Open `subscriptions/listen` streams. */
  subscriptions(): number;
  /** Live sessions of 2025-era clients. */
  legacySessions(): number;
  /** Of those, the ones with their GET stream open. */
  legacyStreaming(): number;
  /**
   * The adapter batches reach this endpoint through: the reloader's, or a
   * session attached to the SDK 1.x endpoint's fan-out when both are served.
   */
  fanOut: FanOutRegistryAdapter;
  close(): Promise<void>;
}

const startedAt = Date.now();

function createServer(): McpServer {
  const server = new McpServer(
    { name: 'hotmcp-example-http-v2', version: '0.1.0' },
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

const PUBLISH: Record<ListKind, keyof ServerNotifier> = {
  tool: 'toolsChanged',
  prompt: 'promptsChanged',
  resource: 'resourcesChanged',
};

/** The handler of the SDK 2.x endpoint, and its fan-out. */
export function createV2Handler(options: V2HandlerOptions): V2Handler {
  // Streams are told a slice per event-loop turn: the first clients hear of a batch while the rest are being told.
  const bus = createPacedEventBus({ onerror: options.onerror });
  let notify: ServerNotifier | undefined;
  const legacy = new SessionTable<WebStandardStreamableHTTPServerTransport>(options.graceMs);
  const fanOut = createFanOutAdapter({
    catalog: createSdkV2Adapter(createServer()),
    audit: options.audit,
    // A session that could not take a batch still serves the old catalog: close it, its client reconnects.
    onSessionFailed: (adapter) => legacy.closeFor(adapter),
    // The per-request servers are gone by now: one event on the bus reaches every listen stream.
    onCommitted: ({ notified }) => {
      for (const kind of notified) (notify?.[PUBLISH[kind]] as (() => void) | undefined)?.();
    },
  });

  const handler = createMcpHandler(
    async () => {
      const server = createServer();
      await fanOut.seed(createSdkV2Adapter(server));
      return server;
    },
    // 2025-era traffic never reaches this handler: it is routed to the sessions below.
    { bus, maxSubscriptions: options.maxSubscriptions, onerror: options.onerror, legacy: 'reject' },
  );
  notify = handler.notify;

  /** A 2025-era client's initialize: a new session, attached to the fan-out before the client can list. */
  async function openLegacy(request: Request, body: unknown, req: IncomingMessage, res: ServerResponse) {
    const server = createServer();
    const adapter = createSdkV2Adapter(server);
    const detach = await fanOut.attach(adapter);
    const session = legacy.open(adapter, (init) => new WebStandardStreamableHTTPServerTransport(init), detach);
    const { transport } = session;
    await server.connect(transport);
    session.track(req, res);
    const response = await transport.handleRequest(request, { parsedBody: body });
    if (transport.sessionId === undefined) session.close(); // the initialize was refused: no session to keep
    return response;
  }

  async function serveLegacy(request: Request, body: unknown, req: IncomingMessage, res: ServerResponse) {
    const id = request.headers.get('mcp-session-id');
    if (id !== null) {
      const session = legacy.get(id);
      if (session === undefined) return jsonRpcError(404, 'Session not found');
      session.track(req, res);
      return session.transport.handleRequest(request, { parsedBody: body });
    }
    if (request.method === 'POST' && isInitializeRequest(body)) return openLegacy(request, body, req, res);
    return jsonRpcError(400, 'Bad Request: no valid session id');
  }

  // Express has parsed the body already: hand it over, and let @hono/node-server bridge the rest.
  const listener = getRequestListener(async (request, env) => {
    const refused = hostHeaderValidationResponse(request, localhostAllowedHostnames());
    if (refused !== undefined) return refused;
    const { incoming, outgoing } = env as { incoming: IncomingMessage & { body?: unknown }; outgoing: ServerResponse };
    const body = incoming.body;
    if (await isLegacyRequest(request, body)) return serveLegacy(request, body, incoming, outgoing);
    return handler.fetch(request, body === undefined ? {} : { parsedBody: body });
  });

  return {
    handle: (req, res) => listener(req, res),
    subscriptions: () => bus.listenerCount,
    legacySessions: () => legacy.size,
    legacyStreaming: () => legacy.streaming,
    fanOut,
    async close() {
      await legacy.closeAll();
      await handler.close();
    },
  };
}

function jsonRpcError(status: number, message: string): Response {
  return Response.json({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }, { status });
}
