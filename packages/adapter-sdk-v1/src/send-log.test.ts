import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createSdkV1Adapter } from './sdk-v1-adapter.js';

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

/** A server (with or without the logging capability), its adapter, and a real Client recording log messages. */
async function connect(logging: boolean) {
  const server = new McpServer(
    { name: 'log-test', version: '1.0.0' },
    { capabilities: { tools: { listChanged: true }, ...(logging && { logging: {} }) } },
  );
  const adapter = createSdkV1Adapter(server);
  const client = new Client({ name: 'log-client', version: '1.0.0' });
  const logs: unknown[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
    logs.push(notification.params);
  });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  await client.connect(clientTransport);
  open.push(async () => {
    await client.close();
    await server.close();
  });
  return { server, adapter, client, logs };
}

const message = { level: 'error' as const, logger: 'hotmcp', data: { code: 'HOTMCP_ERR_SYNTAX', file: 'a.ts' } };

describe('SDK v1 adapter sendLog', () => {
  it('sends notifications/message when the server advertises logging', async () => {
    const t = await connect(true);
    t.adapter.sendLog(message);
    await t.client.ping(); // the notification was written before the answer
    expect(t.logs).toEqual([message]);
  });

  it('sends nothing when the server does not advertise logging', async () => {
    const t = await connect(false);
    t.adapter.sendLog(message);
    await t.client.ping();
    expect(t.logs).toEqual([]);
  });

  it("respects the client's logging/setLevel", async () => {
    const t = await connect(true);
    await t.client.setLoggingLevel('critical');
    t.adapter.sendLog(message);
    await t.client.ping();
    expect(t.logs).toEqual([]);
  });

  it('never throws: a failed send goes to the server onerror, an unconnected server sends nothing', async () => {
    const t = await connect(true);
    const errors: Error[] = [];
    t.server.server.onerror = (error) => errors.push(error);
    const transport = t.server.server.transport as { send: (...args: unknown[]) => Promise<void> };
    transport.send = async () => {
      throw new Error('pipe closed');
    };
    expect(() => t.adapter.sendLog(message)).not.toThrow();
    await expect.poll(() => errors.map((error) => error.message), { timeout: 2_000 }).toEqual(['pipe closed']);
    const unconnected = createSdkV1Adapter(
      new McpServer({ name: 'x', version: '1.0.0' }, { capabilities: { logging: {} } }),
    );
    expect(() => unconnected.sendLog(message)).not.toThrow();
  });
});
