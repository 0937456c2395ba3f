import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitUntil } from '@hotmcp/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callText, connect, createSandbox, type Sandbox, type Session } from '../src/harness.js';
import { auditEvents, greetTool, loadFailed, waitForAudit } from './support.js';

let sandbox: Sandbox;
let session: Session;

beforeEach(async () => {
  sandbox = await createSandbox();
});

afterEach(async () => {
  await session?.close();
  await sandbox?.cleanup();
});

const toolNames = async () => (await session.client.listTools()).tools.map((tool) => tool.name).sort();

describe('the SDK v2 example under a real stdio client', () => {
  beforeEach(async () => {
    session = await connect(sandbox);
  });

  it('lists the static tool, every tool module, the prompt and the resources at start', async () => {
    expect(await toolNames()).toEqual(['echo', 'server_info', 'word_count']);
    expect(await callText(session.client, 'echo', { text: 'hi' })).toBe('« hi »');
    expect((await session.client.listPrompts()).prompts.map((prompt) => prompt.name)).toEqual(['greeting']);
    expect((await session.client.listResources()).resources.map((resource) => resource.uri)).toEqual(['notes://all']);
    const read = await session.client.readResource({ uri: 'notes://2' });
    expect(read.contents[0]).toMatchObject({ text: 'Ship hotmcp' });
  });

  it('shows a newly written tool with one list_changed, and it answers', async () => {
    await sandbox.write('greet.ts', greetTool('greet', 'Hello'));
    await session.waitForListChanged(1);
    expect(await toolNames()).toContain('greet');
    expect(await callText(session.client, 'greet', { name: 'Ada' })).toBe('Hello Ada');
  });

  it('answers with the new code after an edit', async () => {
    await sandbox.write('greet.ts', greetTool('greet', 'Hello'));
    await session.waitForListChanged(1);
    await sandbox.write('greet.ts', greetTool('greet', 'Goodbye'));
    await session.waitForListChanged(2);
    expect(await callText(session.client, 'greet', { name: 'Ada' })).toBe('Goodbye Ada');
  });

  it('reaches both importing tools when the shared helper is edited, without a list_changed', async () => {
    await sandbox.write('lib/format.ts', "export const decorate = (text: string): string => '<' + text + '>';\n");
    await waitUntil(async () => (await callText(session.client, 'echo', { text: 'hi' })) === '<hi>', {
      timeoutMs: 10_000,
      what: 'echo to use the edited helper',
    });
    expect(await callText(session.client, 'word_count', { text: 'a b c' })).toBe('<3 words>');
    // Nothing a client lists changed: no list_changed (it would have arrived before the answer
    // above). A later visible change is the fence.
    expect(session.listChanged()).toBe(0);
    await sandbox.write('marker.ts', greetTool('marker', 'm'));
    await session.waitForListChanged(1);
    await waitUntil(async () => (await toolNames()).includes('marker'));
    expect(session.listChanged()).toBe(1);
  });

  it('removes the tools of a deleted module with one list_changed', async () => {
    await sandbox.remove('word-count.ts');
    await session.waitForListChanged(1);
    expect(await toolNames()).toEqual(['echo', 'server_info']);
  });

  it('keeps the last good version on a syntax error, reports file and line, and recovers on the fix', async () => {
    await sandbox.write('echo.ts', `${await sandbox.read('echo.ts')}\nexport const broken = ;\n`);
    const failure = await waitForAudit(sandbox, loadFailed);
    expect(failure).toMatchObject({ code: 'HOTMCP_ERR_SYNTAX', file: join(sandbox.toolsDir, 'echo.ts') });
    expect(failure.line).toBeGreaterThan(10);
    expect(await callText(session.client, 'echo', { text: 'still' })).toBe('« still »');
    await sandbox.write('echo.ts', greetTool('echo', 'Fixed'));
    await session.waitForListChanged(1);
    expect(await callText(session.client, 'echo', { name: 'x' })).toBe('Fixed x');
  });

  it('sends exactly one list_changed for a batch that adds three tools', async () => {
    const staging = join(sandbox.dir, 'staging');
    await mkdir(staging);
    for (const name of ['one', 'two', 'three']) await writeFile(join(staging, `${name}.ts`), greetTool(name, name));
    await rename(staging, join(sandbox.toolsDir, 'pack')); // all three appear at once
    await session.waitForListChanged(1);
    expect(await toolNames()).toEqual(expect.arrayContaining(['one', 'two', 'three']));
    // A later, separate change is the fence: had the batch sent two, this would read 3.
    await sandbox.write('marker.ts', greetTool('marker', 'm'));
    await session.waitForListChanged(2);
    await waitUntil(async () => (await toolNames()).includes('marker'));
    expect(session.listChanged()).toBe(2);
  });

  it('reloads a prompt module with a prompts list_changed and no tools one', async () => {
    await sandbox.write(
      'greeting.ts',
      (await sandbox.read('greeting.ts'))
        .replace("'Ask the model to greet someone'", "'Ask the model to greet someone briefly'")
        .replace('warmly', 'in one word'),
    );
    await session.waitForListChanged(1, 'prompts');
    const prompt = await session.client.getPrompt({ name: 'greeting', arguments: { name: 'Ada' } });
    expect(prompt.messages[0]?.content).toMatchObject({ text: 'Please greet Ada in one word.' });
    expect((await session.client.listPrompts()).prompts[0]?.description).toBe('Ask the model to greet someone briefly');
    expect(session.listChanged('tools')).toBe(0);
  });

  it('adds a resource module with a resources list_changed, readable by its normalised URI', async () => {
    await sandbox.write(
      'todo.ts',
      `import { defineResource } from '@hotmcp/core';
export default defineResource({
  name: 'todo',
  uri: 'NOTES://Todo/../todo',
  handler: async (uri) => ({ contents: [{ uri: uri.href, text: 'write tests' }] }),
});
`,
    );
    await session.waitForListChanged(1, 'resources');
    const uris = (await session.client.listResources()).resources.map((resource) => resource.uri);
    expect(uris).toContain('notes://Todo/todo');
    const read = await session.client.readResource({ uri: 'notes://Todo/todo' });
    expect(read.contents[0]).toMatchObject({ text: 'write tests' });
    expect(session.listChanged('tools')).toBe(0);
  });

  it('refuses a tool whose schema the SDK cannot convert, naming tool and module, and applies the rest', async () => {
    await sandbox.write(
      'dates.ts',
      `import { defineTool } from '@hotmcp/core';
import { z } from 'zod';
export const when = defineTool({
  name: 'when',
  inputSchema: z.object({ at: z.date() }),
  handler: async () => ({ content: [{ type: 'text', text: 'never' }] }),
});
export const today = defineTool({
  name: 'today',
  handler: async () => ({ content: [{ type: 'text', text: 'today' }] }),
});
`,
    );
    const rejected = await waitForAudit(sandbox, (e) => e.event === 'definition.rejected');
    expect(rejected).toMatchObject({
      code: 'HOTMCP_ERR_INVALID_DEFINITION',
      kind: 'tool',
      name: 'when',
      module: join(sandbox.toolsDir, 'dates.ts'),
    });
    expect(String(rejected.message)).toContain('Tool "when"');
    await session.waitForListChanged(1);
    expect(await toolNames()).toEqual(['echo', 'server_info', 'today', 'word_count']);
    expect(await callText(session.client, 'today')).toBe('today');
  });

  it('refuses a second prompt of one name and a template that collides with another, clobbering nothing', async () => {
    await sandbox.write(
      'clash.ts',
      `import { definePrompt, defineResource } from '@hotmcp/core';
export const greeting = definePrompt({
  name: 'greeting',
  handler: async () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'impostor' } }] }),
});
export const memo = defineResource({
  name: 'memo',
  template: 'notes://{id}',
  handler: async (uri) => ({ contents: [{ uri: uri.href, text: 'impostor' }] }),
});
`,
    );
    const rejected = async () => (await auditEvents(sandbox)).filter((e) => e.event === 'definition.rejected');
    await waitUntil(async () => (await rejected()).length >= 2, {
      timeoutMs: 10_000,
      what: 'both definitions refused',
    });
    expect(await rejected()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'HOTMCP_ERR_NAME_CONFLICT', kind: 'prompt', name: 'greeting' }),
        expect.objectContaining({ code: 'HOTMCP_ERR_NAME_CONFLICT', kind: 'resourceTemplate', name: 'memo' }),
      ]),
    );
    const prompt = await session.client.getPrompt({ name: 'greeting', arguments: { name: 'Ada' } });
    expect(prompt.messages[0]?.content).toMatchObject({ text: 'Please greet Ada warmly.' });
    expect((await session.client.readResource({ uri: 'notes://1' })).contents[0]).toMatchObject({ text: 'Buy milk' });
    const templates = (await session.client.listResourceTemplates()).resourceTemplates.map((t) => t.name);
    expect(templates).toEqual(['note']);
  });

  it("refuses a tool module that takes the static tool's name", async () => {
    await sandbox.write('impostor.ts', greetTool('server_info', 'Fake'));
    const conflict = await waitForAudit(sandbox, (e) => e.event === 'definition.rejected');
    expect(conflict).toMatchObject({ code: 'HOTMCP_ERR_NAME_CONFLICT', name: 'server_info' });
    expect(JSON.parse(await callText(session.client, 'server_info'))).toHaveProperty('pid');
  });

  it('never loads a denied file', async () => {
    await mkdir(join(sandbox.toolsDir, 'drafts'));
    await sandbox.write('drafts/wip.ts', greetTool('wip', 'Draft'));
    const denied = await waitForAudit(sandbox, (e) => e.event === 'file.denied');
    expect(denied.file).toBe(join(sandbox.toolsDir, 'drafts', 'wip.ts'));
    expect(await toolNames()).not.toContain('wip');
  });

  it('records each applied batch in the audit log with what it notified', async () => {
    await sandbox.write('greet.ts', greetTool('greet', 'Hello'));
    await session.waitForListChanged(1);
    const batch = await waitForAudit(sandbox, (e) => e.event === 'batch.applied' && e.added === 1);
    expect(batch).toMatchObject({ upserted: ['tool:greet'], notified: ['tool'] });
    expect((await auditEvents(sandbox)).some((e) => e.event === 'reloader.started')).toBe(true);
  });
});

describe('the SDK v2 example on protocol 2026-07-28 (subscriptions/listen)', () => {
  let modern: Session;

  beforeEach(async () => {
    modern = await connect(sandbox, { protocol: 'modern' });
    session = modern;
  });

  it('sends a subscribed client one list_changed per visible batch and none for a body-only edit', async () => {
    expect(modern.client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    await sandbox.write('greet.ts', greetTool('greet', 'Hello'));
    await modern.waitForListChanged(1);
    expect(await callText(modern.client, 'greet', { name: 'Ada' })).toBe('Hello Ada');

    await sandbox.write('greet.ts', greetTool('greet', 'Hello').replace("'Hello ' + name", "'Hello, ' + name"));
    await waitUntil(async () => (await callText(modern.client, 'greet', { name: 'Ada' })) === 'Hello, Ada');
    expect(modern.listChanged()).toBe(1);

    await sandbox.write(
      'greeting.ts',
      (await sandbox.read('greeting.ts')).replace("'Ask the model to greet someone'", "'Ask for a kind greeting'"),
    );
    await modern.waitForListChanged(1, 'prompts');
    expect(modern.listChanged()).toBe(1);
  });
});
