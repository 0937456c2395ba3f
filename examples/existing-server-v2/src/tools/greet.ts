import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

export function registerGreetTools(server: McpServer): void {
  server.registerTool(
    'greet',
    { description: 'Greet someone', inputSchema: z.object({ name: z.string() }) },
    async ({ name }) => ({ content: [{ type: 'text', text: `Hello, ${name}!` }] }),
  );
}
