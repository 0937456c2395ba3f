import { defineTool } from '@hotmcp/core';
import { z } from 'zod';

export default defineTool({
  name: 'hello',
  description: 'Say hello',
  inputSchema: z.object({ name: z.string() }),
  handler: async ({ name }) => ({ content: [{ type: 'text', text: `Hello, ${name}!` }] }),
});
