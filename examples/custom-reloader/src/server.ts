/**
 * A stdio MCP server on @modelcontextprotocol/server 2.x whose reloader is
 * composed by hand (see compose.ts) instead of by createReloader().
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { McpServer } from '@modelcontextprotocol/server';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { composeReloader } from './compose.js';

const root = process.env.HOTMCP_TOOLS_DIR ?? fileURLToPath(new URL('../tools', import.meta.url));
const auditFile = process.env.HOTMCP_AUDIT_LOG ?? join(tmpdir(), 'hotmcp', 'custom-reloader-audit.log');

const server = new McpServer(
  { name: 'hotmcp-example-custom-reloader', version: '0.1.0' },
  { capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true } } },
);
const reloader = composeReloader(server, { root, auditFile, pollIntervalMs: 50 });
await reloader.start();

const transport = new StdioServerTransport();
let closing = false;
const shutdown = async () => {
  if (closing) return;
  closing = true;
  await server.close(); // first, so unregistering the hot-loaded tools notifies no one
  await reloader.stop();
  process.exit(0);
};
transport.onclose = shutdown;
process.stdin.on('end', shutdown);
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
await server.connect(transport);
process.stderr.write(`custom reloader: serving on stdio, hot-reloading ${root}, audit in ${auditFile}\n`);
