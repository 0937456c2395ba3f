import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport, McpServer, ResourceTemplate } from '@modelcontextprotocol/server';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createSdkV2Adapter } from './sdk-v2-adapter.js';

const HERE = fileURLToPath(import.meta.url);
const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

/** A module's register function, written against SDK 2.x as servers are. */
function register(server: McpServer): void {
  server.registerTool(
    'add',
    { description: 'Adds', inputSchema: z.object({ a: z.number(), b: z.number() }) },
    async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }),
  );
  const draft = server.registerTool('draft', { description: 'renamed below' }, async () => ({
    content: [{ type: 'text', text: 'renamed' }],
  }));
  draft.update({ name: 'final' });
  server.registerTool('hidden', {}, async () => ({ content: [] })).disable();
  server.registerPrompt('review', { argsSchema: z.object({ code: z.string() }) }, ({ code }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Review ${code}` } }],
  }));
  server.registerResource(
    'user',
    new ResourceTemplate('users://{id}', { list: undefined, complete: { id: (value) => [`${value}1`] } }),
    { mimeType: 'text/plain' },
    async (uri, { id }) => ({ contents: [{ uri: uri.href, text: `user ${String(id)}` }] }),
  );
}

/** A live server and its adapter; `before` runs before the client connects (as a reloader's start does). */
async function serve(before: (adapter: ReturnType<typeof createSdkV2Adapter>) => Promise<void>) {
  const server = new McpServer(
    { name: 'live', version: '1' },
    {
      capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true } },
    },
  );
  const adapter = createSdkV2Adapter(server);
  await before(adapter);
  const client = new Client({ name: 'test', version: '1' });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  await client.connect(clientTransport);
  open.push(async () => {
    await client.close();
    await server.close();
  });
  return { adapter, client };
}

const capture = (adapter: ReturnType<typeof createSdkV2Adapter>, fn: (server: McpServer) => void) =>
  adapter.capture(fn as never, { file: HERE, root: HERE, signal: new AbortController().signal });

describe('registrations captured by the SDK 2.x adapter', () => {
  it('are served by a real McpServer to a real Client once committed: list, call, prompt, template read', async () => {
    let registeredByCapture: string[] = ['not captured'];
    const { client } = await serve(async (adapter) => {
      const { definitions } = await capture(adapter, register);
      registeredByCapture = adapter.list().tools;
      adapter.commit(await adapter.prepare({ upsert: definitions, remove: [] }));
    });
    expect(registeredByCapture).toEqual([]);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(['add', 'final']);
    expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).toMatchObject({
      content: [{ text: '5' }],
    });
    expect(await client.callTool({ name: 'final', arguments: {} })).toMatchObject({ content: [{ text: 'renamed' }] });
    expect(await client.getPrompt({ name: 'review', arguments: { code: 'x()' } })).toMatchObject({
      messages: [{ content: { text: 'Review x()' } }],
    });
    expect(await client.readResource({ uri: 'users://7' })).toMatchObject({ contents: [{ text: 'user 7' }] });
    expect(
      await client.complete({
        ref: { type: 'ref/resource', uri: 'users://{id}' },
        argument: { name: 'id', value: 'a' },
      }),
    ).toMatchObject({ completion: { values: ['a1'] } });
  });

  it('refuses capabilities registered by a module, with the file and line of the call', async () => {
    await serve(async (adapter) => {
      await expect(
        capture(adapter, (server) => server.server.registerCapabilities({ logging: {} })),
      ).rejects.toMatchObject({ code: 'HOTMCP_ERR_CAPTURE_UNSUPPORTED', file: HERE, line: expect.any(Number) });
    });
  });
});
