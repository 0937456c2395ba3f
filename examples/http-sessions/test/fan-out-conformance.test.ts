import { createSdkV1Adapter } from '@hotmcp/adapter-sdk-v1';
import { createSdkV2Adapter } from '@hotmcp/adapter-sdk-v2';
import { createFanOutAdapter, type DefinitionKind, defineTool, isHotMcpError, type ListKind } from '@hotmcp/core';
import { adapterConformance, type ConformanceSession } from '@hotmcp/core/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { McpServer as McpServerV2 } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

const CAPABILITIES = {
  capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true } },
};

const firstText = (items: unknown): string => {
  const first = (items as Array<{ text?: string; content?: { text?: string } }> | undefined)?.[0];
  return first?.text ?? first?.content?.text ?? '';
};

function addForeign(server: McpServer, kind: DefinitionKind, name: string): void {
  if (kind === 'tool') {
    server.registerTool(name, { description: 'foreign' }, () => ({
      content: [{ type: 'text', text: `foreign:${name}` }],
    }));
  } else if (kind === 'prompt') {
    server.registerPrompt(name, { description: 'foreign' }, () => ({ messages: [] }));
  } else if (kind === 'resource') {
    server.registerResource('foreign', name, {}, () => ({ contents: [] }));
  } else {
    server.registerResource(name, new ResourceTemplate('foreign://{id}', { list: undefined }), {}, () => ({
      contents: [],
    }));
  }
}

function sabotage(server: McpServer, name: string): void {
  const target = server as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of ['registerTool', 'registerPrompt', 'registerResource']) {
    const real = target[method]?.bind(server) as (...args: unknown[]) => unknown;
    target[method] = (registered: unknown, ...rest: unknown[]) => {
      if (registered === name) throw new Error(`${method} failed for ${name} on purpose`);
      return real(registered, ...rest);
    };
  }
}

/**
 * The fan-out over SDK 1.x: a catalog server and three session servers, each
 * with its own client; the suite drives the first session's client, and the
 * others must see the same lists and calls.
 */
async function connect(): Promise<ConformanceSession> {
  const catalog = new McpServer({ name: 'catalog', version: '1.0.0' }, CAPABILITIES);
  const fanOut = createFanOutAdapter({ catalog: createSdkV1Adapter(catalog) });
  const servers: McpServer[] = [];
  const clients: Client[] = [];
  const counts: Record<ListKind, number> = { tool: 0, prompt: 0, resource: 0 };
  for (let index = 0; index < 3; index++) {
    const server = new McpServer({ name: `session-${index}`, version: '1.0.0' }, CAPABILITIES);
    await fanOut.attach(createSdkV1Adapter(server));
    const client = new Client({ name: `client-${index}`, version: '1.0.0' });
    if (index === 0) {
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => void counts.tool++);
      client.setNotificationHandler(PromptListChangedNotificationSchema, () => void counts.prompt++);
      client.setNotificationHandler(ResourceListChangedNotificationSchema, () => void counts.resource++);
    }
    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    await server.connect(serverTransport);
    await client.connect(clientTransport);
    servers.push(server);
    clients.push(client);
  }
  const client = clients[0] as Client;
  const toolNames = async (c: Client) => (await c.listTools()).tools.map((tool) => tool.name).sort();

  return {
    adapter: fanOut,
    addForeign(kind, name) {
      for (const server of [catalog, ...servers]) addForeign(server, kind, name);
    },
    async listTools() {
      const names = await toolNames(client);
      // Every other session lists exactly the same tools.
      for (const other of clients.slice(1)) expect(await toolNames(other)).toEqual(names);
      return names;
    },
    async callTool(name, args = {}) {
      try {
        const result = await client.callTool({ name, arguments: args });
        return { text: firstText(result.content), isError: result.isError === true };
      } catch (error) {
        return { text: error instanceof Error ? error.message : String(error), isError: true };
      }
    },
    listPrompts: async () => (await client.listPrompts()).prompts.map((prompt) => prompt.name),
    getPrompt: async (name, args) => firstText((await client.getPrompt({ name, arguments: args ?? {} })).messages),
    listResources: async () => (await client.listResources()).resources.map((resource) => resource.uri),
    listResourceTemplates: async () =>
      (await client.listResourceTemplates()).resourceTemplates.map((template) => template.name),
    readResource: async (uri) => firstText((await client.readResource({ uri })).contents),
    notifications: () => ({ ...counts }),
    settle: async () => {
      await fanOut.idle(); // list_changed goes out a slice of sessions per event-loop turn after the commit
      await client.ping();
    },
    failRegistrationOf: (name) => sabotage(catalog, name),
    async close() {
      for (const c of clients) await c.close();
      for (const server of servers) await server.close();
    },
  };
}

adapterConformance('createFanOutAdapter over @hotmcp/adapter-sdk-v1, three sessions', {
  connect,
  stringSchema: (fields) => Object.fromEntries(fields.map((field) => [field, z.string()])),
});

describe('sharing one prepared change between SDK adapters', () => {
  const tool = defineTool({ name: 'shared', description: 'shared', handler: () => ({ content: [] }) });

  it('lets an adapter of the same kind commit a change another one prepared', async () => {
    const [a, b] = [
      new McpServer({ name: 'a', version: '1' }, CAPABILITIES),
      new McpServer({ name: 'b', version: '1' }, CAPABILITIES),
    ];
    const prepared = await createSdkV1Adapter(a).prepare({ upsert: [tool], remove: [] });
    const other = createSdkV1Adapter(b);
    expect(other.canCommit(prepared)).toBe(true);
    other.commit(prepared);
    expect(Object.keys((b as unknown as { _registeredTools: object })._registeredTools)).toEqual(['shared']);
  });

  it('refuses a change prepared by an adapter for the other SDK', async () => {
    const prepared = await createSdkV2Adapter(new McpServerV2({ name: 'v2', version: '1' }, CAPABILITIES)).prepare({
      upsert: [tool],
      remove: [],
    });
    const v1 = createSdkV1Adapter(new McpServer({ name: 'v1', version: '1' }, CAPABILITIES));
    expect(v1.canCommit(prepared)).toBe(false);
    let error: unknown;
    try {
      v1.commit(prepared);
    } catch (caught) {
      error = caught;
    }
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_COMMIT_FAILED');
  });
});
