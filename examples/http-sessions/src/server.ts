/**
 * An MCP server over Streamable HTTP with many sessions, whose tools/ folder
 * is hot-reloaded for all of them:
 *
 * - `POST|GET|DELETE /mcp`: @modelcontextprotocol/sdk 1.x, one McpServer per session;
 * - `POST /v2/mcp`: @modelcontextprotocol/server 2.x `createMcpHandler`, one McpServer per request, for
 *   2026-07-28 clients; `POST|GET|DELETE /v2/mcp` for 2025-era clients: one McpServer per session.
 *
 * Bound to 127.0.0.1; requests whose Host header is not localhost are refused
 * (DNS rebinding protection, by each SDK's own check). Logs go to stderr.
 */
import { realpathSync } from 'node:fs';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { type AuditSink, createReloader, createWinstonAuditSink } from '@hotmcp/core';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { createV1Sessions } from './sdk-v1-sessions.js';
import { createV2Handler } from './sdk-v2-handler.js';

const HOST = '127.0.0.1';
const toolsDir = process.env.HOTMCP_TOOLS_DIR ?? fileURLToPath(new URL('../tools', import.meta.url));
const port = Number(process.env.PORT ?? 3000);
const sdks = new Set((process.env.HOTMCP_SDKS ?? 'v1,v2').split(','));
const graceMs = Number(process.env.HOTMCP_SESSION_GRACE_MS ?? 10_000);
const maxSubscriptions = Number(process.env.HOTMCP_MAX_SUBSCRIPTIONS ?? 10_000);

const log = (message: string) => process.stderr.write(`hotmcp http-sessions: ${message}\n`);

// One audit sink for both reloaders and fan-outs; closed once, at shutdown.
const sink = createWinstonAuditSink(process.env.HOTMCP_AUDIT_LOG ? { path: process.env.HOTMCP_AUDIT_LOG } : {});
const audit: AuditSink = { record: (event, fields) => sink.record(event, fields), close: async () => {} };

const v1 = sdks.has('v1') ? createV1Sessions({ audit, graceMs }) : undefined;
const v2 = sdks.has('v2')
  ? createV2Handler({ audit, maxSubscriptions, graceMs, onerror: (error) => log(error.message) })
  : undefined;
// One reloader serves both endpoints: it commits each batch to the first endpoint's fan-out, and the
// second's is attached to that one as a session. Each version of a module is loaded and checked once,
// however many endpoints and sessions there are.
const adapter = v1?.fanOut ?? v2?.fanOut;
if (adapter === undefined) throw new Error(`HOTMCP_SDKS names no endpoint (v1, v2): ${process.env.HOTMCP_SDKS}`);
if (v1 && v2) await v1.attachEndpoint(v2.fanOut);

// Opt-in fleet mode: the tools come from a Redis Stream (written into toolsDir); without HOTMCP_REDIS_URL
// nothing of it is loaded.
const redisUrl = process.env.HOTMCP_REDIS_URL;
const changeSource = redisUrl
  ? (await import('@hotmcp/source-redis')).createRedisChangeSource({
      root: realpathSync(toolsDir),
      redis: redisUrl,
      ...(process.env.HOTMCP_REDIS_STREAM && { stream: process.env.HOTMCP_REDIS_STREAM }),
      ...(process.env.HOTMCP_REPLICA && { replica: process.env.HOTMCP_REPLICA }),
      audit,
    })
  : undefined;
// HOTMCP_PREFLIGHT_TIMEOUT_MS: the import preflight's limit (2 s by default); 0 turns the preflight off.
const preflightMs = process.env.HOTMCP_PREFLIGHT_TIMEOUT_MS;
const reloader = await createReloader({
  root: toolsDir,
  adapter,
  audit,
  // Batches from Redis are applied as they come, not coalesced.
  ...(changeSource && { changeSource, coalesce: false }),
  ...(preflightMs && { preflight: Number(preflightMs) === 0 ? false : { timeoutMs: Number(preflightMs) } }),
  controlTools: process.env.HOTMCP_CONTROL_TOOLS === '1',
});
changeSource?.observe(reloader);
await reloader.start();

// createMcpExpressApp binds its Host check to 127.0.0.1: a foreign Host header is answered 403.
const app = createMcpExpressApp({ host: HOST });
if (v1) app.all('/mcp', (req, res) => v1.handle(req, res));
if (v2) app.all('/v2/mcp', (req, res) => v2.handle(req, res));
app.get('/hotmcp/sessions', (_req, res) => {
  res.json({
    v1: v1?.attached() ?? 0,
    v1Streaming: v1?.streaming() ?? 0,
    v2: v2?.subscriptions() ?? 0,
    v2Legacy: v2?.legacySessions() ?? 0,
    v2LegacyStreaming: v2?.legacyStreaming() ?? 0,
  });
});

const server: Server = app.listen(port, HOST, () => {
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  const from = changeSource
    ? ` from Redis stream ${process.env.HOTMCP_REDIS_STREAM ?? 'hotmcp:fleet'} as replica ${changeSource.replica}`
    : '';
  log(`listening on http://${HOST}:${bound} (${[...sdks].join(', ')}), hot-reloading ${toolsDir}${from}`);
});
server.on('error', (error) => {
  log(error.message);
  process.exit(1);
});

let closing = false;
async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  server.close();
  server.closeAllConnections();
  await v1?.close();
  await v2?.close();
  await reloader.stop();
  await sink.close();
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
