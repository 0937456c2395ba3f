import type { AnyDefinition, RegistryChange } from '@hotmcp/core';
import { assertAdapter, definePrompt, defineTool, isHotMcpError } from '@hotmcp/core';
import { Client } from '@modelcontextprotocol/client';
import { completable, InMemoryTransport, McpServer } from '@modelcontextprotocol/server';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { z as z3 } from 'zod/v3';
import { createSdkV2Adapter, SDK_V2_RANGE, type SdkV2Adapter } from './sdk-v2-adapter.js';
import { ALL_CAPABILITIES, connectV2, type V2Session } from './test-session.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const session of open.splice(0)) await session.close();
});

async function session(server?: McpServer): Promise<V2Session> {
  const s = await connectV2(server);
  open.push(s);
  return s;
}

const text = (value: string) => ({ content: [{ type: 'text', text: value }] });

function echo(name: string, reply: string) {
  return defineTool({
    name,
    description: `answers ${reply}`,
    inputSchema: z.object({ text: z.string() }),
    handler: ({ text: said }) => text(`${reply}:${said}`),
  });
}

function change(upsert: unknown[], remove: string[] = []): RegistryChange {
  return { upsert: upsert as AnyDefinition[], remove: remove.map((name) => ({ kind: 'tool' as const, name })) };
}

async function apply(adapter: SdkV2Adapter, c: RegistryChange) {
  return adapter.commit(await adapter.prepare(c));
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

describe('SdkV2Adapter', () => {
  it('declares its contract version, name, supported range and the SDK version it found', () => {
    const adapter = createSdkV2Adapter(new McpServer({ name: 's', version: '1' }));
    expect(adapter.contractVersion).toBe(1);
    expect(adapter.adapterName).toBe('@hotmcp/adapter-sdk-v2');
    expect(adapter.sdk).toMatchObject({ name: '@modelcontextprotocol/server', range: SDK_V2_RANGE });
    expect(adapter.sdk.version).toMatch(/^2\.\d+\.\d+/);
    expect(() => assertAdapter(adapter)).not.toThrow();
  });

  it('takes a zod 4 object schema and a raw shape, and hands the handler parsed args and the context', async () => {
    const s = await session();
    const seen: unknown[] = [];
    const shaped = defineTool({
      name: 'shaped',
      inputSchema: { n: z.number() },
      handler: ({ n }, ctx) => {
        seen.push(typeof ctx);
        return text(String(n * 2));
      },
    });
    const none = defineTool({ name: 'none', handler: (args) => text(JSON.stringify(args)) });
    await apply(s.adapter, change([echo('echo', 'v1'), shaped, none]));
    expect(await s.callTool('echo', { text: 'hi' })).toEqual({ text: 'v1:hi', isError: false });
    expect(await s.callTool('shaped', { n: 21 })).toEqual({ text: '42', isError: false });
    expect(await s.callTool('none')).toEqual({ text: '{}', isError: false });
    expect(seen).toEqual(['object']);
  });

  it('rejects a schema the SDK cannot convert at prepare, naming the tool, and the rest of the server keeps listing', async () => {
    const s = await session();
    await apply(s.adapter, change([echo('echo', 'v1')]));
    const bad = defineTool({ name: 'when', inputSchema: z.object({ at: z.date() }), handler: () => text('') });
    const error = await rejection(s.adapter.prepare(change([echo('echo', 'v2'), bad])));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_INVALID_DEFINITION');
    expect(isHotMcpError(error) && error.details).toEqual({ kind: 'tool', name: 'when' });
    expect((error as Error).message).toContain('Tool "when"');
    expect((error as Error).message).toContain('Date cannot be represented in JSON Schema');
    expect(await s.listTools()).toEqual(['echo']);
    expect(await s.callTool('echo', { text: 'hi' })).toEqual({ text: 'v1:hi', isError: false });
  });

  it('rejects a zod 3 schema at prepare, which the SDK would register and then fail every tools/list on', async () => {
    // The trap, on a server without hotmcp: registration succeeds, listing breaks for everyone.
    const raw = await session();
    const register = raw.server.registerTool.bind(raw.server) as (...args: unknown[]) => unknown;
    register('v3', { inputSchema: z3.object({ a: z3.string() }) }, () => text(''));
    await expect(raw.client.listTools()).rejects.toThrow(/zod 3/);

    const s = await session();
    for (const inputSchema of [z3.object({ a: z3.string() }), { a: z3.string() }]) {
      const tool = defineTool({ name: 'v3', inputSchema, handler: () => text('') });
      const error = await rejection(s.adapter.prepare(change([tool])));
      expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_INVALID_DEFINITION');
      expect((error as Error).message).toContain('zod 3');
    }
    expect(await s.listTools()).toEqual([]);
  });

  it('rejects an input schema that does not describe an object', async () => {
    const s = await session();
    const tool = defineTool({ name: 'str', inputSchema: z.string(), handler: () => text('') });
    const error = await rejection(s.adapter.prepare(change([tool])));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_INVALID_DEFINITION');
    expect((error as Error).message).toContain('must describe objects');
  });

  it('rejects a raw shape whose values are not zod 4 schemas', async () => {
    const adapter = createSdkV2Adapter(new McpServer({ name: 's', version: '1' }));
    const tool = defineTool({ name: 'bad', inputSchema: { text: 'string' }, handler: () => text('') });
    const error = await rejection(adapter.prepare(change([tool])));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_INVALID_DEFINITION');
    expect((error as Error).message).toContain('not a zod 4 schema: text');
  });

  it("lets a call in flight finish against its own output schema while the next call gets the new one's", async () => {
    const s = await session();
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
      outputSchema: z.object({ version: z.string() }),
      handler: async () => {
        entered();
        await released;
        return { ...text('v1'), structuredContent: { version: 'v1' } };
      },
    });
    // An in-place update() would validate v1's result against v2's output schema.
    const v2 = defineTool({
      name: 'slow',
      outputSchema: z.object({ count: z.number() }),
      handler: () => ({ ...text('v2'), structuredContent: { count: 2 } }),
    });
    await apply(s.adapter, change([v1]));
    const first = s.client.callTool({ name: 'slow', arguments: {} });
    await started;
    await apply(s.adapter, change([v2]));
    expect(await s.callTool('slow')).toEqual({ text: 'v2', isError: false });
    release();
    const result = await first;
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ version: 'v1' });
  });

  it('keeps a replaced tool in its place in the list', async () => {
    const s = await session();
    await apply(s.adapter, change([echo('a', 'v1'), echo('b', 'v1'), echo('c', 'v1')]));
    await apply(s.adapter, change([echo('d', 'v2'), echo('a', 'v2')], ['b']));
    expect(await s.listTools()).toEqual(['a', 'c', 'd']);
  });

  it('refuses a connected server that advertises nothing, and says how to construct it', async () => {
    const server = new McpServer({ name: 'bare', version: '1.0.0' });
    const client = new Client({ name: 'c', version: '1' });
    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    await server.connect(serverTransport);
    await client.connect(clientTransport);
    open.push({ close: () => client.close() });
    const error = thrown(() => createSdkV2Adapter(server));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_CAPABILITY_MISSING');
    expect((error as Error).message).toContain('new McpServer(info, { capabilities: { tools: { listChanged: true }');
    expect((error as Error).message).toContain('before calling connect()');
  });

  it('refuses a prompt on a connected server that advertised only tools, naming the prompt', async () => {
    const s = await session(new McpServer({ name: 'tools-only', version: '1' }, { capabilities: { tools: {} } }));
    const prompt = definePrompt({ name: 'greet', handler: () => ({ messages: [] }) });
    const error = await rejection(s.adapter.prepare(change([prompt])));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_CAPABILITY_MISSING');
    expect(isHotMcpError(error) && error.details).toMatchObject({ kind: 'prompt', name: 'greet' });
    expect(await apply(s.adapter, change([echo('still', 'ok')]))).toEqual({ notified: ['tool'] });
  });

  it('refuses a prompt with completable arguments once connected, since the SDK would need a new capability', async () => {
    const s = await session(new McpServer({ name: 's', version: '1' }, ALL_CAPABILITIES));
    const prompt = definePrompt({
      name: 'lang',
      argsSchema: z.object({ lang: completable(z.string(), () => ['ts', 'js']) }),
      handler: ({ lang }) => ({ messages: [{ role: 'user', content: { type: 'text', text: lang } }] }),
    });
    const error = await rejection(s.adapter.prepare(change([prompt])));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_CAPABILITY_MISSING');
    expect(isHotMcpError(error) && error.details).toMatchObject({ kind: 'prompt', name: 'lang' });
  });

  it('passes prompt arguments parsed by the prompt schema', async () => {
    const s = await session();
    const prompt = definePrompt({
      name: 'topic',
      argsSchema: z.object({ topic: z.string() }),
      handler: ({ topic }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `about ${topic}` } }] }),
    });
    await apply(s.adapter, change([prompt]));
    expect(await s.getPrompt?.('topic', { topic: 'zod' })).toBe('about zod');
  });

  it('accepts a server that is not connected yet and registers before connect without notifying', async () => {
    const server = new McpServer({ name: 's', version: '1' }, ALL_CAPABILITIES);
    const adapter = createSdkV2Adapter(server);
    expect(await apply(adapter, change([echo('early', 'v1')]))).toEqual({ notified: ['tool'] });
    const s = await session(server);
    expect(await s.listTools()).toEqual(['early']);
    await s.settle();
    expect(s.notifications()).toEqual({ tool: 0, prompt: 0, resource: 0 });
  });

  it('refuses a value that is not an McpServer', () => {
    const error = thrown(() => createSdkV2Adapter({ server: {} } as unknown as McpServer));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_ADAPTER_INCOMPATIBLE');
  });
});
