import { waitUntil } from '@hotmcp/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callText, connect, createSandbox, type Sandbox, type Session } from '../src/harness.js';
import { auditMark, serverPid, toolNames, waitForAuditAfter } from './support.js';

let sandbox: Sandbox;
let session: Session;

beforeEach(async () => {
  sandbox = await createSandbox();
});

afterEach(async () => {
  await session?.close();
  await sandbox?.cleanup();
});

/** A tools module written the way SDK servers are: register(server), no hotmcp import. */
function registerModule(options: { greeting: string; third?: boolean; lowLevel?: boolean }): string {
  return `import { z } from 'zod';

export function register(server) {
  server.registerTool('greet', { description: 'Greets', inputSchema: { name: z.string() } }, async ({ name }) => ({
    content: [{ type: 'text', text: '${options.greeting}, ' + name }],
  }));
  server.tool('add', 'Adds', { a: z.number(), b: z.number() }, async ({ a, b }) => ({
    content: [{ type: 'text', text: String(a + b) }],
  }));
${
  options.third
    ? `  server.registerTool('third', {}, async () => ({ content: [{ type: 'text', text: 'third' }] }));\n`
    : ''
}${options.lowLevel ? `  server.server.setRequestHandler({ shape: { method: { value: 'x/y' } } }, () => ({}));\n` : ''}}
`;
}

describe('register(server) modules in the SDK v1 example', () => {
  it('serves what register(server) registers, follows edits and additions, and refuses a low-level handler with file:line', async () => {
    await sandbox.write('registered.ts', registerModule({ greeting: 'Hello' }));
    session = await connect(sandbox);
    const pid = await serverPid(session);
    expect(await toolNames(session)).toEqual(['add', 'echo', 'greet', 'server_info', 'word_count']);
    expect(await callText(session.client, 'greet', { name: 'Ada' })).toBe('Hello, Ada');
    expect(await callText(session.client, 'add', { a: 2, b: 3 })).toBe('5');

    // An edit of one registration: the next call runs the new code.
    await sandbox.write('registered.ts', registerModule({ greeting: 'Hi' }));
    await waitUntil(async () => (await callText(session.client, 'greet', { name: 'Ada' })) === 'Hi, Ada', {
      timeoutMs: 10_000,
      what: 'new greeting',
    });

    // A third registration: one list_changed, and it is listed.
    const before = session.listChanged();
    await sandbox.write('registered.ts', registerModule({ greeting: 'Hi', third: true }));
    await session.waitForListChanged(before + 1);
    expect(await toolNames(session)).toContain('third');
    expect(await callText(session.client, 'third')).toBe('third');

    // A low-level request handler: refused with file and line, the last good version kept.
    const mark = await auditMark(sandbox);
    const broken = registerModule({ greeting: 'Broken', third: true, lowLevel: true });
    await sandbox.write('registered.ts', broken);
    const failure = await waitForAuditAfter(
      sandbox,
      mark,
      (event) => event.event === 'module.failed' && event.code === 'HOTMCP_ERR_CAPTURE_UNSUPPORTED',
    );
    const line = broken.split('\n').findIndex((text) => text.includes('setRequestHandler')) + 1;
    expect(failure).toMatchObject({ code: 'HOTMCP_ERR_CAPTURE_UNSUPPORTED', line });
    expect(String(failure.file)).toMatch(/registered\.ts$/);
    expect(String(failure.message)).toContain('server.server.setRequestHandler()');
    expect(await callText(session.client, 'greet', { name: 'Ada' })).toBe('Hi, Ada');
    expect(await callText(session.client, 'third')).toBe('third');
    expect(await serverPid(session)).toBe(pid);
  });
});

describe('the dispatcher (HOTMCP_DISPATCHER=1) in the SDK v1 example', () => {
  it('calls a tool added after the client listed through hotmcp_call, without listing again', async () => {
    session = await connect(sandbox, { HOTMCP_DISPATCHER: '1' });
    expect(await toolNames(session)).toEqual(['echo', 'hotmcp_call', 'hotmcp_status', 'server_info', 'word_count']);
    await sandbox.write(
      'late.ts',
      `import { z } from 'zod';
export function register(server) {
  server.registerTool('late', { inputSchema: { n: z.number() } }, async ({ n }) => ({ content: [{ type: 'text', text: 'late ' + n }] }));
}
`,
    );
    let answer = '';
    await waitUntil(
      async () => {
        answer = await callText(session.client, 'hotmcp_call', { name: 'late', arguments: { n: 7 } });
        return answer === 'late 7';
      },
      { timeoutMs: 10_000, what: 'hotmcp_call to reach the new tool' },
    );
    const invalid = await session.client.callTool({
      name: 'hotmcp_call',
      arguments: { name: 'late', arguments: { n: 'x' } },
    });
    expect(invalid.isError).toBe(true);
    const unknown = await session.client.callTool({ name: 'hotmcp_call', arguments: { name: 'nope' } });
    expect(unknown.isError).toBe(true);
    expect(JSON.stringify(unknown.content)).toContain('late');
    const status = JSON.parse(await callText(session.client, 'hotmcp_status'));
    expect(status.tools).toContainEqual(
      expect.objectContaining({
        name: 'late',
        inputSchema: expect.objectContaining({ properties: { n: { type: 'number' } } }),
      }),
    );
  });
});
