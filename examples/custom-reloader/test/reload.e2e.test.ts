import { cp, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '@hotmcp/core/testing';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const exampleDir = join(dirname(fileURLToPath(import.meta.url)), '..');

let dir: string;
let toolsDir: string;
let auditFile: string;
let client: Client;
let stderr = '';
let listChanged = 0;

const tool = (name: string, reply: string) => `import { defineTool } from '@hotmcp/core';
export default defineTool({
  name: '${name}',
  description: 'Says ${reply}',
  handler: async () => ({ content: [{ type: 'text', text: '${reply}' }] }),
});
`;

/**
 * Write a file under the tools folder the way editors save: a temp file renamed into place. This reloader
 * is composed without createReloader's coalescing, so a plain write could be seen half-done (truncated).
 */
async function save(relative: string, content: string): Promise<void> {
  const temp = join(dir, `.save-${Date.now()}-${Math.random()}`);
  await writeFile(temp, content);
  await rename(temp, join(toolsDir, relative));
}

async function auditEvents(): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(auditFile, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function call(name: string, args: Record<string, unknown> = {}): Promise<string> {
  const result = await client.callTool({ name, arguments: args });
  return (result.content as Array<{ text?: string }>)[0]?.text ?? '';
}

const toolNames = async () => (await client.listTools()).tools.map((t) => t.name).sort();

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hotmcp-custom-reloader-'));
  toolsDir = join(dir, 'tools');
  auditFile = join(dir, 'audit', 'custom.log');
  await cp(join(exampleDir, 'tools'), toolsDir, { recursive: true });
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
  await symlink(join(exampleDir, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(exampleDir, 'dist', 'server.js')],
    cwd: dir,
    env: { ...(process.env as Record<string, string>), HOTMCP_TOOLS_DIR: toolsDir, HOTMCP_AUDIT_LOG: auditFile },
    stderr: 'pipe',
  });
  stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  client = new Client({ name: 'custom-reloader-test', version: '0.0.0' });
  listChanged = 0;
  client.setNotificationHandler('notifications/tools/list_changed', () => {
    listChanged++;
  });
  await client.connect(transport);
});

afterEach(async () => {
  await client?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a reloader composed by hand through the container', () => {
  it('serves the tools found at start', async () => {
    expect(await toolNames()).toEqual(['hello']);
    expect(await call('hello', { name: 'Ada' })).toBe('Hello, Ada!');
  });

  it('reloads: a new tool appears with one list_changed, an edit answers with the new code', async () => {
    await save('ping.ts', tool('ping', 'pong'));
    await waitUntil(() => listChanged === 1, { what: 'the list_changed of the new tool' });
    expect(await call('ping')).toBe('pong');
    await save('ping.ts', tool('ping', 'PONG'));
    await waitUntil(() => listChanged === 2, { what: 'the list_changed of the edit' });
    expect(await call('ping')).toBe('PONG');
  });

  it('records every event through the custom audit sink, stamped with the root', async () => {
    await save('ping.ts', tool('ping', 'pong'));
    await waitUntil(() => listChanged === 1, { what: 'the list_changed of the new tool' });
    await waitUntil(async () => (await auditEvents()).some((e) => e.event === 'batch.applied' && e.added === 1), {
      what: 'audit',
    });
    const events = await auditEvents();
    expect(events[0]).toMatchObject({ event: 'reloader.started', root: toolsDir });
    expect(events.every((e) => e.root === toolsDir)).toBe(true);
    await waitUntil(() => stderr.includes('audit: batch applied'), { what: 'the summary on stderr' });
    expect(stderr).toMatch(/audit: batch applied in [\d.]+ ms, notified tool/);
  });

  it('never loads files matched by the extra deny globs', async () => {
    await save('drafts/idea.ts', tool('idea', 'draft'));
    await save('half.wip.ts', tool('half', 'wip'));
    // A file may be seen twice (created, then written), so wait for both files, not for two events.
    const denied = async () =>
      [...new Set((await auditEvents()).filter((e) => e.event === 'file.denied').map((e) => String(e.file)))].sort();
    await waitUntil(async () => (await denied()).length === 2, { what: 'both files denied' });
    expect(await denied()).toEqual([join(toolsDir, 'drafts', 'idea.ts'), join(toolsDir, 'half.wip.ts')]);
    expect(await toolNames()).toEqual(['hello']);
    expect(listChanged).toBe(0);
  });
});
