import { defineResource } from '@hotmcp/core';

const notes: Record<string, string> = { '1': 'Buy milk', '2': 'Ship hotmcp' };

// A fixed resource. Its URI is registered as new URL(uri).href, the key the SDK reads it back by.
export const index = defineResource({
  name: 'notes-index',
  uri: 'notes://all',
  mimeType: 'text/plain',
  handler: async (uri) => ({ contents: [{ uri: uri.href, text: Object.values(notes).join('\n') }] }),
});

// A URI template: notes://1, notes://2, ...
export const note = defineResource({
  name: 'note',
  template: 'notes://{id}',
  mimeType: 'text/plain',
  handler: async (uri, { id }) => ({ contents: [{ uri: uri.href, text: notes[String(id)] ?? '(no such note)' }] }),
});
