import type { AnyDefinition, RegistryChange } from '@hotmcp/core';
import { assertAdapter, definePrompt, defineTool, isHotMcpError } from '@hotmcp/core';
import { waitUntil } from '@hotmcp/core/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createSdkV1Adapter, SDK_V1_RANGE } from './sdk-v1-adapter.js';

const TOOLS_CAPABILITY = { capabilities: { tools: { listChanged: true } } };

interface Session {
  server: McpServer;
  client: Client;
  /** How many notifications/tools/list_changed the client has received. */
  toolListChanged: () => number;
}

const open: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

async function connect(server: McpServer): Promise<Session> {
  const client = new Client({ name: 'test-client', version: '1.0.0' });
  let count = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    count += 1;
  });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  await client.connect(clientTransport);
  open.push(async () => {
    await client.close();
    await server.close();
  });
  return { server, client, toolListChanged: () => count };
}

function session(): Promise<Session> {
  return connect(new McpServer({ name: 'test-server', version: '1.0.0' }, TOOLS_CAPABILITY));
}

/** Wait for `expected` list_changed notifications, then prove no more arrive behind them. */
async function expectToolListChanged(s: Session, expected: number): Promise<void> {
  if (expected > 0) await waitUntil(() => s.toolListChanged() >= expected);
  await s.client.ping();
  expect(s.toolListChanged()).toBe(expected);
}

function echo(name: string, reply: string) {
  return defineTool({
    name,
    description: `answers ${reply}`,
    inputSchema: { text: z.string() },
    handler: ({ text }) => ({ content: [{ type: 'text', text: `${reply}:${text}` }] }),
  });
}

/**
 * A registry change. Definitions are taken as unknown: core's `AnyDefinition`
 * (`ToolDefinition<any>`) types `handler` args as unknown, so a concrete
 * `ToolDefinition<{ text: ZodString }>` is not assignable to it.
 */
function change(upsert: unknown[], remove: string[] = []): RegistryChange {
  return { upsert: upsert as AnyDefinition[], remove: remove.map((name) => ({ kind: 'tool' as const, name })) };
}

async function apply(adapter: ReturnType<typeof createSdkV1Adapter>, c: RegistryChange) {
  return adapter.commit(await adapter.prepare(c));
}

async function callText(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const result = await client.callTool({ name, arguments: args });
  const first = (result.content as Array<{ type: string; text?: string }>)[0];
  return first?.text ?? '';
}

async function toolNames(client: Client): Promise<string[]> {
  return (await client.listTools()).tools.map((tool) => tool.name);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('SdkV1Adapter', () => {
  it('declares its contract version, name and supported SDK range', () => {
    const adapter = createSdkV1Adapter(new McpServer({ name: 's', version: '1' }));
    expect(adapter.contractVersion).toBe(1);
    expect(adapter.adapterName).toBe('@hotmcp/adapter-sdk-v1');
    expect(SDK_V1_RANGE).toBe('^1.23.0');
  });

  it('lists a tool registered directly on the server', async () => {
    const s = await session();
    s.server.registerTool('foreign', { description: 'not ours' }, () => ({ content: [] }));
    expect(createSdkV1Adapter(s.server).list()).toEqual({
      tools: ['foreign'],
      prompts: [],
      resources: [],
      resourceTemplates: [],
    });
  });

  it('lists prompt names and resource URIs', () => {
    const server = new McpServer({ name: 's', version: '1' });
    server.registerPrompt('greet', { description: 'hello' }, () => ({ messages: [] }));
    server.registerResource('readme', 'file:///readme.md', {}, () => ({ contents: [] }));
    const snapshot = createSdkV1Adapter(server).list();
    expect(snapshot.prompts).toEqual(['greet']);
    expect(snapshot.resources).toEqual(['file:///readme.md']);
  });

  it('adds a tool that the client can list and call', async () => {
    const s = await session();
    const adapter = createSdkV1Adapter(s.server);
    const result = await apply(adapter, change([echo('echo', 'v1')]));
    expect(result).toEqual({ notified: ['tool'] });
    expect(await toolNames(s.client)).toEqual(['echo']);
    expect(await callText(s.client, 'echo', { text: 'hi' })).toBe('v1:hi');
  });

  it('calls the handler of a tool without an input schema with empty args and the extra', async () => {
    const s = await session();
    const seen: unknown[] = [];
    const tool = defineTool({
      name: 'noargs',
      handler: (args, extra) => {
        seen.push(args, typeof extra);
        return { content: [{ type: 'text', text: 'ok' }] };
      },
    });
    await apply(createSdkV1Adapter(s.server), change([tool]));
    expect(await callText(s.client, 'noargs')).toBe('ok');
    expect(seen).toEqual([{}, 'object']);
  });

  it('replaces a tool so the new handler answers and one list_changed is sent', async () => {
    const s = await session();
    const adapter = createSdkV1Adapter(s.server);
    await apply(adapter, change([echo('echo', 'v1')]));
    await expectToolListChanged(s, 1);

    await apply(adapter, change([echo('echo', 'v2')]));
    expect(await callText(s.client, 'echo', { text: 'hi' })).toBe('v2:hi');
    await expectToolListChanged(s, 2);
  });

  it('sends exactly one list_changed for a batch that adds three tools and removes one', async () => {
    const s = await session();
    const adapter = createSdkV1Adapter(s.server);
    await apply(adapter, change([echo('old', 'x')]));
    await expectToolListChanged(s, 1);

    await apply(adapter, change([echo('a', 'a'), echo('b', 'b'), echo('c', 'c')], ['old']));
    await expectToolListChanged(s, 2);
    expect((await toolNames(s.client)).sort()).toEqual(['a', 'b', 'c']);
  });

  it('removes a tool so the client no longer lists or reaches it', async () => {
    const s = await session();
    const adapter = createSdkV1Adapter(s.server);
    await apply(adapter, change([echo('gone', 'x'), echo('kept', 'y')]));
    await apply(adapter, change([], ['gone']));
    expect(await toolNames(s.client)).toEqual(['kept']);
    const result = await s.client.callTool({ name: 'gone', arguments: { text: 'hi' } });
    expect(result.isError).toBe(true);
  });

  it('sends nothing for an empty change', async () => {
    const s = await session();
    const result = await apply(createSdkV1Adapter(s.server), change([], ['never-registered']));
    expect(result).toEqual({ notified: [] });
    await expectToolListChanged(s, 0);
  });

  it('rejects a schema the SDK cannot list at prepare and leaves the server untouched', async () => {
    const s = await session();
    const adapter = createSdkV1Adapter(s.server);
    await apply(adapter, change([echo('echo', 'v1')]));
    await expectToolListChanged(s, 1);
    const before = s.server as unknown as { _registeredTools: Record<string, unknown> };
    const entries = Object.entries(before._registeredTools);

    const bad = defineTool({
      name: 'when',
      inputSchema: { at: z.date() },
      handler: () => ({ content: [] }),
    });
    const error = await rejection(adapter.prepare(change([echo('echo', 'v2'), bad, echo('new', 'n')])));

    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_INVALID_DEFINITION');
    expect(isHotMcpError(error) && error.details).toEqual({ kind: 'tool', name: 'when' });
    expect((error as Error).message).toContain('Date cannot be represented in JSON Schema');
    expect(Object.entries(before._registeredTools)).toEqual(entries);
    expect(await toolNames(s.client)).toEqual(['echo']);
    expect(await callText(s.client, 'echo', { text: 'hi' })).toBe('v1:hi');
    await expectToolListChanged(s, 1);
  });

  it('rejects a raw shape whose values are not zod schemas at prepare', async () => {
    const adapter = createSdkV1Adapter(new McpServer({ name: 's', version: '1' }));
    const bad = defineTool({ name: 'bad', inputSchema: { text: 'string' }, handler: () => ({ content: [] }) });
    const error = await rejection(adapter.prepare(change([bad])));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_INVALID_DEFINITION');
    expect((error as Error).message).toContain('not a zod schema: text');
  });

  it('rejects a zod schema that is not an object schema at prepare', async () => {
    const adapter = createSdkV1Adapter(new McpServer({ name: 's', version: '1' }));
    const bad = defineTool({ name: 'bad', inputSchema: z.string(), handler: () => ({ content: [] }) });
    const error = await rejection(adapter.prepare(change([bad])));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_INVALID_DEFINITION');
  });

  it('rejects a tool name outside the MCP tool-name rule at prepare', async () => {
    const adapter = createSdkV1Adapter(new McpServer({ name: 's', version: '1' }));
    const error = await rejection(adapter.prepare(change([echo('has space', 'x')])));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_INVALID_DEFINITION');
    expect(isHotMcpError(error) && error.details).toEqual({ kind: 'tool', name: 'has space' });
  });

  it('rejects a tool named after an Object.prototype member at prepare', async () => {
    const adapter = createSdkV1Adapter(new McpServer({ name: 's', version: '1' }));
    const error = await rejection(adapter.prepare(change([echo('constructor', 'x')])));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_INVALID_DEFINITION');
  });

  it('rejects the same name twice in one change', async () => {
    const adapter = createSdkV1Adapter(new McpServer({ name: 's', version: '1' }));
    const error = await rejection(adapter.prepare(change([echo('twice', 'a'), echo('twice', 'b')])));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_DUPLICATE_NAME');
  });

  it('accepts a zod v3 raw shape', async () => {
    const { z: z3 } = await import('zod/v3');
    const s = await session();
    const tool = defineTool({
      name: 'v3',
      inputSchema: { n: z3.number() },
      handler: ({ n }) => ({ content: [{ type: 'text', text: String(n * 2) }] }),
    });
    await apply(createSdkV1Adapter(s.server), change([tool]));
    expect(await callText(s.client, 'v3', { n: 21 })).toBe('42');
  });

  it('rolls back a commit that throws midway and sends nothing', async () => {
    const s = await session();
    const adapter = createSdkV1Adapter(s.server);
    await apply(adapter, change([echo('replaced', 'v1'), echo('removed', 'v1')]));
    await expectToolListChanged(s, 1);
    const registry = (s.server as unknown as { _registeredTools: Record<string, unknown> })._registeredTools;
    const entries = Object.entries(registry);

    const prepared = await adapter.prepare(
      change([echo('replaced', 'v2'), echo('added', 'v2'), echo('boom', 'v2')], ['removed']),
    );
    const realRegisterTool = s.server.registerTool.bind(s.server);
    Object.assign(s.server, {
      registerTool: (name: string, ...rest: unknown[]) => {
        if (name === 'boom') throw new Error('registerTool failed for boom');
        return (realRegisterTool as (...args: unknown[]) => unknown)(name, ...rest);
      },
    });
    const error = thrown(() => adapter.commit(prepared));

    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_COMMIT_FAILED');
    expect((error as Error).cause).toEqual(new Error('registerTool failed for boom'));
    expect(Object.entries(registry)).toEqual(entries);
    expect(Object.hasOwn(s.server, 'sendToolListChanged')).toBe(false);
    expect(await toolNames(s.client)).toEqual(['replaced', 'removed']);
    expect(await callText(s.client, 'replaced', { text: 'hi' })).toBe('v1:hi');
    await expectToolListChanged(s, 1);
  });

  it('lets a call that started before a replace finish on the old handler while the next call gets the new one', async () => {
    const s = await session();
    const adapter = createSdkV1Adapter(s.server);
    let entered!: () => void;
    const started = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const v1 = defineTool({
      name: 'slow',
      outputSchema: { version: z.string() },
      handler: async () => {
        entered();
        await released;
        return { content: [{ type: 'text', text: 'v1' }], structuredContent: { version: 'v1' } };
      },
    });
    // v2 declares a different output schema: an in-place update() would validate v1's result against it.
    const v2 = defineTool({
      name: 'slow',
      outputSchema: { count: z.number() },
      handler: () => ({ content: [{ type: 'text', text: 'v2' }], structuredContent: { count: 2 } }),
    });
    await apply(adapter, change([v1]));

    const first = s.client.callTool({ name: 'slow', arguments: {} });
    await started;
    await apply(adapter, change([v2]));
    expect(await callText(s.client, 'slow')).toBe('v2');
    release();
    const result = await first;
    expect(result.isError).toBeUndefined();
    expect(result.structuredContent).toEqual({ version: 'v1' });
  });

  it('rejects an upsert over a tool registered outside the reloader', async () => {
    const s = await session();
    s.server.registerTool('foreign', { description: 'not ours' }, () => ({
      content: [{ type: 'text', text: 'foreign' }],
    }));
    const adapter = createSdkV1Adapter(s.server);
    const error = await rejection(adapter.prepare(change([echo('foreign', 'mine')])));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_NAME_CONFLICT');
    expect(isHotMcpError(error) && error.details).toEqual({ kind: 'tool', name: 'foreign' });
    expect(await callText(s.client, 'foreign')).toBe('foreign');
  });

  it('leaves no ghost entries after a replace', async () => {
    const s = await session();
    const adapter = createSdkV1Adapter(s.server);
    await apply(adapter, change([echo('a', 'v1'), echo('b', 'v1'), echo('c', 'v1')]));
    await apply(adapter, change([echo('b', 'v2'), echo('a', 'v2')]));
    const names = await toolNames(s.client);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(['a', 'b', 'c']);
    expect([...adapter.list().tools].sort()).toEqual(['a', 'b', 'c']);
  });

  it('keeps a replaced tool in its place in the list', async () => {
    const s = await session();
    const adapter = createSdkV1Adapter(s.server);
    await apply(adapter, change([echo('a', 'v1'), echo('b', 'v1'), echo('c', 'v1')]));
    await apply(adapter, change([echo('d', 'v2'), echo('a', 'v2')], ['b']));
    expect(await toolNames(s.client)).toEqual(['a', 'c', 'd']);
  });

  it('writes nothing to stdout while preparing and committing', async () => {
    const s = await session();
    const adapter = createSdkV1Adapter(s.server);
    const write = vi.spyOn(process.stdout, 'write');
    try {
      await apply(adapter, change([echo('a', 'v1'), echo('b', 'v1')]));
      await apply(adapter, change([echo('a', 'v2')], ['b']));
      await rejection(adapter.prepare(change([echo('bad name', 'x')])));
      expect(write).not.toHaveBeenCalled();
    } finally {
      write.mockRestore();
    }
  });

  it('refuses a connected server without the tools capability and says how to construct it', async () => {
    const s = await connect(new McpServer({ name: 'bare', version: '1.0.0' }));
    const error = thrown(() => createSdkV1Adapter(s.server));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_CAPABILITY_MISSING');
    expect((error as Error).message).toContain(
      'new McpServer(info, { capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true } } }) before calling connect()',
    );
  });

  it('adds the first tool after connect to a server that advertised tools but registered none before', async () => {
    const server = new McpServer({ name: 'empty', version: '1.0.0' }, TOOLS_CAPABILITY);
    const adapter = createSdkV1Adapter(server); // installs the tools handlers SDK 1.x installs lazily
    const s = await connect(server);
    expect(await apply(adapter, change([echo('late', 'v1')]))).toEqual({ notified: ['tool'] });
    expect(await callText(s.client, 'late', { text: 'hi' })).toBe('v1:hi');
  });

  it('refuses a prompt on a connected server without the prompts capability, naming the prompt', async () => {
    const s = await session();
    const adapter = createSdkV1Adapter(s.server);
    const prompt = definePrompt({ name: 'greet', handler: () => ({ messages: [] }) });
    const error = await rejection(adapter.prepare(change([prompt])));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_CAPABILITY_MISSING');
    expect(isHotMcpError(error) && error.details).toMatchObject({ kind: 'prompt', name: 'greet' });
    expect((error as Error).message).toContain('prompts.listChanged');
  });

  it('takes a prompt whose arguments are a zod object schema (the SDK 2.x form) and lists its arguments', async () => {
    const s = await connect(
      new McpServer({ name: 'p', version: '1' }, { capabilities: { prompts: { listChanged: true } } }),
    );
    const adapter = createSdkV1Adapter(s.server);
    const prompt = definePrompt({
      name: 'topic',
      argsSchema: z.object({ topic: z.string().describe('what about') }),
      handler: ({ topic }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `about ${topic}` } }] }),
    });
    await apply(adapter, change([prompt]));
    expect((await s.client.listPrompts()).prompts).toEqual([
      { name: 'topic', arguments: [{ name: 'topic', description: 'what about', required: true }] },
    ]);
    const got = await s.client.getPrompt({ name: 'topic', arguments: { topic: 'zod' } });
    expect(got.messages[0]?.content).toEqual({ type: 'text', text: 'about zod' });
  });

  it('reports the SDK version it drives, inside its range', () => {
    const adapter = createSdkV1Adapter(new McpServer({ name: 's', version: '1' }));
    expect(adapter.sdk).toMatchObject({ name: '@modelcontextprotocol/sdk', range: SDK_V1_RANGE });
    expect(adapter.sdk.version).toMatch(/^1\.\d+\.\d+/);
    expect(() => assertAdapter(adapter)).not.toThrow();
  });

  it('accepts a server that is not connected yet without the tools capability', () => {
    expect(() => createSdkV1Adapter(new McpServer({ name: 's', version: '1' }))).not.toThrow();
  });

  it('refuses a value that is not an McpServer', () => {
    const error = thrown(() => createSdkV1Adapter({ server: {} } as unknown as McpServer));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_ADAPTER_INCOMPATIBLE');
  });
});
