// Fault catalogue, part 4: the world around the tool modules — links that
// leave the root or go round in circles, files and folders the server may not
// read, an audit log it cannot write, a native watcher that gives up.
import { chmod, readFile, realpath, rename, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AS_ROOT,
  auditEvents,
  auditMark,
  expectEchoKept,
  greetTool,
  moduleFailureAfter,
  permissionsBite,
  serverPid,
  toolNames,
  untilAnswers,
  useServer,
  waitForAuditAfter,
} from './support.js';

describe('links and confinement', () => {
  const server = useServer();

  /** Write a new tool and wait until it answers: every change written before it has been seen by then. */
  async function fence(name: string): Promise<void> {
    await server.sandbox.write(`${name}.ts`, greetTool(name, 'Fence'));
    await untilAnswers(server.session, name, { name: 'x' }, 'Fence x');
  }

  it('never loads a tool file that is a symlink to a file outside the root, and audits it once', async () => {
    const outside = join(server.sandbox.dir, 'outside.ts');
    await writeFile(outside, greetTool('intruder', 'Outside'));
    const mark = await auditMark(server.sandbox);
    await symlink(outside, server.path('intruder.ts'));
    const refused = await waitForAuditAfter(
      server.sandbox,
      mark,
      (e) => e.event === 'watcher.error' && e.code === 'HOTMCP_ERR_OUTSIDE_ROOT',
    );
    expect(refused).toMatchObject({ path: server.path('intruder.ts'), target: await realpath(outside) });
    await writeFile(outside, greetTool('intruder', 'Outside again'));
    await fence('fence');
    expect(await toolNames(server.session)).not.toContain('intruder');
    const refusals = (await auditEvents(server.sandbox))
      .slice(mark)
      .filter((e) => e.event === 'watcher.error' && e.code === 'HOTMCP_ERR_OUTSIDE_ROOT');
    expect(refusals).toHaveLength(1);
    await expectEchoKept(server);
  });

  it('refuses an import that leaves the root, with file and line, and keeps the last good version', async () => {
    await writeFile(
      join(server.sandbox.dir, 'secret.ts'),
      "export const decorate = (text: string): string => 'leaked ' + text;\n",
    );
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write(
      'echo.ts',
      (await server.sandbox.read('echo.ts')).replace('./lib/format.js', '../secret.js'),
    );
    const failure = await moduleFailureAfter(server, 'echo.ts', mark);
    expect(failure).toMatchObject({
      code: 'HOTMCP_ERR_OUTSIDE_ROOT',
      module: server.path('echo.ts'),
      file: server.path('echo.ts'),
      line: 3,
      specifier: '../secret.js',
    });
    await expectEchoKept(server);
    await server.sandbox.write('echo.ts', greetTool('echo', 'Inside'));
    await untilAnswers(server.session, 'echo', { name: 'x' }, 'Inside x');
  });

  it('passes over a symlink loop and goes on serving', async () => {
    await symlink(server.path('loop-b.ts'), server.path('loop-a.ts'));
    await symlink(server.path('loop-a.ts'), server.path('loop-b.ts'));
    await fence('fence');
    expect(await toolNames(server.session)).toEqual(['echo', 'fence', 'server_info', 'word_count']);
    await expectEchoKept(server);
  });

  it('creates the audit log owner-only, in an owner-only folder', async () => {
    await waitForAuditAfter(server.sandbox, 0, (e) => e.event === 'reloader.started');
    expect((await stat(dirname(server.sandbox.auditLog))).mode & 0o777).toBe(0o700);
    expect((await stat(server.sandbox.auditLog)).mode & 0o777).toBe(0o600);
  });
});

describe('an audit log that cannot be written', () => {
  const server = useServer({
    // A file where the audit folder should be: no user, root included, can create the log.
    prepare: async (sandbox) => {
      await writeFile(dirname(sandbox.auditLog), 'not a folder\n');
      return undefined;
    },
  });

  it('is said once on stderr, and the server goes on serving and reloading', async () => {
    expect(server.session.stderr()).toContain(`hotmcp: audit sink failed:`);
    expect(server.session.stderr()).toContain(server.sandbox.auditLog);
    await server.sandbox.write('greet.ts', greetTool('greet', 'Hello'));
    await untilAnswers(server.session, 'greet', { name: 'x' }, 'Hello x');
    await expectEchoKept(server);
    expect(server.session.stderr().match(/hotmcp: audit sink failed:/g)).toHaveLength(1);
  });
});

describe('files the server may not read', () => {
  // As root, permissions do not bite: the server runs without root's file capabilities (as the caller otherwise).
  const server = useServer({ prepare: permissionsBite });

  it('keeps the last good version of a file it may not read, audits it, and loads it once readable', async () => {
    if (AS_ROOT) {
      // CAP_DAC_OVERRIDE (bit 1) and CAP_DAC_READ_SEARCH (bit 2) are gone from the server's effective set.
      const status = await readFile(`/proc/${server.pid}/status`, 'utf8');
      const effective = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? 'ffffffffffffffff'}`);
      expect(effective & 0b110n).toBe(0n);
    }
    const staged = join(server.sandbox.dir, 'echo.staged.ts');
    await writeFile(staged, greetTool('echo', 'Readable'), { mode: 0o000 });
    await chmod(staged, 0o000);
    const mark = await auditMark(server.sandbox);
    await rename(staged, server.path('echo.ts')); // an atomic save of a file nobody but its owner may read
    const error = await waitForAuditAfter(server.sandbox, mark, (e) => e.event === 'watcher.error');
    expect(error).toMatchObject({ code: 'HOTMCP_ERR_WATCHER_FAILED', path: server.path('echo.ts') });
    expect(error.message).toMatch(/EACCES|permission denied/i);
    await expectEchoKept(server);
    await chmod(server.path('echo.ts'), 0o644);
    await untilAnswers(server.session, 'echo', { name: 'x' }, 'Readable x');
    expect(await serverPid(server.session)).toBe(server.pid);
  });
});

describe('a native watcher that cannot run', () => {
  // Node's permission model refuses native addons unless --allow-addons is given: @parcel/watcher's
  // binary does not load, as on a platform it has no build for. Files, and esbuild's child process, are allowed;
  // worker threads are not, so the import preflight is unavailable too (regression: that failed every batch).
  const permission = process.allowedNodeEnvironmentFlags.has('--permission')
    ? '--permission'
    : '--experimental-permission';
  const server = useServer({
    prepare: async () => ({
      nodeArgs: [permission, '--allow-fs-read=*', '--allow-fs-write=*', '--allow-child-process'],
    }),
  });

  it('falls back to polling, says so once, and the server keeps reloading', async () => {
    const fallback = await waitForAuditAfter(server.sandbox, 0, (e) => e.event === 'watcher.fallback');
    expect(fallback).toMatchObject({ from: 'native', to: 'poll', phase: 'start' });
    expect(fallback.reason).toMatch(/cannot load @parcel\/watcher/);
    const started = await waitForAuditAfter(server.sandbox, 0, (e) => e.event === 'watcher.started');
    expect(started.watcher).toBe('poll');
    expect(server.session.stderr().match(/hotmcp: native file watching is unavailable/g)).toHaveLength(1);
    await expectEchoKept(server);
    await server.sandbox.write('echo.ts', greetTool('echo', 'Polled'));
    await untilAnswers(server.session, 'echo', { name: 'x' }, 'Polled x');
    await server.sandbox.write('greet.ts', greetTool('greet', 'Hello'));
    await untilAnswers(server.session, 'greet', { name: 'x' }, 'Hello x');
    expect(server.session.stderr().match(/hotmcp: import preflight unavailable/g)).toHaveLength(1);
    expect(await serverPid(server.session)).toBe(server.pid);
  });
});
