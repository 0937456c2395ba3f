/**
 * An MCP server written the way real ones are, with no hotmcp in it: tools
 * registered in this file, a registerTools(server) tree of per-feature
 * modules, an array of definitions registered in a loop, a prompt and a
 * resource template. `pnpm --silent start` runs it under `hotmcp dev`.
 */
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';
import { textTools } from './text-tools.js';
import { registerTools } from './tools/index.js';

const startedAt = Date.now();
const server = new McpServer({ name: 'existing-server', version: '1.0.0' });

server.registerTool('server_info', { description: 'Process id and uptime of this server' }, async () => ({
  content: [{ type: 'text', text: JSON.stringify({ pid: process.pid, uptimeMs: Date.now() - startedAt }) }],
}));

server.registerTool(
  'add',
  { description: 'Add two numbers', inputSchema: { a: z.number(), b: z.number() } },
  async ({ a, b }) => ({ content: [{ type: 'text', text: `sum: ${a + b}` }] }),
);

registerTools(server);

for (const tool of textTools) {
  server.registerTool(tool.name, { description: tool.description, inputSchema: tool.inputSchema }, tool.handler);
}

server.registerPrompt(
  'review',
  { description: 'Ask for a code review', argsSchema: { code: z.string() } },
  ({ code }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Please review:\n${code}` } }] }),
);

server.registerResource(
  'note',
  new ResourceTemplate('notes://{id}', { list: undefined }),
  { description: 'A note by id' },
  async (uri, { id }) => ({ contents: [{ uri: uri.href, text: `note ${String(id)}` }] }),
);

await server.connect(new StdioServerTransport());
console.error('existing-server: serving on stdio');
