import { createRequire } from 'node:module';
import type { AnyDefinition, RegistryChange } from '@hotmcp/core';
import { assertAdapter, defineTool, isHotMcpError } from '@hotmcp/core';
import { Client as V2Client } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport as V1InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import {
  McpServer as V1McpServer,
  ResourceTemplate as V1ResourceTemplate,
} from '@modelcontextprotocol/sdk/server/mcp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  InMemoryTransport as V2InMemoryTransport,
  McpServer as V2McpServer,
  ResourceTemplate as V2ResourceTemplate,
} from '@modelcontextprotocol/server';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { McpServerRegistryAdapter } from './mcp-server-registry-adapter.js';
import type { Callback, McpServerLike } from './mcp-server-shape.js';
import { readPackageVersion } from './package-version.js';
import type { SchemaField } from './prepared-entry.js';
import { stableJson } from './stable-json.js';

const CAPABILITIES = {
  capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true } },
};

/** The least an SDK adapter supplies: how to build a scratch server and a resource template. */
class V1TestAdapter extends McpServerRegistryAdapter {
  readonly adapterName = 'test-adapter-v1';
  readonly sdk = { name: '@modelcontextprotocol/sdk', range: '^1.23.0' };
  constructor(server: V1McpServer) {
    super(server as unknown as McpServerLike);
    this.assertUsable();
  }
  protected createScratchServer(): McpServerLike {
    return new V1McpServer({ name: 'scratch', version: '0' }, CAPABILITIES) as unknown as McpServerLike;
  }
  protected createResourceTemplate(template: string, list: Callback | undefined): unknown {
    return new V1ResourceTemplate(template, { list: list as never });
  }
  protected schemaProblem(_field: SchemaField, _schema: unknown): string | undefined {
    return undefined;
  }
}

class V2TestAdapter extends McpServerRegistryAdapter {
  readonly adapterName = 'test-adapter-v2';
  readonly sdk = { name: '@modelcontextprotocol/server', range: '^2.0.0' };
  constructor(server: V2McpServer) {
    super(server as unknown as McpServerLike);
    this.assertUsable();
  }
  protected createScratchServer(): McpServerLike {
    return new V2McpServer({ name: 'scratch', version: '0' }, CAPABILITIES) as unknown as McpServerLike;
  }
  protected createResourceTemplate(template: string, list: Callback | undefined): unknown {
    return new V2ResourceTemplate(template, { list: list as never });
  }
  protected schemaProblem(_field: SchemaField, _schema: unknown): string | undefined {
    return undefined;
  }
}

interface Live {
  server: McpServerLike;
  adapter: McpServerRegistryAdapter;
  /** The tools/list_changed notifications the real client has received. */
  toolsChanged(): number;
  listTools(): Promise<string[]>;
  callTool(name: string, args?: Record<string, unknown>): Promise<string>;
  /** A round trip: every notification sent before it has arrived. */
  ping(): Promise<unknown>;
  close(): Promise<void>;
}

interface Sdk {
  label: string;
  /** A connected server with one tool `foreign` registered outside the reloader, and a real client. */
  connect(): Promise<Live>;
  /** A second adapter of the same class, on another (unconnected) server. */
  sibling(): McpServerRegistryAdapter;
}

const textOf = (result: object) =>
  (((result as { content?: unknown }).content as Array<{ text?: string }> | undefined)?.[0]?.text ?? '') as string;

const SDKS: Sdk[] = [
  {
    label: '@modelcontextprotocol/sdk 1.x',
    async connect() {
      const server = new V1McpServer({ name: 'live', version: '1' }, CAPABILITIES);
      server.registerTool('foreign', { description: 'not ours' }, () => ({ content: [{ type: 'text', text: 'f' }] }));
      const adapter = new V1TestAdapter(server);
      const client = new V1Client({ name: 'client', version: '1' });
      let count = 0;
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        count++;
      });
      const [a, b] = V1InMemoryTransport.createLinkedPair();
      await server.connect(b);
      await client.connect(a);
      return {
        server: server as unknown as McpServerLike,
        adapter,
        toolsChanged: () => count,
        listTools: async () => (await client.listTools()).tools.map((tool) => tool.name),
        callTool: async (name, args = {}) => textOf(await client.callTool({ name, arguments: args })),
        ping: () => client.ping(),
        close: async () => {
          await client.close();
          await server.close();
        },
      };
    },
    sibling: () => new V1TestAdapter(new V1McpServer({ name: 'other', version: '1' }, CAPABILITIES)),
  },
  {
    label: '@modelcontextprotocol/server 2.x',
    async connect() {
      const server = new V2McpServer({ name: 'live', version: '1' }, CAPABILITIES);
      server.registerTool('foreign', { description: 'not ours' }, () => ({ content: [{ type: 'text', text: 'f' }] }));
      const adapter = new V2TestAdapter(server);
      const client = new V2Client({ name: 'client', version: '1' });
      let count = 0;
      client.setNotificationHandler('notifications/tools/list_changed', () => {
        count++;
      });
      const [a, b] = V2InMemoryTransport.createLinkedPair();
      await server.connect(b);
      await client.connect(a);
      return {
        server: server as unknown as McpServerLike,
        adapter,
        toolsChanged: () => count,
        listTools: async () => (await client.listTools()).tools.map((tool) => tool.name),
        callTool: async (name, args = {}) => textOf(await client.callTool({ name, arguments: args })),
        ping: () => client.ping(),
        close: async () => {
          await client.close();
          await server.close();
        },
      };
    },
    sibling: () => new V2TestAdapter(new V2McpServer({ name: 'other', version: '1' }, CAPABILITIES)),
  },
];

function echo(name: string, reply: string, description = `answers ${reply}`) {
  return defineTool({
    name,
    description,
    inputSchema: z.object({ text: z.string() }),
    handler: ({ text }) => ({ content: [{ type: 'text', text: `${reply}:${text}` }] }),
  });
}

function change(upsert: unknown[], remove: string[] = []): RegistryChange {
  return { upsert: upsert as AnyDefinition[], remove: remove.map((name) => ({ kind: 'tool' as const, name })) };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

const open: Live[] = [];
afterEach(async () => {
  for (const live of open.splice(0)) await live.close();
});

describe.each(SDKS)('McpServerRegistryAdapter on an McpServer of $label', (sdk) => {
  async function live(): Promise<Live> {
    const s = await sdk.connect();
    open.push(s);
    return s;
  }

  it('passes core’s adapter contract check', async () => {
    const s = await live();
    expect(() => assertAdapter(s.adapter)).not.toThrow();
  });

  it('lists what the server’s own registries hold, entries registered outside the reloader included', async () => {
    const s = await live();
    expect(s.adapter.list()).toEqual({ tools: ['foreign'], prompts: [], resources: [], resourceTemplates: [] });
  });

  it('commits three tools with one tools/list_changed, though the SDK notifies on every register', async () => {
    const s = await live();
    const prepared = await s.adapter.prepare(change([echo('a', 'A'), echo('b', 'B'), echo('c', 'C')]));
    expect(s.adapter.list().tools).toEqual(['foreign']);
    expect(s.adapter.commit(prepared)).toEqual({ notified: ['tool'] });
    await s.ping();
    expect(s.toolsChanged()).toBe(1);
    expect(await s.listTools()).toEqual(['foreign', 'a', 'b', 'c']);
    expect(await s.callTool('b', { text: 'hi' })).toBe('B:hi');
  });

  it('swaps a handler body in place without a list_changed, keeping the tool’s place in the list', async () => {
    const s = await live();
    s.adapter.commit(await s.adapter.prepare(change([echo('a', 'A'), echo('b', 'B')])));
    expect(s.adapter.commit(await s.adapter.prepare(change([echo('a', 'A2', 'answers A')])))).toEqual({
      notified: [],
    });
    await s.ping();
    expect(s.toolsChanged()).toBe(1);
    expect(await s.listTools()).toEqual(['foreign', 'a', 'b']);
    expect(await s.callTool('a', { text: 'x' })).toBe('A2:x');
  });

  it('restores every registry exactly, and sends nothing, when a registration throws mid-commit', async () => {
    const s = await live();
    s.adapter.commit(await s.adapter.prepare(change([echo('a', 'A'), echo('b', 'B')])));
    const registry = (s.server as unknown as { _registeredTools: Record<string, unknown> })._registeredTools;
    const before = Object.entries(registry);
    const prepared = await s.adapter.prepare(change([echo('a', 'A', 'new'), echo('boom', 'X')], ['b']));
    const real = s.server.registerTool.bind(s.server);
    s.server.registerTool = (name, config, callback) => {
      if (name === 'boom') throw new Error('refused on purpose');
      return real(name, config, callback);
    };
    let error: unknown;
    try {
      s.adapter.commit(prepared);
    } catch (caught) {
      error = caught;
    }
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_COMMIT_FAILED');
    expect((s.server as unknown as { _registeredTools: unknown })._registeredTools).toBe(registry);
    expect(Object.entries(registry)).toEqual(before);
    expect(Object.hasOwn(s.server, 'sendToolListChanged')).toBe(false);
    await s.ping();
    expect(s.toolsChanged()).toBe(1);
    expect(await s.callTool('b', { text: 'y' })).toBe('B:y');
  });

  it('refuses at prepare a tool whose schema the SDK cannot list, touching nothing', async () => {
    const s = await live();
    const when = defineTool({
      name: 'when',
      inputSchema: z.object({ at: z.date() }),
      handler: () => ({ content: [] }),
    });
    const error = await rejection(s.adapter.prepare(change([echo('a', 'A'), when])));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_INVALID_DEFINITION');
    expect(isHotMcpError(error) && error.details).toMatchObject({ kind: 'tool', name: 'when' });
    expect(s.adapter.list().tools).toEqual(['foreign']);
  });

  it('refuses a definition core’s definitionProblem refuses, naming it', async () => {
    const s = await live();
    const badName = await rejection(s.adapter.prepare(change([echo('has space', 'x')])));
    expect(isHotMcpError(badName) && badName.details).toMatchObject({ kind: 'tool', name: 'has space' });
    const badTitle = await rejection(s.adapter.prepare(change([{ ...echo('titled', 'x'), title: 42 }])));
    expect(isHotMcpError(badTitle) && badTitle.code).toBe('HOTMCP_ERR_INVALID_DEFINITION');
    expect((badTitle as Error).message).toContain('title that is not a string');
  });

  it('refuses to replace or remove an entry registered outside the reloader', async () => {
    const s = await live();
    const replace = await rejection(s.adapter.prepare(change([echo('foreign', 'mine')])));
    expect(isHotMcpError(replace) && replace.code).toBe('HOTMCP_ERR_NAME_CONFLICT');
    const remove = await rejection(s.adapter.prepare(change([], ['foreign'])));
    expect(isHotMcpError(remove) && remove.code).toBe('HOTMCP_ERR_NAME_CONFLICT');
    expect(await s.callTool('foreign')).toBe('f');
  });

  it('commits a change prepared by another adapter of its name, and refuses one of another name', async () => {
    const s = await live();
    const sibling = sdk.sibling();
    const prepared = await sibling.prepare(change([echo('shared', 'S')]));
    expect(s.adapter.canCommit(prepared)).toBe(true);
    s.adapter.commit(prepared);
    expect(await s.callTool('shared', { text: 'z' })).toBe('S:z');
    const stranger = SDKS.find((other) => other !== sdk)?.sibling();
    const foreignPlan = await stranger?.prepare(change([echo('other', 'O')]));
    expect(foreignPlan && s.adapter.canCommit(foreignPlan)).toBe(false);
    expect(() => foreignPlan && s.adapter.commit(foreignPlan)).toThrow(/can only commit/);
  });
});

describe('readPackageVersion', () => {
  const require = createRequire(import.meta.url);

  it('reads the version of the installed copy of each SDK major', () => {
    expect(
      readPackageVersion(require.resolve('@modelcontextprotocol/sdk/server/mcp.js'), '@modelcontextprotocol/sdk'),
    ).toMatch(/^1\.\d+\.\d+/);
    expect(readPackageVersion(require.resolve('@modelcontextprotocol/server'), '@modelcontextprotocol/server')).toMatch(
      /^2\.\d+\.\d+/,
    );
  });

  it('is undefined when no package of that name encloses the file', () => {
    expect(readPackageVersion(import.meta.url, '@modelcontextprotocol/server')).toBeUndefined();
  });
});

describe('stableJson', () => {
  it('sorts object keys at every depth and keeps array order', () => {
    expect(stableJson({ b: 1, a: { d: [2, 1], c: null } })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}');
    expect(stableJson({ a: 1, b: 2 })).toBe(stableJson({ b: 2, a: 1 }));
  });
});
