/**
 * Protocol revision 2026-07-28: change notifications are no longer sent
 * unsolicited; a client opens `subscriptions/listen` for the lists it wants,
 * and `serveStdio` routes the server's list_changed onto those subscriptions.
 * These tests drive the real v2 Client against a server served by
 * `serveStdio` (over the SDK's in-memory transport instead of real stdio).
 */
import type { AnyDefinition, RegistryChange } from '@hotmcp/core';
import { definePrompt, defineTool } from '@hotmcp/core';
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport, McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { afterEach, describe, expect, it } from 'vitest';
import { createSdkV2Adapter, type SdkV2Adapter } from './sdk-v2-adapter.js';
import { ALL_CAPABILITIES } from './test-session.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

const tool = (name: string, reply: string, description = `The ${name} tool`) =>
  defineTool({ name, description, handler: () => ({ content: [{ type: 'text', text: reply }] }) });
const prompt = (name: string) =>
  definePrompt({ name, handler: () => ({ messages: [{ role: 'user', content: { type: 'text', text: name } }] }) });

function change(upsert: unknown[]): RegistryChange {
  return { upsert: upsert as AnyDefinition[], remove: [] };
}

interface Modern {
  adapter: SdkV2Adapter;
  client: Client;
  received: { tools: unknown[]; prompts: unknown[] };
  apply(c: RegistryChange): Promise<void>;
}

/** A server behind `serveStdio`, its adapter, and a v2 client that negotiated 2026-07-28. */
async function modern(options: ConstructorParameters<typeof Client>[1] = {}): Promise<Modern> {
  const server = new McpServer({ name: 'modern', version: '1.0.0' }, ALL_CAPABILITIES);
  const adapter = createSdkV2Adapter(server);
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  const handle = serveStdio(() => server, { transport: serverTransport });
  const client = new Client(
    { name: 'modern-client', version: '1.0.0' },
    {
      versionNegotiation: { mode: 'auto' },
      ...options,
    },
  );
  const received = { tools: [] as unknown[], prompts: [] as unknown[] };
  client.setNotificationHandler('notifications/tools/list_changed', (notification) => {
    received.tools.push(notification);
  });
  client.setNotificationHandler('notifications/prompts/list_changed', (notification) => {
    received.prompts.push(notification);
  });
  await client.connect(clientTransport);
  closers.push(async () => {
    await client.close();
    await handle.close();
  });
  return {
    adapter,
    client,
    received,
    async apply(c) {
      adapter.commit(await adapter.prepare(c));
      // A round trip (2026-07-28 has no ping): every notification sent before its answer has arrived.
      await client.callTool({ name: 'no_such_tool', arguments: {} }).catch(() => undefined);
    },
  };
}

describe('SdkV2Adapter on protocol 2026-07-28 (subscriptions/listen)', () => {
  it('reaches a client only once it subscribed, one list_changed per batch', async () => {
    const m = await modern();
    expect(m.client.getNegotiatedProtocolVersion()).toBe('2026-07-28');

    await m.apply(change([tool('a', 'a')]));
    expect(m.received.tools).toHaveLength(0); // nothing is sent unsolicited on this protocol

    const subscription = await m.client.listen({ toolsListChanged: true });
    await m.apply(change([tool('b', 'b'), tool('c', 'c'), tool('d', 'd')]));
    expect(m.received.tools).toHaveLength(1);
    expect(m.received.tools[0]).toMatchObject({
      method: 'notifications/tools/list_changed',
      params: { _meta: { 'io.modelcontextprotocol/subscriptionId': expect.any(String) } },
    });
    expect((await m.client.listTools()).tools.map((t) => t.name)).toEqual(['a', 'b', 'c', 'd']);
    await subscription.close();
  });

  it('delivers only the lists a subscription asked for', async () => {
    const m = await modern();
    const subscription = await m.client.listen({ toolsListChanged: true });
    await m.apply(change([tool('a', 'a'), prompt('p')]));
    expect(m.received.tools).toHaveLength(1);
    expect(m.received.prompts).toHaveLength(0);
    await subscription.close();
  });

  it('sends nothing to a subscriber when only a handler body changed', async () => {
    const m = await modern();
    const subscription = await m.client.listen({ toolsListChanged: true });
    await m.apply(change([tool('a', 'v1')]));
    await m.apply(change([tool('a', 'v2')]));
    expect(m.received.tools).toHaveLength(1);
    expect(await m.client.callTool({ name: 'a', arguments: {} })).toMatchObject({
      content: [{ type: 'text', text: 'v2' }],
    });
    await m.apply(change([tool('a', 'v3', 'A new description')]));
    expect(m.received.tools).toHaveLength(2);
    await subscription.close();
  });

  it("feeds the client's listChanged handlers through the subscription it opens at connect", async () => {
    const seen: string[][] = [];
    let notify!: () => void;
    const changed = new Promise<void>((resolve) => {
      notify = resolve;
    });
    const m = await modern({
      listChanged: {
        tools: {
          debounceMs: 0,
          onChanged: (_error: unknown, tools: Array<{ name: string }> | null) => {
            seen.push((tools ?? []).map((t) => t.name));
            notify();
          },
        },
      },
    });
    await m.apply(change([tool('fresh', 'x')]));
    await changed;
    expect(seen).toEqual([['fresh']]);
  });
});
