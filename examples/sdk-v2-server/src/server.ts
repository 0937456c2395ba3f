/**
 * An MCP server on @modelcontextprotocol/server 2.x whose tools/ folder is
 * hot-reloaded: edit, add or delete a tool, prompt or resource module and
 * connected clients see the change at once, with no restart. stdout is the
 * MCP channel; everything else goes to stderr.
 */
import { fileURLToPath } from 'node:url';
import { guardStdout, startHotReload, stopHotReload } from '@hotmcp/core';
import { McpServer } from '@modelcontextprotocol/server';
import { StdioServerTransport, serveStdio } from '@modelcontextprotocol/server/stdio';

// stdout is the MCP channel: from here on, what anything else writes there
// (a tool module's console.log) goes to stderr, and only the transport holds
// the real stdout. HOTMCP_STDOUT_GUARD=0 turns the guard off.
const stdout = process.env.HOTMCP_STDOUT_GUARD === '0' ? process.stdout : guardStdout();

const toolsDir = process.env.HOTMCP_TOOLS_DIR ?? fileURLToPath(new URL('../tools', import.meta.url));
const audit = process.env.HOTMCP_AUDIT_LOG ? { path: process.env.HOTMCP_AUDIT_LOG } : undefined;
const startedAt = Date.now();
// HOTMCP_CONTROL_TOOLS=1: the hotmcp_status and hotmcp_reload tools, and failed reloads sent as log messages.
const control = process.env.HOTMCP_CONTROL_TOOLS === '1';
// HOTMCP_POLL_INTERVAL_MS: the polling interval when HOTMCP_WATCHER=poll.
const pollIntervalMs = Number(process.env.HOTMCP_POLL_INTERVAL_MS) || undefined;

function createServer(): McpServer {
  // list_changed must be advertised before connect, for every list the reloader may change.
  const server = new McpServer(
    { name: 'hotmcp-example-sdk-v2', version: '0.1.0' },
    {
      capabilities: {
        tools: { listChanged: true },
        prompts: { listChanged: true },
        resources: { listChanged: true },
        ...(control && { logging: {} }),
      },
    },
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
  return server;
}

// serveStdio serves both protocol eras: it builds one server for the era the
// client opens with (a 2025 `initialize`, or a 2026-07-28 request) and pins it
// for the connection. The reloader follows the server that serves; files under
// tools/drafts/ are watched but never loaded.
const handle = serveStdio(
  async () => {
    await stopHotReload(); // a server/discover probe answered by another instance, now discarded
    const server = createServer();
    await startHotReload({
      server,
      root: toolsDir,
      deny: ['drafts/**'],
      controlTools: control,
      ...(pollIntervalMs && { pollIntervalMs }),
      ...(audit && { audit }),
    });
    return server;
  },
  {
    transport: new StdioServerTransport(process.stdin, stdout),
    onerror: (error) => process.stderr.write(`hotmcp example: ${error.message}\n`),
  },
);

let closing = false;
const shutdown = async () => {
  if (closing) return;
  closing = true;
  await handle.close(); // first, so unregistering the hot-loaded entries notifies no one
  await stopHotReload();
  process.exit(0);
};
process.stdin.on('end', shutdown);
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
process.stderr.write(`hotmcp example: serving on stdio, hot-reloading ${toolsDir}\n`);
