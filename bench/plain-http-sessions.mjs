// The baseline of `pnpm bench:sessions`: the example's HTTP server with no
// reloader. Same endpoints, same per-session McpServer (SDK 1.x) and
// createMcpHandler with the SDK's own event bus (SDK 2.x), same static tools;
// `POST /notify` tells every session its tools changed, the plain SDK way
// (sendToolListChanged on each session's server, handler.notify.toolsChanged()).
// What it costs the server and 1,000 clients to hear one list_changed, without
// a file, a watcher or a reload, is the floor of this machine.
import { randomUUID } from 'node:crypto';
import { getRequestListener } from '@hono/node-server';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { McpServer as McpServerV1 } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import {
  createMcpHandler,
  hostHeaderValidationResponse,
  InMemoryServerEventBus,
  localhostAllowedHostnames,
  McpServer as McpServerV2,
} from '@modelcontextprotocol/server';
import { z } from 'zod';

const HOST = '127.0.0.1';
const capabilities = { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true } };
const log = (message) => process.stderr.write(`plain http-sessions: ${message}\n`);

/** The example's tools, registered once per server: server_info and echo. */
function addTools(server) {
  server.registerTool('server_info', { description: 'Process id of this server' }, async () => ({
    content: [{ type: 'text', text: JSON.stringify({ pid: process.pid }) }],
  }));
  server.registerTool(
    'echo',
    { description: 'Echo the text back', inputSchema: z.object({ text: z.string() }) },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  return server;
}

// SDK 1.x: one McpServer per session.
const v1 = new Map();
let v1Streaming = 0;
async function handleV1(req, res) {
  const id = req.headers['mcp-session-id'];
  if (typeof id === 'string') {
    const session = v1.get(id);
    if (session === undefined) return res.status(404).end();
    if (req.method === 'GET') {
      v1Streaming++;
      res.on('close', () => v1Streaming--);
    }
    return session.transport.handleRequest(req, res, req.body);
  }
  if (req.method !== 'POST' || !isInitializeRequest(req.body)) return res.status(400).end();
  const server = addTools(new McpServerV1({ name: 'plain-http-v1', version: '0.0.0' }, { capabilities }));
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    onsessioninitialized: (sessionId) => v1.set(sessionId, { server, transport }),
  });
  transport.onclose = () => {
    if (transport.sessionId !== undefined) v1.delete(transport.sessionId);
  };
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
}

// SDK 2.x: createMcpHandler, a fresh McpServer per request, the SDK's in-memory bus.
const bus = new InMemoryServerEventBus((error) => log(error.message));
const handler = createMcpHandler(
  () => addTools(new McpServerV2({ name: 'plain-http-v2', version: '0.0.0' }, { capabilities })),
  {
    bus,
    maxSubscriptions: Number(process.env.HOTMCP_MAX_SUBSCRIPTIONS ?? 10_000),
    onerror: (error) => log(error.message),
  },
);
const handleV2 = getRequestListener(async (request, env) => {
  const refused = hostHeaderValidationResponse(request, localhostAllowedHostnames());
  if (refused !== undefined) return refused;
  const body = env.incoming.body;
  return handler.fetch(request, body === undefined ? {} : { parsedBody: body });
});

const app = createMcpExpressApp({ host: HOST });
app.all('/mcp', (req, res) => handleV1(req, res));
app.all('/v2/mcp', (req, res) => handleV2(req, res));
app.get('/hotmcp/sessions', (_req, res) => res.json({ v1: v1.size, v1Streaming, v2: bus.listenerCount }));
app.post('/notify', (_req, res) => {
  for (const { server } of v1.values()) server.sendToolListChanged();
  handler.notify.toolsChanged();
  res.json({ v1: v1.size, v2: bus.listenerCount });
});

const server = app.listen(Number(process.env.PORT ?? 0), HOST, () => {
  log(`listening on http://${HOST}:${server.address().port}`);
});
const shutdown = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
