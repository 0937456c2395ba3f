import { defineTool } from '@hotmcp/core';
import { z } from 'zod';

export default defineTool({
  name: 'shout',
  description: 'Say it louder',
  inputSchema: z.object({ text: z.string() }),
  handler: async ({ text }) => ({ content: [{ type: 'text', text: `${text.toUpperCase()}!` }] }),
});
