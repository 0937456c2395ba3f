import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitUntil } from '@hotmcp/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callText, connect, createSandbox, type Sandbox, type Session } from '../src/harness.js';
import { auditEvents, greetTool, waitForAudit } from './support.js';

let sandbox: Sandbox;
let session: Session;

beforeEach(async () => {
  sandbox = await createSandbox();
  session = await connect(sandbox);
});

afterEach(async () => {
  await session?.close();
  await sandbox?.cleanup();
});

const toolNames = async () => (await session.client.listTools()).tools.map((tool) => tool.name).sort();

describe('the SDK v1 example under a real stdio client', () => {
  it('lists the static tool and every tool module at start', async () => {
    expect(await toolNames()).toEqual(['echo', 'server_info', 'word_count']);
    expect(await callText(session.client, 'echo', { text: 'hi' })).toBe('« hi »');
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
    // Only behaviour changed, nothing a client lists: the new code is live and no list_changed was
    // sent (one would have arrived before the answer above). A later visible change is the fence.
    expect(session.listChanged()).toBe(0);
    await sandbox.write('marker.ts', greetTool('marker', 'm'));
    await session.waitForListChanged(1);
    await waitUntil(async () => (await toolNames()).includes('marker'));
    expect(session.listChanged()).toBe(1);
  });

  it('sends a list_changed when an edit changes what clients list', async () => {
    await sandbox.write('echo.ts', (await sandbox.read('echo.ts')).replace('Echo the text back', 'Echo it back'));
    await session.waitForListChanged(1);
    const echo = (await session.client.listTools()).tools.find((tool) => tool.name === 'echo');
    expect(echo?.description).toBe('Echo it back');
  });

  it('removes the tools of a deleted module with one list_changed', async () => {
    await sandbox.remove('word-count.ts');
    await session.waitForListChanged(1);
    expect(await toolNames()).toEqual(['echo', 'server_info']);
  });

  it('never loads a denied file', async () => {
    await mkdir(join(sandbox.toolsDir, 'drafts'));
    await sandbox.write('drafts/wip.ts', greetTool('wip', 'Draft'));
    const denied = await waitForAudit(sandbox, (e) => e.event === 'file.denied');
    expect(denied.file).toBe(join(sandbox.toolsDir, 'drafts', 'wip.ts'));
    expect(await toolNames()).not.toContain('wip');
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

  it('records each applied batch in the audit log with its duration', async () => {
    await sandbox.write('greet.ts', greetTool('greet', 'Hello'));
    await session.waitForListChanged(1);
    const batch = await waitForAudit(sandbox, (e) => e.event === 'batch.applied' && e.added === 1);
    expect(batch).toMatchObject({ upserted: ['tool:greet'], notified: ['tool'], pid: expect.any(Number) });
    expect(typeof batch.durationMs).toBe('number');
    expect((await auditEvents(sandbox)).some((e) => e.event === 'reloader.started')).toBe(true);
  });
});
