/**
 * A stdio MCP server on the SDK's low-level `Server` with its own tool table,
 * hot-reloaded through a custom ToolRegistryAdapter. createReloader cannot
 * pick an adapter for a server it does not know, so we pass ours.
 */
import { fileURLToPath } from 'node:url';
import { createReloader } from '@hotmcp/core';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createToolTableAdapter } from './tool-table-adapter.js';
import { createToolTableServer } from './tool-table-server.js';

const root = process.env.HOTMCP_TOOLS_DIR ?? fileURLToPath(new URL('../tools', import.meta.url));
const audit = process.env.HOTMCP_AUDIT_LOG ? { path: process.env.HOTMCP_AUDIT_LOG } : undefined;

const table = createToolTableServer({ name: 'hotmcp-example-custom-adapter', version: '0.1.0' });
// The application's own tool: the adapter treats it as foreign and never replaces it.
table.tools.set('server_info', {
  name: 'server_info',
  description: 'Process id of this server',
  inputSchema: { type: 'object', properties: {} },
  parse: async () => ({ ok: true, value: {} }),
  run: () => ({ content: [{ type: 'text', text: JSON.stringify({ pid: process.pid }) }] }),
});

const reloader = await createReloader({ adapter: createToolTableAdapter(table), root, ...(audit && { audit }) });
await reloader.start();

const transport = new StdioServerTransport();
let closing = false;
const shutdown = async () => {
  if (closing) return;
  closing = true;
  await table.server.close();
  await reloader.stop();
  process.exit(0);
};
transport.onclose = shutdown;
process.stdin.on('end', shutdown);
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
await table.server.connect(transport);
process.stderr.write(`custom adapter example: serving on stdio, hot-reloading ${root}\n`);
