import type { ListKind } from '@hotmcp/core';
import { adapterConformance, type ConformanceSession } from '@hotmcp/core/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { createToolTableAdapter } from '../src/tool-table-adapter.js';
import { createToolTableServer } from '../src/tool-table-server.js';

async function connect(): Promise<ConformanceSession> {
  const table = createToolTableServer({ name: 'conformance', version: '1.0.0' });
  const adapter = createToolTableAdapter(table);
  const client = new Client({ name: 'conformance-client', version: '1.0.0' });
  const counts: Record<ListKind, number> = { tool: 0, prompt: 0, resource: 0 };
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    counts.tool++;
  });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await table.server.connect(serverTransport);
  await client.connect(clientTransport);
  return {
    adapter,
    addForeign(kind, name) {
      if (kind !== 'tool') throw new Error('this server has tools only');
      table.tools.set(name, {
        name,
        inputSchema: { type: 'object', properties: {} },
        parse: async () => ({ ok: true, value: {} }),
        run: () => ({ content: [{ type: 'text', text: `foreign:${name}` }] }),
      });
    },
    listTools: async () => (await client.listTools()).tools.map((tool) => tool.name),
    async callTool(name, args = {}) {
      try {
        const result = await client.callTool({ name, arguments: args });
        const first = (result.content as Array<{ text?: string }>)[0];
        return { text: first?.text ?? '', isError: result.isError === true };
      } catch (error) {
        return { text: error instanceof Error ? error.message : String(error), isError: true };
      }
    },
    notifications: () => ({ ...counts }),
    settle: async () => {
      await client.ping();
    },
    failRegistrationOf(name) {
      const set = table.tools.set.bind(table.tools);
      table.tools.set = (key, value) => {
        if (key === name) throw new Error(`cannot store ${name}, on purpose`);
        return set(key, value);
      };
    },
    async close() {
      await client.close();
      await table.server.close();
    },
  };
}

adapterConformance('example tool-table adapter', {
  connect,
  kinds: ['tool'],
  stringSchema: (fields) => z.object(Object.fromEntries(fields.map((field) => [field, z.string()]))),
});
