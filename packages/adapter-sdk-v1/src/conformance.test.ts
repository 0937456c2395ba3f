import type { DefinitionKind, ListKind } from '@hotmcp/core';
import { adapterConformance, type ConformanceSession } from '@hotmcp/core/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { createSdkV1Adapter } from './sdk-v1-adapter.js';

const CAPABILITIES = {
  capabilities: {
    tools: { listChanged: true },
    prompts: { listChanged: true },
    resources: { listChanged: true },
  },
};

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

async function connect(): Promise<ConformanceSession> {
  const server = new McpServer({ name: 'conformance', version: '1.0.0' }, CAPABILITIES);
  const adapter = createSdkV1Adapter(server);
  const client = new Client({ name: 'conformance-client', version: '1.0.0' });
  const counts: Record<ListKind, number> = { tool: 0, prompt: 0, resource: 0 };
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    counts.tool++;
  });
  client.setNotificationHandler(PromptListChangedNotificationSchema, () => {
    counts.prompt++;
  });
  client.setNotificationHandler(ResourceListChangedNotificationSchema, () => {
    counts.resource++;
  });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  await client.connect(clientTransport);

  return {
    adapter,
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

adapterConformance('@hotmcp/adapter-sdk-v1', {
  connect,
  stringSchema: (fields) => Object.fromEntries(fields.map((field) => [field, z.string()])),
});
