/**
 * Streamable HTTP on @modelcontextprotocol/server 2.x: `createMcpHandler`
 * builds a fresh McpServer for every request, so there is no session to
 * attach. Each one is seeded with the current catalog; list_changed reaches
 * 2026-07-28 clients on the `subscriptions/listen` streams they open, through
 * the handler's event bus (`handler.notify`), once per batch; the bus
 * (`createPacedEventBus`) writes them a slice of streams per event-loop turn.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { createPacedEventBus, createSdkV2Adapter } from '@hotmcp/adapter-sdk-v2';
import { type AuditSink, createFanOutAdapter, createReloader, type ListKind, type Reloader } from '@hotmcp/core';
import {
  createMcpHandler,
  hostHeaderValidationResponse,
  localhostAllowedHostnames,
  McpServer,
  type ServerNotifier,
} from '@modelcontextprotocol/server';

/** Options of {@link createV2Handler}. */
export interface V2HandlerOptions {
  toolsDir: string;
  audit: AuditSink;
  /** Most `subscriptions/listen` streams open at once. */
  maxSubscriptions: number;
  onerror(error: Error): void;
}

/** The SDK 2.x endpoint: a request handler and what it holds. */
export interface V2Handler {
  handle(req: IncomingMessage & { body?: unknown }, res: ServerResponse): Promise<void>;
  /** Open `subscriptions/listen` streams. */
  subscriptions(): number;
  reloader: Reloader;
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

/** Start the reloader and return the handler of the SDK 2.x endpoint. */
export async function createV2Handler(options: V2HandlerOptions): Promise<V2Handler> {
  // Streams are told a slice per event-loop turn: the first clients hear of a batch while the rest are being told.
  const bus = createPacedEventBus({ onerror: options.onerror });
  let notify: ServerNotifier | undefined;
  const fanOut = createFanOutAdapter({
    catalog: createSdkV2Adapter(createServer()),
    audit: options.audit,
    // The per-request servers are gone by now: one event on the bus reaches every listen stream.
    onCommitted: ({ notified }) => {
      for (const kind of notified) (notify?.[PUBLISH[kind]] as (() => void) | undefined)?.();
    },
  });
  const reloader = await createReloader({ root: options.toolsDir, adapter: fanOut, audit: options.audit });
  await reloader.start();

  const handler = createMcpHandler(
    async () => {
      const server = createServer();
      await fanOut.seed(createSdkV2Adapter(server));
      return server;
    },
    { bus, maxSubscriptions: options.maxSubscriptions, onerror: options.onerror },
  );
  notify = handler.notify;

  // Express has parsed the body already: hand it over, and let @hono/node-server bridge the rest.
  const listener = getRequestListener(async (request, env) => {
    const refused = hostHeaderValidationResponse(request, localhostAllowedHostnames());
    if (refused !== undefined) return refused;
    const body = (env.incoming as { body?: unknown }).body;
    return handler.fetch(request, body === undefined ? {} : { parsedBody: body });
  });

  return {
    handle: (req, res) => listener(req, res),
    subscriptions: () => bus.listenerCount,
    reloader,
    async close() {
      await handler.close();
      await reloader.stop();
    },
  };
}
