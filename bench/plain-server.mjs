// The same kind of server with no reloader: one McpServer, one tool, stdio.
// Its cold start is the floor any restart-based reloader pays.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'plain', version: '0.0.0' });
server.registerTool('greet', { inputSchema: { name: z.string() } }, async ({ name }) => ({
  content: [{ type: 'text', text: `hi ${name}` }],
}));
await server.connect(new StdioServerTransport());
