/**
 * An MCP server on @modelcontextprotocol/sdk 1.x whose tools/ folder is
 * hot-reloaded: edit, add or delete a tool module and connected clients see
 * the change at once, with no restart. stdout is the MCP channel; everything
 * else goes to stderr.
 */
import { fileURLToPath } from 'node:url';
import { guardStdout, startHotReload, stopHotReload } from '@hotmcp/core';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

// stdout is the MCP channel: from here on, what anything else writes there
// (a tool module's console.log) goes to stderr, and only the transport holds
// the real stdout. HOTMCP_STDOUT_GUARD=0 turns the guard off.
const stdout = process.env.HOTMCP_STDOUT_GUARD === '0' ? process.stdout : guardStdout();

const toolsDir = process.env.HOTMCP_TOOLS_DIR ?? fileURLToPath(new URL('../tools', import.meta.url));
const startedAt = Date.now();
// HOTMCP_CONTROL_TOOLS=1: the hotmcp_status and hotmcp_reload tools, and failed reloads sent as log messages.
const control = process.env.HOTMCP_CONTROL_TOOLS === '1';
// HOTMCP_DISPATCHER=1: hotmcp_call and hotmcp_status, for clients that ignore list_changed.
const dispatcher = process.env.HOTMCP_DISPATCHER === '1';
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
// New module versions are evaluated first in a worker thread under a time limit (2 s by default), so
// one that never finishes importing cannot freeze the server. HOTMCP_PREFLIGHT_TIMEOUT_MS sets the
// limit; 0 turns the preflight off.
const preflightMs = Number(process.env.HOTMCP_PREFLIGHT_TIMEOUT_MS ?? Number.NaN);
const preflight = Number.isNaN(preflightMs) ? undefined : preflightMs === 0 ? false : { timeoutMs: preflightMs };
// Files under tools/drafts/ are work in progress: watched, never loaded.
await startHotReload({
  server,
  root: toolsDir,
  deny: ['drafts/**'],
  controlTools: control,
  dispatcher,
  ...(pollIntervalMs && { pollIntervalMs }),
  ...(audit && { audit }),
  ...(preflight !== undefined && { preflight }),
});

const transport = new StdioServerTransport(process.stdin, stdout);
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
