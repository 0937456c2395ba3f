import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';

// Module state: under hotmcp dev it lives as long as this module is not edited.
let count = 0;

export function registerCounterTools(server: McpServer): void {
  server.registerTool('count', { description: 'Count the calls' }, async () => {
    count += 1;
    return { content: [{ type: 'text', text: String(count) }] };
  });
}
