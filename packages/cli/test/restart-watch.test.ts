import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { watchRestartFiles } from '../src/supervisor/restart-watch.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hotmcp-restart-watch-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The files reported changed within a few turns of the event loop after the watch began. */
async function reported(changedSince: number | undefined): Promise<string[]> {
  const changed: string[] = [];
  const stop = watchRestartFiles(
    dir,
    ['.env', '.env.*'],
    (file) => changed.push(file),
    () => {},
    0,
    changedSince,
  );
  await new Promise((resolve) => setImmediate(resolve));
  stop();
  return changed;
}

describe('watchRestartFiles', () => {
  it('counts a matching file modified after changedSince (the first process started before the watch) as changed', async () => {
    writeFileSync(join(dir, '.env'), 'A=1\n');
    writeFileSync(join(dir, '.env.local'), 'B=1\n');
    writeFileSync(join(dir, 'notes.txt'), 'x\n');
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(dir, '.env'), old, old);
    const since = Date.now() - 30_000;
    expect(await reported(since)).toEqual([join(dir, '.env.local')]);
  });

  it('counts nothing as changed without changedSince, nor a file modified before it or ahead of the clock', async () => {
    writeFileSync(join(dir, '.env'), 'A=1\n');
    writeFileSync(join(dir, '.env.local'), 'B=1\n');
    expect(await reported(undefined)).toEqual([]);
    const ahead = new Date(Date.now() + 3_600_000);
    utimesSync(join(dir, '.env.local'), ahead, ahead);
    expect(await reported(Date.now() + 1000)).toEqual([]);
    expect(await reported(Date.now() - 30_000)).toEqual([join(dir, '.env')]);
  });
});
