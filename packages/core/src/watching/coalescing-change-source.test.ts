import { execFile } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  openSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChangeBatch, ChangeSource } from '../ports/change-source.js';
import { FakeChangeSource } from '../testing/fake-change-source.js';
import { waitUntil } from '../testing/wait-until.js';
import {
  type CoalesceTimings,
  CoalescingChangeSource,
  createCoalescingChangeSource,
} from './coalescing-change-source.js';

const WAIT_MS = 5000;

let dir: string;
let root: string;
let sources: CoalescingChangeSource[];

beforeEach(async () => {
  dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'hotmcp-coalesce-')));
  root = path.join(dir, 'root');
  mkdirSync(root);
  sources = [];
});

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(sources.map((source) => source.stop()));
  await rm(dir, { recursive: true, force: true });
});

function write(relative: string, content = `${relative} ${Math.random()}`): string {
  const file = path.join(root, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  return file;
}

/** A coalescer over a hand-driven source, collecting batches with their arrival time. */
async function coalesce(timings: CoalesceTimings = {}, baseline: string[] = []) {
  const inner = new FakeChangeSource(baseline);
  const source = createCoalescingChangeSource(inner, { root, ...timings });
  sources.push(source);
  const batches: Array<ChangeBatch & { at: number }> = [];
  const errors: Error[] = [];
  const files = await source.start(
    (batch) => {
      batches.push({ ...batch, at: performance.now() });
    },
    (error) => {
      errors.push(error);
    },
  );
  const until = (condition: () => boolean, what: string) =>
    waitUntil(condition, { timeoutMs: WAIT_MS, what: () => `${what}; got ${JSON.stringify(batches)}` });
  /** Emit a sentinel file and wait for it: everything emitted before has been delivered or dropped. */
  async function settled(): Promise<void> {
    const sentinel = write(`zz-${Math.random()}.ts`);
    inner.emit({ added: [sentinel] });
    await until(() => batches.some((b) => b.added.includes(sentinel)), 'the sentinel');
    const index = batches.findIndex((b) => b.added.includes(sentinel));
    const batch = batches[index]!;
    batch.added = batch.added.filter((file) => file !== sentinel);
    if (batch.added.length + batch.changed.length + batch.removed.length === 0) batches.splice(index, 1);
  }
  const plain = () => batches.map(({ added, changed, removed }) => ({ added, changed, removed }));
  return { inner, source, files, batches, errors, until, settled, plain };
}

describe('CoalescingChangeSource', () => {
  /** Fake the coalescer's clock and timers; `advance` runs what falls due, flushes included. */
  function fakeClock() {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    return { advance: (ms: number) => vi.advanceTimersByTimeAsync(ms) };
  }

  it('delivers a lone change after a quiet period after leadMs, not after settleMs', async () => {
    const file = write('a.ts');
    const { inner, batches } = await coalesce({ leadMs: 5, settleMs: 2000 });
    const clock = fakeClock();
    inner.emit({ added: [file] });
    await clock.advance(4);
    expect(batches).toEqual([]);
    await clock.advance(1);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toMatchObject({ added: [file], changed: [], removed: [] });
  });

  it('delivers a small change arriving right after the previous delivery after leadMs, not after settleMs', async () => {
    const file = write('a.ts', 'one');
    const { inner, batches } = await coalesce({ leadMs: 5, settleMs: 2000 }, [file]);
    const clock = fakeClock();
    writeFileSync(file, 'two');
    inner.emit({ changed: [file] });
    await clock.advance(5);
    expect(batches).toHaveLength(1);
    // The next edit as soon as the first was seen: well inside settleMs, still delivered after leadMs.
    await clock.advance(10);
    writeFileSync(file, 'three');
    inner.emit({ changed: [file] });
    await clock.advance(4);
    expect(batches).toHaveLength(1);
    await clock.advance(1);
    expect(batches.map((b) => b.changed)).toEqual([[file], [file]]);
  });

  it('holds many files that follow a delivery within settleMs until settleMs of silence', async () => {
    const lead = write('lead.ts');
    const rest = Array.from({ length: 12 }, (_, i) => write(`rest-${String(i).padStart(2, '0')}.ts`));
    const { inner, batches, plain } = await coalesce({ leadMs: 5, settleMs: 100 });
    const clock = fakeClock();
    inner.emit({ added: [lead] });
    await clock.advance(10);
    expect(batches).toHaveLength(1);
    inner.emit({ added: rest.slice(0, 6) });
    await clock.advance(50);
    inner.emit({ added: rest.slice(6) });
    await clock.advance(99);
    expect(batches).toHaveLength(1);
    await clock.advance(1);
    expect(plain()).toEqual([
      { added: [lead], changed: [], removed: [] },
      { added: rest, changed: [], removed: [] },
    ]);
  });

  it('holds a change that follows a lead of many files within settleMs (the first paths of a checkout) for the rest', async () => {
    const first = Array.from({ length: 7 }, (_, i) => write(`first-${i}.ts`));
    const [next, rest] = [write('next.ts'), write('rest.ts')];
    const { inner, batches, plain } = await coalesce({ leadMs: 5, settleMs: 100 });
    const clock = fakeClock();
    inner.emit({ added: first });
    await clock.advance(10);
    expect(batches).toHaveLength(1);
    inner.emit({ added: [next] });
    await clock.advance(50);
    expect(batches).toHaveLength(1);
    inner.emit({ added: [rest] });
    await clock.advance(100);
    expect(plain()).toEqual([
      { added: first, changed: [], removed: [] },
      { added: [next, rest], changed: [], removed: [] },
    ]);
  });

  it('holds a batch its source marks as part of a burst until settleMs of silence', async () => {
    const [a, b] = [write('a.ts'), write('b.ts')];
    const { inner, batches, plain } = await coalesce({ leadMs: 5, settleMs: 100 });
    const clock = fakeClock();
    inner.emit({ added: [a], burst: true });
    await clock.advance(60);
    expect(batches).toHaveLength(0);
    inner.emit({ added: [b] });
    await clock.advance(99);
    expect(batches).toHaveLength(0);
    await clock.advance(1);
    expect(plain()).toEqual([{ added: [a, b], changed: [], removed: [] }]);
  });

  it('holds edits one after another once they touched more than ten files since the last quiet period', async () => {
    const files = Array.from({ length: 12 }, (_, i) => write(`f${String(i).padStart(2, '0')}.ts`));
    const { inner, batches } = await coalesce({ leadMs: 5, settleMs: 100 });
    const clock = fakeClock();
    // Ten different files, each as soon as the previous one was delivered: ten batches.
    for (const file of files.slice(0, 10)) {
      inner.emit({ added: [file] });
      await clock.advance(20);
    }
    expect(batches.map((b) => b.added)).toEqual(files.slice(0, 10).map((file) => [file]));
    // The eleventh makes it a burst: delivered after settleMs of silence.
    inner.emit({ added: [files[10]!] });
    await clock.advance(99);
    expect(batches).toHaveLength(10);
    await clock.advance(1);
    expect(batches.at(-1)!.added).toEqual([files[10]]);
    // After a quiet period, a lone change leads again.
    await clock.advance(100);
    inner.emit({ added: [files[11]!] });
    await clock.advance(5);
    expect(batches.at(-1)!.added).toEqual([files[11]]);
  });

  it('folds the changes that follow a delivery within settleMs into one more batch', async () => {
    const [a, b, c] = [write('a.ts'), write('b.ts'), write('c.ts')];
    const { inner, batches, until, plain } = await coalesce({ settleMs: 300 });
    inner.emit({ added: [a] });
    await until(() => batches.length === 1, 'the lead batch');
    inner.emit({ added: [b] });
    inner.emit({ added: [c] });
    await until(() => batches.length === 2, 'the burst');
    expect(plain()).toEqual([
      { added: [a], changed: [], removed: [] },
      { added: [b, c], changed: [], removed: [] },
    ]);
  });

  it('passes on the compilations its source gave, the newest of each file delivered, none of a file changed since', async () => {
    const [a, b, c] = [write('a.ts'), write('b.ts'), write('c.ts')];
    const { inner, batches, until } = await coalesce({ settleMs: 300 });
    const compilation = (code: string) => ({ compiler: 'c', key: 'k', code, imports: [] });
    inner.emit({ added: [a], compiled: { [a]: compilation('a1') } });
    await until(() => batches.length === 1, 'the lead batch');
    inner.emit({ changed: [b], compiled: { [b]: compilation('b1') } });
    inner.emit({ changed: [b], compiled: { [b]: compilation('b2') } });
    inner.emit({ changed: [c], compiled: { [c]: compilation('c1') } });
    inner.emit({ changed: [c] });
    await until(() => batches.length === 2, 'the burst');
    expect(batches.map((batch) => batch.compiled)).toEqual([{ [a]: compilation('a1') }, { [b]: compilation('b2') }]);
  });

  it('treats a first delivery of many paths as a burst: one batch', async () => {
    const files = Array.from({ length: 20 }, (_, i) => write(`f${String(i).padStart(2, '0')}.ts`));
    const { inner, batches, until, settled } = await coalesce({ settleMs: 150 });
    inner.emit({ added: files.slice(0, 15) });
    inner.emit({ added: files.slice(15) });
    await until(() => batches.length > 0, 'the burst');
    await settled();
    expect(batches).toHaveLength(1);
    expect(batches[0]!.added).toEqual(files);
  });

  it('delivers a burst within maxWaitMs while changes keep coming', async () => {
    const files = Array.from({ length: 20 }, (_, i) => write(`f${String(i).padStart(2, '0')}.ts`, 'v0'));
    const { inner, batches } = await coalesce({ settleMs: 200, maxWaitMs: 300 }, files);
    const clock = fakeClock();
    for (const file of files) writeFileSync(file, 'v1');
    inner.emit({ changed: files });
    // A writer that never pauses for settleMs: one more change every 20 ms.
    for (let n = 1; n < 15; n++) {
      await clock.advance(20);
      writeFileSync(files[n]!, `v1.${n}`);
      inner.emit({ changed: [files[n]!] });
    }
    await clock.advance(19);
    expect(batches).toEqual([]);
    await clock.advance(1);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.changed).toEqual(files);
  });

  it('drops duplicate events for a file that did not change', async () => {
    const file = write('a.ts', 'one');
    const { inner, batches, until, settled } = await coalesce({}, [file]);
    writeFileSync(file, 'two');
    inner.emit({ changed: [file] });
    await until(() => batches.length === 1, 'the change');
    inner.emit({ changed: [file] });
    inner.emit({ added: [file] });
    await settled();
    expect(batches.map((b) => b.changed)).toEqual([[file]]);
  });

  it('drops a rewrite with the same bytes once sameContentGuardMs has passed', async () => {
    const file = write('a.ts', 'same');
    const { inner, batches, settled } = await coalesce({ sameContentGuardMs: 0 }, [file]);
    writeFileSync(file, 'same');
    utimesSync(file, new Date(Date.now() + 5000), new Date(Date.now() + 5000));
    inner.emit({ changed: [file] });
    await settled();
    expect(batches).toEqual([]);
  });

  it('delivers a rewrite with the same bytes again right after a delivery, in case it was read half-written', async () => {
    const file = write('a.ts', 'one');
    const { inner, batches, until } = await coalesce({ sameContentGuardMs: 60_000 }, [file]);
    writeFileSync(file, 'two');
    inner.emit({ changed: [file] });
    await until(() => batches.length === 1, 'the change');
    writeFileSync(file, '');
    writeFileSync(file, 'two');
    utimesSync(file, new Date(Date.now() + 5000), new Date(Date.now() + 5000));
    inner.emit({ changed: [file] });
    await until(() => batches.length === 2, 'the same bytes again');
    expect(batches[1]!.changed).toEqual([file]);
  });

  it('reports a file removed and re-created before delivery as changed, and a fleeting one not at all', async () => {
    const file = write('a.ts', 'before');
    const { inner, batches, until, settled, plain } = await coalesce({}, [file]);
    unlinkSync(file);
    inner.emit({ removed: [file] });
    writeFileSync(file, 'after');
    inner.emit({ added: [file] });
    const fleeting = write('fleeting.ts');
    inner.emit({ added: [fleeting] });
    unlinkSync(fleeting);
    inner.emit({ removed: [fleeting] });
    await until(() => batches.length > 0, 'the batch');
    await settled();
    expect(plain()).toEqual([{ added: [], changed: [file], removed: [] }]);
  });

  it('reports a known file that is gone as removed', async () => {
    const file = write('a.ts');
    const { inner, batches, until } = await coalesce({}, [file]);
    rmSync(file);
    inner.emit({ changed: [file] });
    await until(() => batches.length > 0, 'the batch');
    expect(batches[0]).toMatchObject({ added: [], changed: [], removed: [file] });
  });

  it('never delivers a path that resolves outside the root', async () => {
    const outside = path.join(dir, 'secret.ts');
    writeFileSync(outside, 'secret');
    const link = path.join(root, 'link.ts');
    symlinkSync(outside, link);
    const inside = path.join(root, 'inside-link.ts');
    symlinkSync(write('target.ts'), inside);
    const { inner, batches, until, settled } = await coalesce();
    inner.emit({ added: [link, inside] });
    await until(() => batches.length > 0, 'the batch');
    await settled();
    expect(batches.flatMap((b) => b.added)).toEqual([inside]);
  });

  it('delivers the last bytes of a file that was still being written', async () => {
    const file = write('slow.ts', 'part one');
    const { inner, batches, until } = await coalesce();
    inner.emit({ added: [file] });
    await until(() => batches.length === 1, 'the half-written file');
    writeFileSync(file, 'part one, part two');
    inner.emit({ changed: [file] });
    await until(() => batches.length === 2, 'the final bytes');
    expect(batches[1]).toMatchObject({ changed: [file] });
  });

  it('looks again at a file caught empty while being written, and delivers it with its bytes', async () => {
    const empty = path.join(root, 'being-written.ts');
    const fd = openSync(empty, 'w');
    const other = write('other.ts');
    const { inner, batches, until } = await coalesce({ settleMs: 300 });
    // A writer the machine holds up between truncating and writing: the file is already a while old.
    await new Promise((resolve) => setTimeout(resolve, 120));
    inner.emit({ added: [empty, other] });
    await until(() => batches.length === 1, 'the first batch');
    expect(batches[0]).toMatchObject({ added: [other], changed: [], removed: [] });
    writeSync(fd, 'export const done = true;\n');
    closeSync(fd);
    await until(() => batches.some((b) => b.added.includes(empty) || b.changed.includes(empty)), 'the written file');
    expect(batches.flatMap((b) => [...b.added, ...b.changed]).filter((f) => f === empty)).toHaveLength(1);
  });

  it('delivers a file that stays empty once it has been seen empty for settleMs, and its emptying later', async () => {
    const empty = write('empty.ts', '');
    const { inner, batches, until } = await coalesce({ settleMs: 20 });
    inner.emit({ added: [empty] });
    await until(() => batches.length === 1, 'the empty file');
    expect(batches[0]).toMatchObject({ added: [empty], changed: [], removed: [] });

    writeFileSync(empty, 'export const x = 1;\n');
    inner.emit({ changed: [empty] });
    await until(() => batches.length === 2, 'the written file');
    writeFileSync(empty, '');
    inner.emit({ changed: [empty] });
    await until(() => batches.length === 3, 'the emptied file');
    expect(batches.slice(1).map(({ at: _, ...batch }) => batch)).toEqual([
      { added: [], changed: [empty], removed: [] },
      { added: [], changed: [empty], removed: [] },
    ]);
  });

  it('resolves with the baseline files it could read and emits nothing for them', async () => {
    const file = write('a.ts');
    const missing = path.join(root, 'missing.ts');
    const { files, batches, settled } = await coalesce({}, [file, missing]);
    expect(files).toEqual([file]);
    await settled();
    expect(batches).toEqual([]);
  });

  it('drops pending changes and stops the wrapped source on stop()', async () => {
    const file = write('a.ts');
    const { inner, source, batches } = await coalesce({ leadMs: 50 });
    inner.emit({ added: [file] });
    await source.stop();
    expect(inner.stopped).toBe(true);
    // Restarting proves the dropped change did not linger in a timer.
    await source.start(() => batches.push({ added: [], changed: [], removed: [], at: 0 }));
    expect(batches).toEqual([]);
  });

  it('passes the wrapped source errors through', async () => {
    let report: ((error: Error) => void) | undefined;
    const inner: ChangeSource = {
      async start(_onBatch, onError) {
        report = onError;
        return [];
      },
      async stop() {},
      rescan: () => ({ files: new Map(), unreadable: [] }),
      stamp: () => '',
    };
    const source = createCoalescingChangeSource(inner, { root });
    sources.push(source);
    const errors: Error[] = [];
    await source.start(
      () => {},
      (error) => errors.push(error),
    );
    report?.(new Error('boom'));
    expect(errors.map((error) => error.message)).toEqual(['boom']);
  });

  it('answers rescan() and stamp() from the wrapped source', async () => {
    const file = path.join(root, 'a.ts');
    const inner = new FakeChangeSource().write(file);
    inner.unreadable = [path.join(root, 'locked')];
    const source = createCoalescingChangeSource(inner, { root });
    sources.push(source);
    await source.start(() => {});
    expect(source.rescan()).toEqual({ files: new Map([[file, inner.stamp(file)]]), unreadable: inner.unreadable });
    expect(source.stamp(file)).toBe(inner.stamp(file));
    expect(source.stamp(path.join(root, 'b.ts'))).toBe('');
  });

  it('delivers a change when it is due, with nothing else to wake the process (checked in a child process)', async () => {
    // The child is kept alive by a listening socket that nobody connects to, which never wakes its event loop: a
    // delivery that waited for something else to wake the process would never come, and the child would be killed.
    // The change arrives from a timer, as a watcher's event would.
    const file = write('tools/a.ts');
    const core = new URL('../../dist/index.js', import.meta.url).href;
    const script = `
      const { createServer } = await import('node:net');
      const { createCoalescingChangeSource } = await import(${JSON.stringify(core)});
      let emit;
      const inner = {
        start: async (onBatch) => { emit = onBatch; return []; },
        stop: async () => {},
        stamp: () => '',
        rescan: () => ({ files: new Map(), unreadable: [] }),
      };
      const source = createCoalescingChangeSource(inner, { root: ${JSON.stringify(root)} });
      const alive = createServer().listen(0, '127.0.0.1');
      await source.start((batch) => {
        process.stdout.write(JSON.stringify(batch));
        alive.close();
      }, () => {});
      setTimeout(() => emit({ added: [${JSON.stringify(file)}], changed: [], removed: [] }), 20);
    `;
    const run = promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 8_000 });
    await expect(run).resolves.toMatchObject({ stdout: JSON.stringify({ added: [file], changed: [], removed: [] }) });
  }, 15_000);

  it('refuses bad timings with HOTMCP_ERR_BAD_OPTION', () => {
    expect(() => new CoalescingChangeSource(new FakeChangeSource(), { root, settleMs: -1 })).toThrow(
      expect.objectContaining({ code: 'HOTMCP_ERR_BAD_OPTION' }),
    );
    expect(() => new CoalescingChangeSource(new FakeChangeSource(), { root: 'relative' })).toThrow(/absolute/);
  });
});
