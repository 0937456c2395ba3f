// A plain SDK 1.x stdio server that reads VALUE from ./.env at start: what
// a restart-only change (an environment file) looks like to a server.
import { existsSync, readFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const env = existsSync('.env') ? readFileSync('.env', 'utf8') : '';
const value = /VALUE=(.*)/.exec(env)?.[1] ?? 'none';
const server = new McpServer(
  { name: 'restart-bench', version: '0.0.0' },
  { capabilities: { tools: { listChanged: true } } },
);
server.registerTool('value', { inputSchema: {} }, async () => ({ content: [{ type: 'text', text: value }] }));
const big = 'x'.repeat(200_000);
server.registerTool('big', { inputSchema: {} }, async () => ({ content: [{ type: 'text', text: big }] }));
server.registerTool('ping', { inputSchema: {} }, async () => ({ content: [{ type: 'text', text: 'pong' }] }));
await server.connect(new StdioServerTransport());
