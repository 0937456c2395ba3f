/**
 * One tools folder, unchanged, served by an McpServer of each SDK major:
 * createReloader picks @hotmcp/adapter-sdk-v1 for the 1.x server and
 * @hotmcp/adapter-sdk-v2 for the 2.x one, and both serve the same modules
 * (zod 4 schemas) to a real client of their own SDK.
 */

import { createReloader, type Reloader, resolveToken, TOKENS } from '@hotmcp/core';
import { waitUntil } from '@hotmcp/core/testing';
import { Client } from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport as InMemoryTransportV1 } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer as McpServerV1 } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { InMemoryTransport, McpServer } from '@modelcontextprotocol/server';
import { afterEach, expect, it } from 'vitest';
import { createSandbox, type Sandbox } from '../src/harness.js';

const INFO = { name: 'both', version: '1.0.0' };
const CAPABILITIES = {
  capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true } },
};

let sandbox: Sandbox | undefined;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await sandbox?.cleanup();
});

/** What each side's client sees, through the same questions. */
interface Side {
  reloader: Reloader;
  tools(): Promise<Array<{ name: string; inputSchema: Record<string, unknown> }>>;
  call(name: string, args: Record<string, unknown>): Promise<string>;
  prompt(name: string, args: Record<string, string>): Promise<string>;
  read(uri: string): Promise<string>;
  listChanged(): number;
}

const firstText = (items: unknown) =>
  (items as Array<{ text?: string; content?: { text?: string } }>)[0]?.text ??
  (items as Array<{ content?: { text?: string } }>)[0]?.content?.text ??
  '';

async function v1Side(root: string): Promise<Side> {
  const server = new McpServerV1(INFO, CAPABILITIES);
  const reloader = await createReloader({ server, root, audit: false });
  await reloader.start();
  const client = new ClientV1({ name: 'v1-client', version: '1.0.0' });
  let changes = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    changes++;
  });
  const [clientTransport, serverTransport] = InMemoryTransportV1.createLinkedPair();
  await server.connect(serverTransport);
  await client.connect(clientTransport);
  cleanups.push(async () => {
    await client.close();
    await server.close();
    await reloader.stop();
  });
  return {
    reloader,
    tools: async () => (await client.listTools()).tools as never,
    call: async (name, args) => firstText((await client.callTool({ name, arguments: args })).content),
    prompt: async (name, args) => firstText((await client.getPrompt({ name, arguments: args })).messages),
    read: async (uri) => firstText((await client.readResource({ uri })).contents),
    listChanged: () => changes,
  };
}

async function v2Side(root: string): Promise<Side> {
  const server = new McpServer(INFO, CAPABILITIES);
  const reloader = await createReloader({ server, root, audit: false });
  await reloader.start();
  const client = new Client({ name: 'v2-client', version: '1.0.0' });
  let changes = 0;
  client.setNotificationHandler('notifications/tools/list_changed', () => {
    changes++;
  });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  await client.connect(clientTransport);
  cleanups.push(async () => {
    await client.close();
    await server.close();
    await reloader.stop();
  });
  return {
    reloader,
    tools: async () => (await client.listTools()).tools as never,
    call: async (name, args) => firstText((await client.callTool({ name, arguments: args })).content),
    prompt: async (name, args) => firstText((await client.getPrompt({ name, arguments: args })).messages),
    read: async (uri) => firstText((await client.readResource({ uri })).contents),
    listChanged: () => changes,
  };
}

it('loads the same tool, prompt and resource modules unchanged under both SDK adapters', async () => {
  sandbox = await createSandbox();
  const v1 = await v1Side(sandbox.toolsDir);
  const v2 = await v2Side(sandbox.toolsDir);

  expect(resolveToken(v1.reloader.container, TOKENS.registryAdapter).adapterName).toBe('@hotmcp/adapter-sdk-v1');
  expect(resolveToken(v2.reloader.container, TOKENS.registryAdapter).adapterName).toBe('@hotmcp/adapter-sdk-v2');

  for (const side of [v1, v2]) {
    const tools = await side.tools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(['echo', 'word_count']);
    const echo = tools.find((tool) => tool.name === 'echo');
    expect(echo?.inputSchema).toMatchObject({
      type: 'object',
      properties: { text: { type: 'string' } },
      required: ['text'],
    });
    expect(await side.call('echo', { text: 'hi' })).toBe('« hi »');
    expect(await side.call('word_count', { text: 'one two three' })).toBe('« 3 words »');
    expect(await side.prompt('greeting', { name: 'Ada' })).toBe('Please greet Ada warmly.');
    expect(await side.read('notes://all')).toBe('Buy milk\nShip hotmcp');
    expect(await side.read('notes://1')).toBe('Buy milk');
  }

  // One edit to the shared file reaches both servers.
  await sandbox.write('echo.ts', (await sandbox.read('echo.ts')).replace('Echo the text back', 'Echo it back'));
  for (const side of [v1, v2]) {
    await waitUntil(() => side.listChanged() === 1, { timeoutMs: 10_000, what: 'the list_changed of the edit' });
    const echo = (await side.tools()).find((tool) => tool.name === 'echo') as { description?: string } | undefined;
    expect(echo?.description).toBe('Echo it back');
  }
});
