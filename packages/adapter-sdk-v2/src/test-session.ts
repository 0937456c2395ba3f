/**
 * Test support (not exported): an SDK 2.x McpServer, its adapter and a real
 * SDK 2.x Client over the SDK's InMemoryTransport, as the conformance suite
 * and the unit tests drive them.
 */
import type { DefinitionKind, ListKind } from '@hotmcp/core';
import type { ConformanceSession } from '@hotmcp/core/testing';
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport, McpServer, ResourceTemplate } from '@modelcontextprotocol/server';
import { createSdkV2Adapter, type SdkV2Adapter } from './sdk-v2-adapter.js';

export const ALL_CAPABILITIES = {
  capabilities: {
    tools: { listChanged: true },
    prompts: { listChanged: true },
    resources: { listChanged: true },
  },
};

export interface V2Session extends ConformanceSession {
  adapter: SdkV2Adapter;
  server: McpServer;
  client: Client;
}

const firstText = (items: unknown): string => {
  const first = (items as Array<{ text?: string; content?: { text?: string } }> | undefined)?.[0];
  return first?.text ?? first?.content?.text ?? '';
};

/** Make every register method of `server` throw for `name`. */
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

/** Connect a real v2 Client to `server` (2025-era protocol, as a hand-wired server speaks it). */
export async function connectV2(
  server: McpServer = new McpServer({ name: 'conformance', version: '1.0.0' }, ALL_CAPABILITIES),
  adapter: SdkV2Adapter = createSdkV2Adapter(server),
): Promise<V2Session> {
  const client = new Client({ name: 'conformance-client', version: '1.0.0' });
  const counts: Record<ListKind, number> = { tool: 0, prompt: 0, resource: 0 };
  client.setNotificationHandler('notifications/tools/list_changed', () => {
    counts.tool++;
  });
  client.setNotificationHandler('notifications/prompts/list_changed', () => {
    counts.prompt++;
  });
  client.setNotificationHandler('notifications/resources/list_changed', () => {
    counts.resource++;
  });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  await client.connect(clientTransport);

  return {
    adapter,
    server,
    client,
    addForeign(kind: DefinitionKind, name: string) {
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
    },
    listTools: async () => (await client.listTools()).tools.map((tool) => tool.name),
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
      await client.ping();
    },
    failRegistrationOf: (name) => sabotage(server, name),
    async close() {
      await client.close();
      await server.close();
    },
  };
}
