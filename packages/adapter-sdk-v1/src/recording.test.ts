import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createSdkV1Adapter } from './sdk-v1-adapter.js';

const HERE = fileURLToPath(import.meta.url);
const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

/** A module's register function, written against SDK 1.x as servers are. */
function register(server: McpServer): void {
  server.registerTool(
    'add',
    { description: 'Adds', inputSchema: { a: z.number(), b: z.number() } },
    async ({ a, b }) => ({
      content: [{ type: 'text', text: String(a + b) }],
    }),
  );
  server.tool('shout', 'Shouts', { text: z.string() }, { readOnlyHint: true }, async ({ text }) => ({
    content: [{ type: 'text', text: text.toUpperCase() }],
  }));
  server.prompt('review', { code: z.string() }, ({ code }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Review ${code}` } }],
  }));
  server.registerResource(
    'user',
    new ResourceTemplate('users://{id}', {
      list: async () => ({ resources: [{ uri: 'users://1', name: 'user 1' }] }),
      complete: { id: (value) => [`${value}1`] },
    }),
    { mimeType: 'text/plain' },
    async (uri, { id }) => ({ contents: [{ uri: uri.href, text: `user ${String(id)}` }] }),
  );
  server.server.sendLoggingMessage; // a property read of the run-time surface is fine
}

/** A live server and its adapter; `before` runs before the client connects (as a reloader's start does). */
async function serve(before: (adapter: ReturnType<typeof createSdkV1Adapter>) => Promise<void> = async () => {}) {
  const server = new McpServer(
    { name: 'live', version: '1' },
    {
      capabilities: {
        tools: { listChanged: true },
        prompts: { listChanged: true },
        resources: { listChanged: true },
        completions: {},
      },
    },
  );
  const adapter = createSdkV1Adapter(server);
  await before(adapter);
  const client = new Client({ name: 'test', version: '1' });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  await client.connect(clientTransport);
  open.push(async () => {
    await client.close();
    await server.close();
  });
  return { server, adapter, client };
}

describe('registrations captured by the SDK 1.x adapter', () => {
  it('are served by a real McpServer to a real Client once committed: list, call, prompt, template read', async () => {
    let registeredByCapture: string[] = ['not captured'];
    const { client } = await serve(async (adapter) => {
      const { definitions } = await adapter.capture(register as never, {
        file: HERE,
        root: HERE,
        signal: new AbortController().signal,
      });
      registeredByCapture = adapter.list().tools;
      adapter.commit(await adapter.prepare({ upsert: definitions, remove: [] }));
    });
    // Capturing touched nothing; committing did.
    expect(registeredByCapture).toEqual([]);

    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(['add', 'shout']);
    expect(tools.find((tool) => tool.name === 'shout')).toMatchObject({
      description: 'Shouts',
      annotations: { readOnlyHint: true },
      inputSchema: { properties: { text: { type: 'string' } } },
    });
    expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).toMatchObject({
      content: [{ text: '5' }],
    });
    expect(await client.callTool({ name: 'shout', arguments: { text: 'hi' } })).toMatchObject({
      content: [{ text: 'HI' }],
    });
    const invalid = await client.callTool({ name: 'add', arguments: { a: 'x', b: 1 } });
    expect(invalid.isError).toBe(true);
    expect(await client.getPrompt({ name: 'review', arguments: { code: 'x()' } })).toMatchObject({
      messages: [{ content: { text: 'Review x()' } }],
    });
    expect(await client.readResource({ uri: 'users://7' })).toMatchObject({ contents: [{ text: 'user 7' }] });
    expect((await client.listResources()).resources).toContainEqual(expect.objectContaining({ uri: 'users://1' }));
    expect(
      await client.complete({
        ref: { type: 'ref/resource', uri: 'users://{id}' },
        argument: { name: 'id', value: 'a' },
      }),
    ).toMatchObject({ completion: { values: ['a1'] } });
  });

  it('refuses a low-level request handler with the file and line of the call', async () => {
    const { adapter } = await serve();
    const capture = adapter.capture(
      (server: McpServer) => {
        server.server.setRequestHandler(z.object({ method: z.literal('x/y') }) as never, () => ({}) as never);
      },
      { file: HERE, root: HERE, signal: new AbortController().signal },
    );
    await expect(capture).rejects.toMatchObject({
      code: 'HOTMCP_ERR_CAPTURE_UNSUPPORTED',
      file: HERE,
      line: expect.any(Number),
    });
  });
});
