import { defineTool } from '@hotmcp/core';
import { z } from 'zod';
import { decorate } from './lib/format.js';

export const wordCount = defineTool({
  name: 'word_count',
  description: 'Count the words in a text',
  inputSchema: z.object({ text: z.string() }),
  handler: async ({ text }) => {
    const words = text.split(/\s+/).filter(Boolean).length;
    return { content: [{ type: 'text', text: decorate(`${words} words`) }] };
  },
});
