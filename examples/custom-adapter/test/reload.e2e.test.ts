import { cp, mkdtemp, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '@hotmcp/core/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const exampleDir = join(dirname(fileURLToPath(import.meta.url)), '..');

let dir: string;
let toolsDir: string;
let auditLog: string;
let client: Client;
let listChanged = 0;

const tool = (name: string, reply: string, description = `Says ${reply}`) => `import { defineTool } from '@hotmcp/core';
import { z } from 'zod';
export default defineTool({
  name: '${name}',
  description: '${description}',
  inputSchema: z.object({ who: z.string() }),
  handler: async ({ who }) => ({ content: [{ type: 'text', text: '${reply} ' + who }] }),
});
`;

async function audit(event: string): Promise<Record<string, unknown> | undefined> {
  const text = await readFile(auditLog, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .find((e) => e.event === event);
}

async function call(name: string, args: Record<string, unknown> = {}): Promise<string> {
  const result = await client.callTool({ name, arguments: args });
  return (result.content as Array<{ text?: string }>)[0]?.text ?? '';
}

const toolNames = async () => (await client.listTools()).tools.map((t) => t.name).sort();

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hotmcp-custom-adapter-'));
  toolsDir = join(dir, 'tools');
  auditLog = join(dir, 'audit.log');
  await cp(join(exampleDir, 'tools'), toolsDir, { recursive: true });
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
  await symlink(join(exampleDir, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(exampleDir, 'dist', 'server.js')],
    cwd: dir,
    env: { ...(process.env as Record<string, string>), HOTMCP_TOOLS_DIR: toolsDir, HOTMCP_AUDIT_LOG: auditLog },
    stderr: 'pipe',
  });
  client = new Client({ name: 'custom-adapter-test', version: '0.0.0' });
  listChanged = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    listChanged++;
  });
  await client.connect(transport);
});

afterEach(async () => {
  await client?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a low-level Server with its own tool table, hot-reloaded through a custom adapter', () => {
  it('serves the application tool and the tool modules found at start', async () => {
    expect(await toolNames()).toEqual(['server_info', 'shout']);
    expect(await call('shout', { text: 'hi' })).toBe('HI!');
  });

  it('adds, edits and removes a tool module over stdio', async () => {
    await writeFile(join(toolsDir, 'greet.ts'), tool('greet', 'Hello'));
    await waitUntil(() => listChanged === 1, { what: 'the list_changed of the new tool' });
    expect(await call('greet', { who: 'Ada' })).toBe('Hello Ada');

    await writeFile(join(toolsDir, 'greet.ts'), tool('greet', 'Goodbye'));
    await waitUntil(() => listChanged === 2, { what: 'the list_changed of the edit' });
    expect(await call('greet', { who: 'Ada' })).toBe('Goodbye Ada');

    await unlink(join(toolsDir, 'greet.ts'));
    await waitUntil(() => listChanged === 3, { what: 'the list_changed of the removal' });
    expect(await toolNames()).toEqual(['server_info', 'shout']);
  });

  it('swaps a handler body without a list_changed', async () => {
    await writeFile(join(toolsDir, 'greet.ts'), tool('greet', 'Hello', 'Greets'));
    await waitUntil(() => listChanged === 1, { what: 'the list_changed of the new tool' });
    await writeFile(join(toolsDir, 'greet.ts'), tool('greet', 'Hi', 'Greets'));
    await waitUntil(async () => (await call('greet', { who: 'Ada' })) === 'Hi Ada', { what: 'the new body' });
    expect(listChanged).toBe(1);
  });

  it("refuses a module that takes the application tool's name", async () => {
    await writeFile(join(toolsDir, 'impostor.ts'), tool('server_info', 'Fake'));
    await waitUntil(async () => (await audit('definition.rejected')) !== undefined, { what: 'the rejection' });
    expect(await audit('definition.rejected')).toMatchObject({ code: 'HOTMCP_ERR_NAME_CONFLICT', name: 'server_info' });
    expect(JSON.parse(await call('server_info'))).toHaveProperty('pid');
  });
});
