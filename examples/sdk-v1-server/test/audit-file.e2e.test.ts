// The audit log is never written through a planted link (issue 16, case 11).
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitUntil } from '@hotmcp/core/testing';
import { afterEach, expect, it } from 'vitest';
import { callText, connect, createSandbox, type Sandbox, type Session } from '../src/harness.js';

let sandbox: Sandbox | undefined;
let session: Session | undefined;
afterEach(async () => {
  await session?.close();
  await sandbox?.cleanup();
});

it('refuses an audit.log planted as a symlink in a folder anyone may write to, says so, and keeps serving', async () => {
  sandbox = await createSandbox();
  const victim = join(sandbox.dir, 'victim.txt');
  await writeFile(victim, '');
  const shared = join(sandbox.dir, 'shared');
  await mkdir(shared);
  await chmod(shared, 0o777);
  await symlink(victim, join(shared, 'audit.log'));
  session = await connect(sandbox, { HOTMCP_AUDIT_LOG: join(shared, 'audit.log') });
  const active = session;
  await waitUntil(async () => active.stderr().includes('hotmcp: audit sink failed'), {
    timeoutMs: 10_000,
    what: 'the refusal on stderr',
  });
  expect(active.stderr()).toMatch(/writable by group or others|is a symlink; refused/);
  expect(await callText(active.client, 'echo', { text: 'still' })).toBe('« still »');
  expect(await readFile(victim, 'utf8')).toBe('');
});
