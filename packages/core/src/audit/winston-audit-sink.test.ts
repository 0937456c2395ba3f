import { chmodSync, existsSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HotMcpError } from '../errors.js';
import { waitUntil } from '../testing/wait-until.js';
import { createWinstonAuditSink, defaultAuditPath, WinstonAuditSink } from './winston-audit-sink.js';

let dir: string;
let sinks: WinstonAuditSink[];

beforeEach(async () => {
  dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'hotmcp-audit-')));
  sinks = [];
});

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(sinks.map((sink) => sink.close()));
  await rm(dir, { recursive: true, force: true });
});

function sink(options: ConstructorParameters<typeof WinstonAuditSink>[0] = {}): WinstonAuditSink {
  const created = createWinstonAuditSink({ path: path.join(dir, 'logs', 'audit.log'), ...options });
  sinks.push(created);
  return created;
}

function lines(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Silence stderr and stdout and record what is written to them. */
function captureOutput() {
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  return { stderr, stdout };
}

describe('WinstonAuditSink', () => {
  it('writes one JSON line per record with event, timestamp and pid first, then the fields', async () => {
    const audit = sink();
    audit.record('batch.applied', { files: ['/a.ts'], durationMs: 3 });
    audit.record('reloader.stopped');
    await audit.close();

    const [first, second] = lines(audit.path);
    expect(Object.keys(first!)).toEqual(['event', 'timestamp', 'pid', 'files', 'durationMs']);
    expect(first).toEqual({
      event: 'batch.applied',
      timestamp: expect.any(String),
      pid: process.pid,
      files: ['/a.ts'],
      durationMs: 3,
    });
    expect(new Date(first!.timestamp as string).toISOString()).toBe(first!.timestamp);
    expect(second).toMatchObject({ event: 'reloader.stopped', pid: process.pid });
  });

  it('never lets fields overwrite event, timestamp or pid', async () => {
    const audit = sink();
    audit.record('real', { event: 'fake', pid: -1, timestamp: 'then', kept: true });
    await audit.close();

    const [line] = lines(audit.path);
    expect(line).toMatchObject({ event: 'real', pid: process.pid, kept: true });
    expect(line!.timestamp).not.toBe('then');
  });

  it('writes errors with toJSON through it and other errors as name, message, stack and cause', async () => {
    const audit = sink();
    const hot = new HotMcpError('HOTMCP_ERR_SYNTAX', 'bad token', { file: '/t.ts', line: 2 });
    const plain = Object.assign(new TypeError('boom', { cause: new Error('root cause') }), { code: 'E_BOOM' });
    audit.record('module.failed', { error: hot, other: plain, big: 10n });
    await audit.close();

    const [line] = lines(audit.path);
    expect(line!.error).toEqual({ code: 'HOTMCP_ERR_SYNTAX', message: 'bad token', file: '/t.ts', line: 2 });
    expect(line!.other).toMatchObject({
      name: 'TypeError',
      message: 'boom',
      code: 'E_BOOM',
      stack: expect.stringContaining('boom'),
      cause: { name: 'Error', message: 'root cause' },
    });
    expect(line!.big).toBe('10');
  });

  it('writes circular fields as "[Circular]" instead of dropping the record', async () => {
    const audit = sink();
    const loop: Record<string, unknown> = { name: 'loop' };
    loop.self = loop;
    const error = new Error('self-caused');
    error.cause = error;
    audit.record('circular', { loop, error });
    await audit.close();

    const [line] = lines(audit.path);
    expect(line!.loop).toEqual({ name: 'loop', self: '[Circular]' });
    expect(line!.error).toMatchObject({ message: 'self-caused', cause: '[Circular]' });
  });

  it('rotates the file once it passes maxSize', async () => {
    const audit = sink({ maxSize: 1000, maxFiles: 50 });
    const logs = path.dirname(audit.path);
    for (let index = 0; index < 100; index++) audit.record('tick', { index, padding: 'x'.repeat(80) });

    await waitUntil(() => ['audit.log', 'audit1.log', 'audit2.log'].every((name) => existsSync(path.join(logs, name))));
    await audit.close();

    const files = readdirSync(logs);
    expect(files.length).toBeGreaterThan(3);
    // Oldest first: audit<n>.log … audit1.log, then audit.log. Nothing lost, nothing reordered.
    const ordered = files
      .map((name) => ({ name, rank: name === 'audit.log' ? 0 : Number(name.slice('audit'.length, -'.log'.length)) }))
      .sort((a, b) => b.rank - a.rank);
    const indexes = ordered.flatMap(({ name }) => lines(path.join(logs, name)).map((line) => line.index));
    expect(indexes).toEqual([...Array(100).keys()]);
    for (const { name } of ordered) {
      // A file ends with the line that took it past maxSize.
      expect(statSync(path.join(logs, name)).size).toBeLessThan(1000 + 200);
    }
  });

  it('keeps at most maxFiles files', async () => {
    const audit = sink({ maxSize: 500, maxFiles: 3 });
    for (let index = 0; index < 100; index++) audit.record('tick', { index, padding: 'x'.repeat(80) });
    await audit.close();

    expect(readdirSync(path.dirname(audit.path)).sort()).toEqual(['audit.log', 'audit1.log', 'audit2.log']);
    expect(lines(audit.path).at(-1)).toMatchObject({ index: 99 });
  });

  it('creates its folder with mode 0700 and its files with mode 0600', async () => {
    const audit = sink({ maxSize: 500 });
    for (let index = 0; index < 20; index++) audit.record('tick', { index, padding: 'x'.repeat(80) });
    await audit.close();

    const logs = path.dirname(audit.path);
    expect(statSync(logs).mode & 0o777).toBe(0o700);
    const files = readdirSync(logs);
    expect(files.length).toBeGreaterThan(1);
    for (const name of files) expect(statSync(path.join(logs, name)).mode & 0o777).toBe(0o600);
  });

  it('touches nothing on disk until the first record', async () => {
    const audit = sink();
    await audit.close();
    expect(existsSync(path.dirname(audit.path))).toBe(false);
  });

  it('never throws for an unwritable path and reports it once on stderr, never on stdout', async () => {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, '');
    const { stderr, stdout } = captureOutput();
    const audit = sink({ path: path.join(file, 'logs', 'audit.log') });

    expect(() => {
      audit.record('first', { n: 1 });
      audit.record('second', { n: 2 });
    }).not.toThrow();
    await audit.close();
    audit.record('after close');

    expect(stderr).toHaveBeenCalledTimes(1);
    const message = String(stderr.mock.calls[0]![0]);
    expect(message).toMatch(/^hotmcp: audit sink failed: .*\n$/);
    expect(message.trimEnd()).not.toContain('\n');
    expect(stdout).not.toHaveBeenCalled();
  });

  it('reports a file it cannot open once and drops later records', async () => {
    const { stderr } = captureOutput();
    // The path is a folder: the folder exists but the file cannot be opened for appending.
    const folder = path.join(dir, 'a-folder');
    await mkdir(folder);
    const audit = sink({ path: folder });
    for (let index = 0; index < 5; index++) audit.record('tick', { index });
    await audit.close();

    expect(stderr).toHaveBeenCalledTimes(1);
    expect(String(stderr.mock.calls[0]![0])).toMatch(/^hotmcp: audit sink failed: .*EISDIR/);
  });

  it('refuses a log file that is a symlink, and never writes to its target', async () => {
    const { stderr } = captureOutput();
    const target = path.join(dir, 'victim.txt');
    writeFileSync(target, '');
    const folder = path.join(dir, 'logs');
    await mkdir(folder, { mode: 0o700 });
    symlinkSync(target, path.join(folder, 'audit.log'));
    const audit = sink({ path: path.join(folder, 'audit.log') });
    audit.record('tick');
    await audit.close();
    expect(readFileSync(target, 'utf8')).toBe('');
    expect(String(stderr.mock.calls[0]?.[0])).toMatch(/^hotmcp: audit sink failed: .*is a symlink; refused/);
  });

  it('refuses a folder others may write to', async () => {
    const { stderr } = captureOutput();
    const folder = path.join(dir, 'shared');
    await mkdir(folder);
    chmodSync(folder, 0o777);
    const audit = sink({ path: path.join(folder, 'audit.log') });
    audit.record('tick');
    await audit.close();
    expect(existsSync(path.join(folder, 'audit.log'))).toBe(false);
    expect(String(stderr.mock.calls[0]?.[0])).toMatch(/writable by group or others \(mode 777\)/);
  });

  it('goes by default to the user’s own state folder', () => {
    const before = process.env.XDG_STATE_HOME;
    try {
      process.env.XDG_STATE_HOME = '/state';
      expect(defaultAuditPath()).toBe('/state/hotmcp/audit.log');
      delete process.env.XDG_STATE_HOME;
      expect(defaultAuditPath()).toBe(path.join(os.homedir(), '.local', 'state', 'hotmcp', 'audit.log'));
    } finally {
      if (before === undefined) delete process.env.XDG_STATE_HOME;
      else process.env.XDG_STATE_HOME = before;
    }
  });

  it('reports once when its folder is removed while it runs', async () => {
    const { stderr } = captureOutput();
    const audit = sink({ maxSize: 500 });
    audit.record('first');
    await waitUntil(() => existsSync(audit.path) && statSync(audit.path).size > 0);
    await rm(path.dirname(audit.path), { recursive: true });
    // Enough to rotate, which reopens the file in the missing folder.
    for (let index = 0; index < 20; index++) audit.record('tick', { index, padding: 'x'.repeat(80) });

    await waitUntil(() => stderr.mock.calls.length > 0);
    audit.record('dropped');
    await audit.close();
    expect(stderr).toHaveBeenCalledTimes(1);
    expect(String(stderr.mock.calls[0]![0])).toMatch(/^hotmcp: audit sink failed: .*ENOENT/);
  });

  it('writes what was recorded while held once the hold is released, and everything at close while still held', async () => {
    let release = () => {};
    const released = sink();
    released.hold(
      new Promise<void>((resolve) => {
        release = resolve;
      }),
    );
    released.record('during start-up');
    const held = sink({ path: path.join(dir, 'held', 'audit.log') });
    held.hold(new Promise(() => {}));
    held.record('never released');

    release();
    await waitUntil(
      () => existsSync(released.path) && readFileSync(released.path, 'utf8').includes('during start-up'),
      {
        what: 'the released record to be written',
      },
    );
    await held.close();
    expect(lines(held.path).map((line) => line.event)).toEqual(['never released']);
  });

  it('close resolves, and again when called twice, and records after it are dropped', async () => {
    const audit = sink();
    audit.record('before');
    await Promise.all([audit.close(), audit.close()]);
    audit.record('after');
    await expect(audit.close()).resolves.toBeUndefined();

    expect(lines(audit.path).map((line) => line.event)).toEqual(['before']);
  });

  it('rejects maxFiles below 2 and a maxSize that is not a positive integer', () => {
    expect(() => new WinstonAuditSink({ maxFiles: 1 })).toThrow(/maxFiles/);
    expect(() => new WinstonAuditSink({ maxSize: 0 })).toThrow(/maxSize/);
  });
});
