import { linkSync, mkdirSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ChangeBatch } from '@hotmcp/core';
import { isHotMcpError } from '@hotmcp/core';
import { waitUntil } from '@hotmcp/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPollChangeSource, PollChangeSource, type PollChangeSourceOptions } from './poll-change-source.js';

const WAIT_MS = 5000;

let dir: string;
let root: string;
let sources: PollChangeSource[];

beforeEach(async () => {
  dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'hotmcp-poll-')));
  root = path.join(dir, 'root');
  mkdirSync(root);
  sources = [];
});

afterEach(async () => {
  await Promise.all(sources.map((source) => source.stop()));
  await rm(dir, { recursive: true, force: true });
});

/** Write a file under root (or an absolute path), creating its folder. */
function write(file: string, content = 'x'): string {
  const absolute = path.resolve(root, file);
  mkdirSync(path.dirname(absolute), { recursive: true });
  writeFileSync(absolute, content);
  return absolute;
}

const at = (file: string): string => path.join(root, file);

const mentions = (batch: ChangeBatch, file: string): boolean =>
  batch.added.includes(file) || batch.changed.includes(file) || batch.removed.includes(file);

/** Start a source and collect what it emits; `until` waits, bounded, for a matching batch. */
async function watch(options: Partial<PollChangeSourceOptions> = {}) {
  const source = createPollChangeSource({ root, include: ['**/*.ts'], exclude: [], ...options });
  sources.push(source);
  const batches: ChangeBatch[] = [];
  const errors: Error[] = [];
  const files = await source.start(
    (batch) => {
      batches.push(batch);
    },
    (error) => {
      errors.push(error);
    },
  );

  /** Wait for a batch matching `predicate`; resolve with every batch up to it, which are consumed. */
  async function until(predicate: (batch: ChangeBatch) => boolean, timeoutMs = WAIT_MS): Promise<ChangeBatch[]> {
    await waitUntil(() => batches.some(predicate), {
      timeoutMs,
      what: () => `a matching batch; got ${JSON.stringify(batches)}`,
    });
    return batches.splice(0, batches.findIndex(predicate) + 1);
  }

  /** Wait for the first error reported through onError. */
  async function untilError(timeoutMs = WAIT_MS): Promise<Error> {
    await waitUntil(() => errors.length > 0, { timeoutMs, what: 'an error' });
    return errors[0]!;
  }

  return { source, files, batches, errors, until, untilError };
}

/**
 * Wait, bounded, until the filesystem clock has moved past `ctimeMs`, so an
 * edit made now gets a different ctime (some filesystems tick every few ms).
 */
async function untilClockPasses(ctimeMs: number): Promise<void> {
  const probe = path.join(dir, 'clock-probe');
  await waitUntil(
    () => {
      writeFileSync(probe, '');
      return statSync(probe).ctimeMs > ctimeMs;
    },
    { timeoutMs: WAIT_MS, what: 'the filesystem clock to move' },
  );
}

describe('PollChangeSource', () => {
  it('start resolves with the existing files, sorted, and emits nothing for them', async () => {
    write('tools/b.ts');
    write('tools/a.ts');
    write('index.ts');
    const { files, until } = await watch();
    expect(files).toEqual([at('index.ts'), at('tools/a.ts'), at('tools/b.ts')]);

    const sentinel = write('sentinel.ts');
    const batches = await until((batch) => mentions(batch, sentinel));
    expect(batches).toEqual([{ added: [sentinel], changed: [], removed: [] }]);
  });

  it('reports a created file as added', async () => {
    const { until } = await watch();
    const file = write('tools/new.ts');
    const [batch] = await until((b) => mentions(b, file));
    expect(batch).toEqual({ added: [file], changed: [], removed: [] });
  });

  it('reports an edited file as changed', async () => {
    const file = write('tools/a.ts', 'one');
    const { until } = await watch();
    write('tools/a.ts', 'one more');
    const [batch] = await until((b) => mentions(b, file));
    expect(batch).toEqual({ added: [], changed: [file], removed: [] });
  });

  it('reports a same-size edit whose mtime was restored as changed', async () => {
    const file = write('tools/a.ts', 'aaaa');
    // Whole seconds, so restoring them is exact (utimes with a Date drops sub-millisecond digits).
    const seconds = Math.floor(Date.now() / 1000) - 60;
    utimesSync(file, seconds, seconds);
    const before = statSync(file);
    // A long interval leaves time for the edit to complete between two scans.
    const { until } = await watch({ intervalMs: 300 });
    await untilClockPasses(before.ctimeMs);
    writeFileSync(file, 'bbbb');
    utimesSync(file, seconds, seconds);
    const after = statSync(file);
    expect([after.size, after.mtimeMs, after.ino]).toEqual([before.size, before.mtimeMs, before.ino]);

    const [batch] = await until((b) => mentions(b, file));
    expect(batch).toEqual({ added: [], changed: [file], removed: [] });
  });

  it('reports a deleted file as removed', async () => {
    const file = write('tools/a.ts');
    const { until } = await watch();
    rmSync(file);
    const [batch] = await until((b) => mentions(b, file));
    expect(batch).toEqual({ added: [], changed: [], removed: [file] });
  });

  it('reports an atomic save (temporary dot-file renamed over the file) as changed', async () => {
    const file = write('tools/a.ts', 'old');
    const { until } = await watch();
    const temporary = write('tools/.a.ts.tmp', 'new');
    renameSync(temporary, file);
    const batches = await until((b) => mentions(b, file));
    expect(batches).toEqual([{ added: [], changed: [file], removed: [] }]);
  });

  it('reports a file deleted and re-created with a new inode between scans as changed', async () => {
    const file = write('tools/a.ts', 'same');
    const oldIno = statSync(file).ino;
    // Keep the old inode alive so the new file cannot reuse its number.
    linkSync(file, path.join(dir, 'keep-inode'));
    const { until } = await watch({ intervalMs: 300 });
    rmSync(file);
    writeFileSync(file, 'same');
    expect(statSync(file).ino).not.toBe(oldIno);

    const batches = await until((b) => mentions(b, file));
    expect(batches).toEqual([{ added: [], changed: [file], removed: [] }]);
  });

  it('reports only files the include globs select and the exclude globs do not', async () => {
    write('tools/kept.ts');
    write('tools/private/secret.ts');
    write('other/elsewhere.ts');
    write('tools/script.js');
    const { files, until } = await watch({ include: ['tools/**/*.ts'], exclude: ['tools/private/**'] });
    expect(files).toEqual([at('tools/kept.ts')]);

    const ignored = [write('tools/private/new.ts'), write('other/new.ts'), write('tools/new.js')];
    const sentinel = write('tools/sentinel.ts');
    const batches = await until((b) => mentions(b, sentinel));
    for (const file of ignored) expect(batches.some((b) => mentions(b, file))).toBe(false);
    expect(batches.at(-1)).toEqual({ added: [sentinel], changed: [], removed: [] });
  });

  it('never reports files under node_modules, .git or dist', async () => {
    write('node_modules/pkg/index.ts');
    write('tools/.git/hooks.ts');
    write('dist/tools/a.ts');
    const { files, until } = await watch({ include: ['**/*'] });
    expect(files).toEqual([]);

    const ignored = [write('node_modules/pkg/other.ts'), write('.git/x.ts'), write('tools/dist/b.ts')];
    const sentinel = write('tools/sentinel.ts');
    const batches = await until((b) => mentions(b, sentinel));
    for (const file of ignored) expect(batches.some((b) => mentions(b, file))).toBe(false);
  });

  it('never reports a symlink to a file outside the root', async () => {
    const outside = write(path.join(dir, 'outside/secret.ts'));
    mkdirSync(at('tools'));
    symlinkSync(outside, at('tools/before.ts'));
    write('tools/a.ts');
    const { files, until } = await watch();
    expect(files).toEqual([at('tools/a.ts')]);

    const link = at('tools/after.ts');
    symlinkSync(outside, link);
    writeFileSync(outside, 'edited');
    const sentinel = write('tools/sentinel.ts');
    const batches = await until((b) => mentions(b, sentinel));
    expect(batches.some((b) => mentions(b, link) || mentions(b, at('tools/before.ts')))).toBe(false);
  });

  it('reports a symlink to a file inside the root', async () => {
    const target = write('lib/shared.ts');
    const { until } = await watch();
    const link = at('tools/shared.ts');
    mkdirSync(path.dirname(link), { recursive: true });
    symlinkSync(target, link);
    const [batch] = await until((b) => mentions(b, link));
    expect(batch).toEqual({ added: [link], changed: [], removed: [] });
  });

  it('skips broken symlinks and symlink loops without an error', async () => {
    mkdirSync(at('tools'));
    symlinkSync(at('tools/missing.ts'), at('tools/broken.ts'));
    symlinkSync(at('tools/loop.ts'), at('tools/loop.ts'));
    const { files, errors, until } = await watch();
    expect(files).toEqual([]);

    const sentinel = write('tools/sentinel.ts');
    const batches = await until((b) => mentions(b, sentinel));
    expect(batches).toEqual([{ added: [sentinel], changed: [], removed: [] }]);
    expect(errors).toEqual([]);
  });

  it('never reports files a glob reaches outside the root', async () => {
    write(path.join(dir, 'outside/escape.ts'));
    const { files } = await watch({ include: ['**/*.ts', '../outside/*.ts'] });
    expect(files).toEqual([]);
  });

  it('reports a root that disappears through onError and goes on polling', async () => {
    write('tools/a.ts');
    const { until, untilError } = await watch();
    renameSync(root, path.join(dir, 'moved-away'));
    const error = await untilError();
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_WATCHER_FAILED');

    const file = write('tools/b.ts');
    const [batch] = await until((b) => mentions(b, file));
    expect(batch).toEqual({ added: [file], changed: [], removed: [at('tools/a.ts')] });
  });

  it('rejects start when the root does not exist', async () => {
    const source = new PollChangeSource({ root: path.join(dir, 'missing'), include: ['**/*'], exclude: [] });
    await expect(source.start(() => {})).rejects.toMatchObject({ code: 'HOTMCP_ERR_WATCHER_FAILED' });
  });

  it('emits nothing after stop', async () => {
    const stopped = await watch();
    await stopped.source.stop();

    // A second source on the same root proves that several scans' worth of time went by.
    const witness = await watch();
    const first = write('tools/a.ts', 'one');
    await witness.until((b) => mentions(b, first));
    write('tools/a.ts', 'one two');
    await witness.until((b) => b.changed.includes(first));
    expect(stopped.batches).toEqual([]);
  });

  it('stop is idempotent', async () => {
    const { source } = await watch();
    await Promise.all([source.stop(), source.stop()]);
    await expect(source.stop()).resolves.toBeUndefined();
  });

  it('rejects an invalid interval', () => {
    expect(() => new PollChangeSource({ root, include: ['**/*'], exclude: [], intervalMs: -1 })).toThrow(/intervalMs/);
  });
});
