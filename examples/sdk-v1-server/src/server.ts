/**
 * An MCP server on @modelcontextprotocol/sdk 1.x whose tools/ folder is
 * hot-reloaded: edit, add or delete a tool module and connected clients see
 * the change at once, with no restart. stdout is the MCP channel; everything
 * else goes to stderr.
 */
import { fileURLToPath } from 'node:url';
import { startHotReload, stopHotReload } from '@hotmcp/core';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const toolsDir = process.env.HOTMCP_TOOLS_DIR ?? fileURLToPath(new URL('../tools', import.meta.url));
const startedAt = Date.now();
// HOTMCP_CONTROL_TOOLS=1: the hotmcp_status and hotmcp_reload tools, and failed reloads sent as log messages.
const control = process.env.HOTMCP_CONTROL_TOOLS === '1';
// HOTMCP_POLL_INTERVAL_MS: the polling interval when HOTMCP_WATCHER=poll.
const pollIntervalMs = Number(process.env.HOTMCP_POLL_INTERVAL_MS) || undefined;

// list_changed must be advertised before connect, or tools cannot be added later.
const server = new McpServer(
  { name: 'hotmcp-example-sdk-v1', version: '0.1.0' },
  { capabilities: { tools: { listChanged: true }, ...(control && { logging: {} }) } },
);

// A static tool, registered the usual way: the reloader leaves it alone and
// refuses tool modules that try to take its name.
server.registerTool(
  'server_info',
  { description: 'Process id and uptime of this server (it never restarts on a reload)' },
  async () => ({
    content: [{ type: 'text', text: JSON.stringify({ pid: process.pid, uptimeMs: Date.now() - startedAt }) }],
  }),
);

const audit = process.env.HOTMCP_AUDIT_LOG ? { path: process.env.HOTMCP_AUDIT_LOG } : undefined;
// Files under tools/drafts/ are work in progress: watched, never loaded.
await startHotReload({
  server,
  root: toolsDir,
  deny: ['drafts/**'],
  controlTools: control,
  ...(pollIntervalMs && { pollIntervalMs }),
  ...(audit && { audit }),
});

const transport = new StdioServerTransport();
let closing = false;
const shutdown = async () => {
  if (closing) return;
  closing = true;
  await server.close(); // first, so unregistering the hot-loaded tools notifies no one
  await stopHotReload();
  process.exit(0);
};
transport.onclose = shutdown;
process.stdin.on('end', shutdown);
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
await server.connect(transport);
process.stderr.write(`hotmcp example: serving on stdio, hot-reloading ${toolsDir}\n`);
