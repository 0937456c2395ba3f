import { definePrompt } from '@hotmcp/core';
import { z } from 'zod';

export default definePrompt({
  name: 'greeting',
  description: 'Ask the model to greet someone',
  argsSchema: z.object({ name: z.string() }),
  handler: async ({ name }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Please greet ${name} warmly.` } }],
  }),
});
