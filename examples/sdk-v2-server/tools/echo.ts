import { defineTool } from '@hotmcp/core';
import { z } from 'zod';
import { decorate } from './lib/format.js';

export default defineTool({
  name: 'echo',
  description: 'Echo the text back',
  inputSchema: z.object({ text: z.string() }),
  handler: async ({ text }) => ({ content: [{ type: 'text', text: decorate(text) }] }),
});
