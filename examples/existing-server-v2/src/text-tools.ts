import { z } from 'zod';

/** Tools as an array of definition objects, registered in a loop by the entry. */
export const textTools = [
  {
    name: 'upper',
    description: 'Upper-case a text',
    inputSchema: z.object({ text: z.string() }),
    handler: async ({ text }: { text: string }) => ({ content: [{ type: 'text' as const, text: text.toUpperCase() }] }),
  },
  {
    name: 'reverse',
    description: 'Reverse a text',
    inputSchema: z.object({ text: z.string() }),
    handler: async ({ text }: { text: string }) => ({
      content: [{ type: 'text' as const, text: [...text].reverse().join('') }],
    }),
  },
];
