import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { waitUntil } from '@hotmcp/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { callText, connect, createSandbox, type Sandbox, type Session } from '../src/harness.js';
import { type AuditEvent, auditEvents, greetTool, loadFailed } from './support.js';

let sandbox: Sandbox | undefined;
let session: Session | undefined;

afterEach(async () => {
  await session?.close();
  await sandbox?.cleanup();
  session = undefined;
  sandbox = undefined;
});

async function start(env: Record<string, string> = {}): Promise<{ sandbox: Sandbox; session: Session }> {
  sandbox = await createSandbox();
  session = await connect(sandbox, env);
  return { sandbox, session };
}

const timedOut = (event: AuditEvent) => event.event === 'module.failed' && event.code === 'HOTMCP_ERR_IMPORT_TIMEOUT';

/**
 * Call the static tool and the old version of `echo` until the timeout is
 * audited: every call must answer while the bad module is being evaluated.
 */
async function keepCallingUntilAudited(sandbox: Sandbox, session: Session): Promise<AuditEvent> {
  let calls = 0;
  await waitUntil(
    async () => {
      expect(JSON.parse(await callText(session.client, 'server_info')).pid).toBeGreaterThan(0);
      expect(await callText(session.client, 'echo', { text: 'still' })).toBe('« still »');
      calls++;
      return (await auditEvents(sandbox)).some(timedOut);
    },
    { timeoutMs: 20_000, what: 'the import timeout to be audited' },
  );
  expect(calls).toBeGreaterThan(1);
  return (await auditEvents(sandbox)).find(timedOut) as AuditEvent;
}

async function recovers(sandbox: Sandbox, session: Session): Promise<void> {
  const seen = session.listChanged();
  await sandbox.write('echo.ts', greetTool('echo', 'Fixed'));
  await session.waitForListChanged(seen + 1);
  expect(await callText(session.client, 'echo', { name: 'Ada' })).toBe('Fixed Ada');
}

describe('a tool module whose top-level code never finishes', () => {
  it('does not freeze the server on an endless loop at import (default limit), and recovers on the fix', async () => {
    const { sandbox, session } = await start();
    const echo = join(sandbox.toolsDir, 'echo.ts');
    await sandbox.write('echo.ts', `${await sandbox.read('echo.ts')}\nwhile (true) {}\n`);
    const failure = await keepCallingUntilAudited(sandbox, session);
    expect(failure).toMatchObject({ module: echo, file: echo, timeoutMs: 2000 });
    expect(String(failure.message)).toContain('did not finish within 2000 ms');
    await recovers(sandbox, session);
  });

  it('does not hang reloads on a top-level await that never settles', async () => {
    const { sandbox, session } = await start({ HOTMCP_PREFLIGHT_TIMEOUT_MS: '500' });
    const echo = join(sandbox.toolsDir, 'echo.ts');
    await sandbox.write('echo.ts', `await new Promise(() => {});\n${await sandbox.read('echo.ts')}`);
    const failure = await keepCallingUntilAudited(sandbox, session);
    expect(failure).toMatchObject({ module: echo, file: echo, timeoutMs: 500 });
    // Later batches still apply: the reload queue is not stuck behind the module.
    await sandbox.write('greet.ts', greetTool('greet', 'Hello'));
    await session.waitForListChanged(1);
    expect(await callText(session.client, 'greet', { name: 'Ada' })).toBe('Hello Ada');
    await recovers(sandbox, session);
  });

  it('names the helper that hangs as the cause in both tools that import it, which keep their last good version', async () => {
    const { sandbox, session } = await start({ HOTMCP_PREFLIGHT_TIMEOUT_MS: '500' });
    const format = join(sandbox.toolsDir, 'lib', 'format.ts');
    await sandbox.write('lib/format.ts', `${await sandbox.read('lib/format.ts')}\nfor (;;) {}\n`);
    await keepCallingUntilAudited(sandbox, session);
    // Both importers are refused with the helper as the cause, and keep the helper they had.
    const refused = async () => (await auditEvents(sandbox)).filter(timedOut);
    await waitUntil(async () => (await refused()).length >= 3, {
      timeoutMs: 10_000,
      what: 'the helper and both importers to be refused',
    });
    const byModule = new Map((await refused()).map((event) => [event.module, event.file]));
    expect(byModule).toEqual(
      new Map([
        [join(sandbox.toolsDir, 'echo.ts'), format],
        [format, format],
        [join(sandbox.toolsDir, 'word-count.ts'), format],
      ]),
    );
    expect(await callText(session.client, 'word_count', { text: 'a b' })).toBe('« 2 words »');
  });
});

describe('the preflight option', () => {
  const countingTool = (log: string) => `import { appendFileSync } from 'node:fs';
appendFileSync(${JSON.stringify(log)}, 'import\\n');
${greetTool('counted', 'Counted')}`;

  it('runs import-time code once in the worker and once for real when on (the default)', async () => {
    const { sandbox, session } = await start();
    const log = join(sandbox.dir, 'imports.log');
    await sandbox.write('counted.ts', countingTool(log));
    await session.waitForListChanged(1);
    expect(await callText(session.client, 'counted', { name: 'x' })).toBe('Counted x');
    expect((await readFile(log, 'utf8')).split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('runs import-time code once when turned off (startHotReload({ preflight: false }))', async () => {
    const { sandbox, session } = await start({ HOTMCP_PREFLIGHT_TIMEOUT_MS: '0' });
    const log = join(sandbox.dir, 'imports.log');
    await sandbox.write('counted.ts', countingTool(log));
    await session.waitForListChanged(1);
    expect(await callText(session.client, 'counted', { name: 'x' })).toBe('Counted x');
    expect((await readFile(log, 'utf8')).split('\n').filter(Boolean)).toHaveLength(1);
  });
});

it('releases a port a module listens on at import before the server evaluates it', async () => {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const { sandbox, session } = await start();
  await sandbox.write(
    'listener.ts',
    `import { createServer } from 'node:net';
const server = createServer((socket) => socket.end('listening'));
await new Promise<void>((resolve, reject) => server.once('error', reject).listen(${port}, '127.0.0.1', () => resolve()));
export const dispose = () => new Promise((resolve) => server.close(resolve));
${greetTool('listener', 'Listening')}`,
  );
  await session.waitForListChanged(1);
  expect(await callText(session.client, 'listener', { name: 'on' })).toBe('Listening on');
  expect((await auditEvents(sandbox)).filter(loadFailed)).toEqual([]);
});
