import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  type ChangeBatch,
  type ChangeSource,
  createFallbackChangeSource,
  createReloader,
  type FallbackEvent,
} from '@hotmcp/core';
import { FakeModuleLoader, FakeRegistryAdapter, MemoryAuditSink, waitUntil } from '@hotmcp/core/testing';
import { isFatalWatcherError } from '@hotmcp/core/watching';
import { createPollChangeSource } from '@hotmcp/watcher-poll';
import parcel from '@parcel/watcher';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createNativeChangeSource, type ParcelEvent, type ParcelWatcher } from './native-change-source.js';

const WAIT_MS = 5000;

let dir: string;
let root: string;
let cleanups: Array<() => Promise<void>>;

beforeEach(async () => {
  dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'hotmcp-native-')));
  root = path.join(dir, 'root');
  mkdirSync(root);
  cleanups = [];
});

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await rm(dir, { recursive: true, force: true });
});

function write(relative: string, content = `${relative} ${Math.random()}`): string {
  const file = path.join(root, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  return file;
}

const options = () => ({ root, include: ['**/*.ts'], exclude: [] });

/** The real @parcel/watcher, with a handle to fail a subscription the way a dying watcher does. */
function breakableParcel() {
  const callbacks: Array<(error: Error | null, events: ParcelEvent[]) => unknown> = [];
  let unsubscribed = 0;
  const watcher: ParcelWatcher = {
    async subscribe(target, callback, opts) {
      callbacks.push(callback);
      const subscription = await parcel.subscribe(target, callback, opts);
      return {
        async unsubscribe() {
          unsubscribed++;
          await subscription.unsubscribe();
        },
      };
    },
  };
  return {
    watcher,
    kill: (message: string) => callbacks.at(-1)?.(new Error(message), []),
    unsubscribed: () => unsubscribed,
  };
}

async function collect(source: ChangeSource) {
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
  cleanups.push(() => source.stop());
  const until = (condition: () => boolean, what: string) =>
    waitUntil(condition, { timeoutMs: WAIT_MS, what: () => `${what}; got ${JSON.stringify({ batches, errors })}` });
  return { files, batches, errors, until };
}

describe('NativeChangeSource', () => {
  it('rejects start with HOTMCP_ERR_WATCHER_FAILED when the binary cannot load', async () => {
    const source = createNativeChangeSource({
      ...options(),
      watcher: async () => {
        throw new Error('No prebuild or local build of @parcel/watcher found');
      },
    });
    await expect(source.start(() => {})).rejects.toMatchObject({
      code: 'HOTMCP_ERR_WATCHER_FAILED',
      message: expect.stringContaining('cannot load @parcel/watcher: No prebuild'),
    });
  });

  it('loads the OS watcher once when warmed up before start, and watches with it', async () => {
    const { watcher } = breakableParcel();
    let loads = 0;
    const source = createNativeChangeSource({
      ...options(),
      watcher: async () => {
        loads++;
        return watcher;
      },
    });
    source.warmUp();
    expect(loads).toBe(1);
    const { batches, until } = await collect(source);
    expect(loads).toBe(1);
    const file = write('a.ts');
    await until(() => batches.some((batch) => batch.added.includes(file)), 'a.ts reported');
  });

  it('rejects start when the watcher it was warmed up with failed to load, and loads it again on the next start', async () => {
    let loads = 0;
    const source = createNativeChangeSource({
      ...options(),
      watcher: async () => {
        loads++;
        if (loads === 1) throw new Error('No prebuild or local build of @parcel/watcher found');
        return breakableParcel().watcher;
      },
    });
    source.warmUp();
    await expect(source.start(() => {})).rejects.toMatchObject({ code: 'HOTMCP_ERR_WATCHER_FAILED' });
    await collect(source);
    expect(loads).toBe(2);
  });

  it('rejects start with HOTMCP_ERR_WATCHER_FAILED when subscribing fails (ENOSPC)', async () => {
    const source = createNativeChangeSource({
      ...options(),
      watcher: {
        subscribe: async () => {
          throw new Error(`inotify_add_watch on '${root}' failed: No space left on device`);
        },
      },
    });
    await expect(source.start(() => {})).rejects.toMatchObject({
      code: 'HOTMCP_ERR_WATCHER_FAILED',
      message: expect.stringContaining('No space left on device'),
    });
  });

  it('with awaitWatcher: false, resolves start after its first scan and emits what was written before it watched', async () => {
    const kept = write('tools/kept.ts');
    let release = () => {};
    const loaded = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { watcher } = breakableParcel();
    const source = createNativeChangeSource({
      ...options(),
      awaitWatcher: false,
      watcher: async () => {
        await loaded;
        return watcher;
      },
    });
    const { files, batches, until } = await collect(source);
    expect(files).toEqual([kept]);
    // A new folder: no fs.watch hint sees it, only the rescan once the OS watcher is subscribed.
    const early = write('other/early.ts');
    release();
    await source.watching();
    await until(() => batches.some((batch) => batch.added.includes(early)), 'early.ts reported once watching');
    const later = write('other/later.ts');
    await until(() => batches.some((batch) => batch.added.includes(later)), 'later.ts reported by the OS watcher');
  });

  it('with awaitWatcher: false, reports an OS watcher that cannot load as fatal after start', async () => {
    const kept = write('tools/kept.ts');
    const source = createNativeChangeSource({
      ...options(),
      awaitWatcher: false,
      watcher: async () => {
        throw new Error('No prebuild or local build of @parcel/watcher found');
      },
    });
    const { files, errors } = await collect(source);
    expect(files).toEqual([kept]);
    await source.watching();
    expect(errors).toHaveLength(1);
    expect(isFatalWatcherError(errors[0])).toBe(true);
    expect(errors[0]?.message).toContain('cannot load @parcel/watcher: No prebuild');
  });

  it('with awaitWatcher: false, stopped while subscribing, lets go of the subscription before stop() resolves', async () => {
    const broken = breakableParcel();
    let open = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let asked = false;
    const source = createNativeChangeSource({
      ...options(),
      awaitWatcher: false,
      watcher: {
        async subscribe(...args) {
          asked = true;
          await gate;
          return broken.watcher.subscribe(...args);
        },
      },
    });
    await source.start(() => {});
    await waitUntil(() => asked, { timeoutMs: WAIT_MS, what: 'the subscription asked for' });
    const stopping = source.stop();
    open();
    await stopping;
    expect(broken.unsubscribed()).toBe(1);
  });

  it('with awaitWatcher: false, is replaced by polling as at start when its OS watcher cannot load', async () => {
    const kept = write('tools/kept.ts');
    const fallbacks: FallbackEvent[] = [];
    const started: string[] = [];
    const source = createFallbackChangeSource({
      primary: createNativeChangeSource({
        ...options(),
        awaitWatcher: false,
        watcher: async () => {
          throw new Error('No prebuild or local build of @parcel/watcher found');
        },
      }),
      fallback: () => createPollChangeSource(options()),
      onFallback: (event) => fallbacks.push(event),
      onStarted: (which) => started.push(which),
    });
    const { files, batches, until } = await collect(source);
    expect(files).toEqual([kept]);
    await until(() => source.current === 'fallback', 'polling to take over');
    expect(fallbacks).toMatchObject([{ phase: 'start', replaced: true }]);
    expect(started).toEqual(['fallback']);
    const after = write('tools/after.ts');
    await until(() => batches.some((batch) => batch.added.includes(after)), 'after.ts seen by polling');
  });

  it('reports edits, new files and deletions in watched folders from fs.watch hints alone', async () => {
    // An OS watcher that never delivers: every batch here comes from the fs.watch hints.
    const silent: ParcelWatcher = { subscribe: async () => ({ unsubscribe: async () => {} }) };
    const edited = write('tools/a.ts');
    const gone = write('b.ts');
    const source = createNativeChangeSource({ ...options(), watcher: silent });
    const { batches, until } = await collect(source);
    write('tools/a.ts', 'edited');
    const created = write('tools/c.ts');
    write('tools/ignored.js');
    await rm(gone);
    const mentioned = (kind: 'added' | 'changed' | 'removed', file: string) =>
      batches.some((batch) => batch[kind].includes(file));
    await until(
      () => mentioned('changed', edited) && mentioned('added', created) && mentioned('removed', gone),
      'the hinted changes',
    );
    expect(batches.flatMap((batch) => [...batch.added, ...batch.changed, ...batch.removed])).not.toContain(
      path.join(root, 'tools/ignored.js'),
    );
  });

  it('sees what is written in a new folder that @parcel/watcher reported but does not watch', async () => {
    // Found by the fuzz run: @parcel/watcher reports a folder just created, then sometimes never a file written
    // in it at once (it watches the folder too late, or not at all). Here the real watcher's events from inside
    // the new folder are held back, as they were lost there; the folder's own event comes through.
    const lib = path.join(root, 'lib');
    let folderReported = false;
    const watcher: ParcelWatcher = {
      subscribe: (target, callback, opts) =>
        parcel.subscribe(
          target,
          (error, events) => {
            if (events.some((event) => event.path === lib)) folderReported = true;
            return callback(
              error,
              events.filter((event) => !event.path.startsWith(lib + path.sep)),
            );
          },
          opts,
        ),
    };
    const source = createNativeChangeSource({ ...options(), watcher });
    const { batches, until } = await collect(source);
    mkdirSync(lib);
    await waitUntil(() => folderReported, { timeoutMs: WAIT_MS, what: 'the new folder reported' });
    await new Promise((resolve) => setImmediate(resolve)); // the source has scanned the (empty) folder
    const helper = write('lib/helper.ts', 'export const tag = 1;');
    const mentioned = (kind: 'added' | 'changed', file: string) => batches.some((batch) => batch[kind].includes(file));
    await until(() => mentioned('added', helper), 'the file written in the new folder');
    write('lib/helper.ts', 'export const tag = 22;');
    await until(() => mentioned('changed', helper), 'its edit');
    // A folder made inside it, and a file written there at once: only fs.watch can see them.
    const deep = write('lib/deep/x.ts');
    await until(() => mentioned('added', deep), 'the file in a folder made inside the new folder');
  }, 20_000);

  it('rejects start when the root does not exist', async () => {
    const source = createNativeChangeSource({ ...options(), root: path.join(dir, 'missing') });
    await expect(source.start(() => {})).rejects.toMatchObject({ code: 'HOTMCP_ERR_WATCHER_FAILED' });
  });

  it('reports a fatal error and lets go of its subscription when the OS watcher fails while watching', async () => {
    const broken = breakableParcel();
    const { errors, until } = await collect(createNativeChangeSource({ ...options(), watcher: broken.watcher }));
    broken.kill('Error reading from inotify: Bad file descriptor');
    await until(() => errors.length > 0, 'the error');
    expect(isFatalWatcherError(errors[0])).toBe(true);
    expect(errors[0]?.message).toContain('Bad file descriptor');
    expect(broken.unsubscribed()).toBe(1);
  });

  it('is replaced by polling when it dies, and changes keep arriving', async () => {
    const kept = write('tools/kept.ts');
    const broken = breakableParcel();
    const source = createFallbackChangeSource({
      primary: createNativeChangeSource({ ...options(), watcher: broken.watcher }),
      fallback: () => createPollChangeSource(options()),
    });
    const { files, batches, until } = await collect(source);
    expect(files).toEqual([kept]);
    const before = write('tools/before.ts');
    await until(() => batches.some((b) => b.added.includes(before)), 'a native batch');
    broken.kill('Error reading from inotify: Bad file descriptor');
    await until(() => source.current === 'fallback', 'polling to take over');
    const after = write('tools/after.ts');
    writeFileSync(kept, 'edited');
    await until(
      () => batches.some((b) => b.added.includes(after)) && batches.some((b) => b.changed.includes(kept)),
      'changes seen by polling',
    );
  });

  it('lets go of its subscription when stopped while starting', async () => {
    const broken = breakableParcel();
    const source = createNativeChangeSource({ ...options(), watcher: broken.watcher });
    const starting = source.start(() => {});
    await source.stop();
    await starting;
    expect(broken.unsubscribed()).toBe(1);
  });

  it('does not follow a symlinked folder', async () => {
    const outside = path.join(dir, 'elsewhere');
    mkdirSync(outside);
    symlinkSync(outside, path.join(root, 'linked'));
    const { files, batches, until } = await collect(createNativeChangeSource(options()));
    expect(files).toEqual([]);
    writeFileSync(path.join(outside, 'a.ts'), 'x');
    const sentinel = write('sentinel.ts');
    await until(() => batches.some((b) => b.added.includes(sentinel)), 'the sentinel');
    expect(batches.flatMap((b) => b.added)).toEqual([sentinel]);
  });
});

describe('createReloader with @hotmcp/watcher-native installed', () => {
  it('watches with OS events by default and reloads a new file', async () => {
    const audit = new MemoryAuditSink();
    const loader = new FakeModuleLoader();
    const reloader = await createReloader({ root, adapter: new FakeRegistryAdapter(), loader, audit });
    cleanups.push(() => reloader.stop());
    await reloader.start();
    // Started without waiting for the OS watcher (polling would take over from a failure): audited once it watches.
    await waitUntil(() => audit.events.some((event) => event.event === 'watcher.started'), {
      timeoutMs: WAIT_MS,
      what: 'watcher.started',
    });
    expect(audit.events.find((event) => event.event === 'watcher.started')).toMatchObject({ watcher: 'native' });
    const file = write('tools/new.ts');
    await waitUntil(
      async () => {
        await reloader.idle();
        return loader.loads.flat().includes(file);
      },
      { timeoutMs: WAIT_MS, what: () => `a load of the new file; loads ${JSON.stringify(loader.loads)}` },
    );
  });

  it("polls with watcher: 'poll'", async () => {
    const audit = new MemoryAuditSink();
    const reloader = await createReloader({
      root,
      watcher: 'poll',
      adapter: new FakeRegistryAdapter(),
      loader: new FakeModuleLoader(),
      audit,
    });
    cleanups.push(() => reloader.stop());
    await reloader.start();
    expect(audit.events.find((event) => event.event === 'watcher.started')).toMatchObject({ watcher: 'poll' });
  });
});
