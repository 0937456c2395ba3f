import { defineTool } from '@hotmcp/core';
import { z } from 'zod';

export default defineTool({
  name: 'echo',
  description: 'Echo the text back',
  inputSchema: z.object({ text: z.string() }),
  handler: async ({ text }) => ({ content: [{ type: 'text', text: `echo: ${text}` }] }),
});
