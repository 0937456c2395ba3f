import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterEach, expect, it, vi } from 'vitest';

const supervise = fileURLToPath(new URL('./fixtures/supervise.mjs', import.meta.url));
const fixtureServer = fileURLToPath(new URL('./fixtures/server/server-v2.mjs', import.meta.url));
const dirs: string[] = [];
const clients: Client[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close().catch(() => {});
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const pidOf = async (client: Client): Promise<number> => {
  const result = (await client.callTool({ name: 'whoami', arguments: {} })) as { content: { text: string }[] };
  return JSON.parse((result.content[0] as { text: string }).text).pid;
};

it('keeps a 2026-07-28 client’s listen stream across a restart and sends list_changed on it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hotmcp-supervisor-modern-'));
  dirs.push(dir);
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [supervise, '--', process.execPath, fixtureServer],
    cwd: dir,
    stderr: 'pipe',
  });
  const client = new Client({ name: 'modern', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
  clients.push(client);
  const errors: Error[] = [];
  client.onerror = (error) => errors.push(error);
  let listChanged = 0;
  client.setNotificationHandler('notifications/tools/list_changed', async () => {
    listChanged++;
  });
  await client.connect(transport);
  // Count what reaches the client on the wire: the replayed listen's acknowledgement must not.
  let acknowledgements = 0;
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    if ((message as { method?: string }).method === 'notifications/subscriptions/acknowledged') acknowledgements++;
    deliver?.(message, extra);
  };
  expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
  await client.listen({ toolsListChanged: true });
  const first = await pidOf(client);
  await expect(client.callTool({ name: 'crash', arguments: {} })).rejects.toThrow(/restarted/);
  await vi.waitFor(async () => expect(await pidOf(client)).not.toBe(first), { timeout: 15_000, interval: 25 });
  await vi.waitFor(() => expect(listChanged).toBeGreaterThanOrEqual(1), { timeout: 5000 });
  expect(acknowledgements).toBe(1);
  expect(errors).toEqual([]);
});
