import { type FSWatcher, lstatSync, type Stats, statSync, watch } from 'node:fs';
import path from 'node:path';
import {
  type ChangeBatch,
  type ChangeSource,
  type ChangeSourceOptions,
  type FileListing,
  HotMcpError,
  isHotMcpError,
} from '@hotmcp/core';
import {
  createPathFilter,
  currentStamp,
  type FileScan,
  isInside,
  listFiles,
  type PathFilter,
  sameMetadata,
  sameStamp,
  scanFiles,
  stampOf,
  unreadable,
  watcherDied,
} from '@hotmcp/core/watching';
import { loadParcelInWorker } from './parcel-in-worker.js';

/** How many times a late subscription is tried while the tree changes under it (see #subscribeRetrying). */
const SUBSCRIBE_ATTEMPTS = 5;
/**
 * `awaitWatcher: false`: how long after `start()` the OS watcher is loaded (a worker thread) and subscribed.
 * A client asks for its lists right after the server's start; on a small machine a thread starting beside
 * that exchange slows it. Meanwhile `fs.watch` on the folders found sees edits, and the rescan once
 * subscribed emits anything else written since the first scan.
 */
const LATE_WATCH_DELAY_MS = 300;

/** The part of `@parcel/watcher` this source uses. */
export interface ParcelWatcher {
  /** Watch `dir`; the callback gets batches of events or an error. Resolves with the handle to stop. */
  subscribe(
    dir: string,
    callback: (error: Error | null, events: ParcelEvent[]) => unknown,
    options?: { ignore?: string[] },
  ): Promise<{
    /** Stop watching. */
    unsubscribe(): Promise<void>;
  }>;
}

/** One event of `@parcel/watcher`. */
export interface ParcelEvent {
  /** Absolute path of the file or folder. */
  path: string;
  /** What happened to it. */
  type: 'create' | 'update' | 'delete';
}

/** Options of {@link NativeChangeSource}. */
export interface NativeChangeSourceOptions extends ChangeSourceOptions {
  /**
   * The `@parcel/watcher` module, or a function loading it. Default: the
   * package's own dependency, imported when the source starts.
   */
  watcher?: ParcelWatcher | (() => Promise<ParcelWatcher>);
  /** How often the root is checked for having been deleted, moved or replaced, in ms. Default 500. */
  rootCheckMs?: number;
  /**
   * Whether `start()` waits for the OS watcher: loaded and subscribed, and rejects when it cannot be. Default
   * `true`. `false`: `start()` resolves after its first scan (and once the folders found are watched with
   * `fs.watch`); the OS watcher is loaded and subscribed 300 ms after that, the root scanned again then and every
   * difference emitted, so nothing written meanwhile is missed. A failure to load or subscribe is then
   * reported through `onError` as fatal (see `isFatalWatcherError`); `watching()` resolves once the OS watcher
   * watches or has failed. `createReloader` uses `false` where polling takes over from a failure.
   */
  awaitWatcher?: boolean;
}

type OnBatch = (batch: ChangeBatch) => void;

/** An `fs.watch` watcher of one folder. */
interface HintWatch {
  watcher: FSWatcher;
  ino: number;
  /**
   * Watched because the folder appeared, and @parcel/watcher has not yet reported anything written in it:
   * it may not watch it (it reports a new folder, then watches it, and misses what is written in between,
   * sometimes for good). Its hints are never left to @parcel/watcher.
   */
  fresh: boolean;
}
type OnError = (error: Error) => void;

/** Folders the OS watcher never watches (and never reports). */
const IGNORED = ['**/node_modules', '**/node_modules/**', '**/.git', '**/.git/**', '**/dist', '**/dist/**'];
const DEFAULT_ROOT_CHECK_MS = 500;
/** The most folders watched with `fs.watch` for early hints (each costs one inotify watch more). */
const MAX_HINT_DIRS = 256;
/**
 * Hints are followed for this many paths per busy period (an edit, an atomic save with its
 * temporary file); more is a burst (a checkout), left to `@parcel/watcher`, which batches it.
 */
const HINT_MAX_PATHS = 8;
/** A busy period ends after this long without an `fs.watch` event (when `@parcel/watcher` stops holding too). */
const HINT_QUIET_MS = 500;

/**
 * `@parcel/watcher` in an unref()'d worker thread, so watching never keeps
 * the process alive on its own; in this thread where a worker cannot run it.
 */
async function loadParcel(): Promise<ParcelWatcher> {
  try {
    return await loadParcelInWorker();
  } catch {
    return loadParcelHere();
  }
}

async function loadParcelHere(): Promise<ParcelWatcher> {
  const module = (await import('@parcel/watcher')) as unknown as Partial<ParcelWatcher> & { default?: ParcelWatcher };
  const watcher = typeof module.subscribe === 'function' ? (module as ParcelWatcher) : module.default;
  if (typeof watcher?.subscribe !== 'function') throw new Error('@parcel/watcher has no subscribe()');
  return watcher;
}

/**
 * A `ChangeSource` from OS file events (`@parcel/watcher`: inotify on Linux,
 * FSEvents on macOS, ReadDirectoryChangesW on Windows), loaded when the
 * source starts.
 *
 * - Every event is checked on disk before it is emitted: a path that is not a
 *   regular file, resolves outside the root, or is not selected by the globs
 *   is dropped; `create` and `update` are alike (a path the source did not
 *   know is `added`, a known one `changed`), and a known file whose stamp
 *   (mtime, ctime, size, inode) did not change is not reported again.
 * - A folder that appears (created, moved in, re-created) is watched with
 *   `fs.watch`, then scanned: the OS watcher misses files written before it
 *   watched the folder, and on Linux sometimes reports a new folder and never
 *   what is written in it. Until it reports something written there, that
 *   folder's hints are all followed (none left to it as part of a burst), and
 *   a folder made in it is entered the same way. When the folder holds folders
 *   of its own, the root is subscribed afresh and rescanned.
 * - Symlinks are not followed: a symlinked folder is not watched, and a
 *   symlinked file is reported (when its target is inside the root) for
 *   events on the link itself, not on its target; one whose target is
 *   outside the root is reported through `onError` as HOTMCP_ERR_OUTSIDE_ROOT.
 * - The root is checked every `rootCheckMs`: deleted or moved away, that is
 *   reported through `onError` and watching resumes when it is back;
 *   replaced, it is watched afresh.
 * - The folders holding selected files (up to 256) are also watched with
 *   Node's non-recursive `fs.watch`, whose events come straight from the OS:
 *   `@parcel/watcher` holds events 50 ms when its previous delivery was less
 *   than 500 ms earlier, so edits a few hundred ms apart would each wait.
 *   Such a hint is checked on disk like any event (files only: folders are
 *   left to `@parcel/watcher`), and the later event for the same write finds
 *   the stamp unchanged and emits nothing. Hints are followed for the first
 *   few paths of a busy period only: a burst (a checkout) is left to
 *   `@parcel/watcher`, which batches it. When `fs.watch` fails (the inotify
 *   limit), the folder goes without hints.
 * - When the OS watcher fails while watching, a fatal error (see
 *   `isFatalWatcherError`) is reported and the source stops; `createReloader`
 *   then polls instead.
 */
export class NativeChangeSource implements ChangeSource {
  readonly #root: string;
  readonly #filter: PathFilter;
  readonly #load: () => Promise<ParcelWatcher>;
  readonly #rootCheckMs: number;
  readonly #awaitWatcher: boolean;

  #parcel: ParcelWatcher | undefined;
  /** The OS watcher being loaded, from `warmUp()` or `start()`. */
  #loading: Promise<ParcelWatcher> | undefined;
  #subscription: { unsubscribe(): Promise<void> } | undefined;
  /** A subscription started after `start()` resolved (`awaitWatcher: false`), until it is made; `stop()` waits for it. */
  #subscribing: Promise<void> | undefined;
  /** Resolves once the OS watcher of the current start watches, or has failed to. */
  #watching: Promise<void> = Promise.resolve();
  /** The OS watcher of this start is not subscribed yet (`awaitWatcher: false`): it rescans once it is. */
  #watchPending = false;
  /** Stamp of every file reported (or found at start). */
  #files = new Map<string, string>();
  /** Inode of every folder seen. */
  #dirs = new Map<string, number>();
  /** Event processing, one batch after another. */
  #chain: Promise<void> = Promise.resolve();
  #generation = 0;
  #running = false;
  #rootIno = 0;
  #rootGone = false;
  #checking = false;
  #watchdog: NodeJS.Timeout | undefined;
  #onBatch: OnBatch | undefined;
  #onError: OnError | undefined;
  /** `fs.watch` hint watchers by folder, with the folder's inode when watched. */
  #hints = new Map<string, HintWatch>();
  /** Paths hinted since the last hint job was queued. */
  #hinted = new Set<string>();
  /** Paths hinted in this busy period, up to HINT_MAX_PATHS. */
  #hintPaths = new Set<string>();
  #lastHintAt = Number.NEGATIVE_INFINITY;
  /** This busy period hinted more than HINT_MAX_PATHS paths: a burst, whose rest @parcel/watcher brings. */
  #hintBurst = false;
  /** Files a hint reported as added, until the next event for them. */
  #hintAdded = new Set<string>();

  constructor(options: NativeChangeSourceOptions) {
    if (typeof options.root !== 'string' || !path.isAbsolute(options.root)) {
      throw new HotMcpError('HOTMCP_ERR_BAD_OPTION', `root must be an absolute path, got ${String(options.root)}`);
    }
    const rootCheckMs = options.rootCheckMs ?? DEFAULT_ROOT_CHECK_MS;
    if (!Number.isFinite(rootCheckMs) || rootCheckMs <= 0) {
      throw new HotMcpError('HOTMCP_ERR_BAD_OPTION', `rootCheckMs must be a finite number > 0, got ${rootCheckMs}`);
    }
    this.#root = path.resolve(options.root);
    this.#filter = createPathFilter({ ...options, root: this.#root });
    const given = options.watcher;
    this.#load = typeof given === 'function' ? given : given ? async () => given : loadParcel;
    this.#rootCheckMs = rootCheckMs;
    this.#awaitWatcher = options.awaitWatcher ?? true;
  }

  /**
   * Start loading the OS watcher (its worker thread), so that `start()` finds
   * it loaded or on the way. Never throws: `start()` reports a failure.
   */
  warmUp(): void {
    if (this.#awaitWatcher) this.#loadParcel().catch(() => {}); // else loaded after the start (LATE_WATCH_DELAY_MS)
  }

  #loadParcel(): Promise<ParcelWatcher> {
    if (this.#loading === undefined) {
      const loading = this.#load();
      this.#loading = loading;
      // A failed load is tried again by the next start.
      loading.catch(() => {
        if (this.#loading === loading) this.#loading = undefined;
      });
    }
    return this.#loading;
  }

  /**
   * Load the OS watcher, subscribe to the root, then scan it as the baseline.
   * Rejects with `HOTMCP_ERR_WATCHER_FAILED` when the binary does not load, the
   * root is missing, or subscribing fails (ENOSPC: the inotify watch limit).
   * With `awaitWatcher: false`, scans the root and resolves; the OS watcher
   * follows (see {@link NativeChangeSourceOptions.awaitWatcher}).
   */
  async start(onBatch: OnBatch, onError?: OnError): Promise<readonly string[]> {
    if (this.#running) throw new HotMcpError('HOTMCP_ERR_WATCHER_FAILED', 'NativeChangeSource is already started');
    this.#running = true;
    const generation = ++this.#generation;
    this.#onBatch = onBatch;
    this.#onError = onError;
    this.#files = new Map();
    this.#dirs = new Map();
    this.#rootGone = false;
    this.#watchPending = false;
    try {
      if (this.#awaitWatcher) await this.#loadWatcher();
      const root = statSync(this.#root, { throwIfNoEntry: false });
      if (!root?.isDirectory()) {
        throw new HotMcpError('HOTMCP_ERR_WATCHER_FAILED', `cannot watch ${this.#root}: not a directory`);
      }
      if (this.#awaitWatcher) {
        await this.#subscribe(generation);
        // Stopped while subscribing: the subscription was let go.
        if (generation !== this.#generation) return [];
      }
      const scan = scanFiles(this.#filter, (error) => this.#report(generation, error));
      this.#files = scan.files;
      this.#dirs = scan.dirs;
      this.#rootIno = scan.dirs.get(this.#root) ?? root.ino;
      this.#watchHints(generation, this.#files.keys());
    } catch (error) {
      if (generation === this.#generation) {
        this.#running = false;
        this.#closeHints();
        await this.#unsubscribe();
      }
      throw error;
    }
    if (this.#awaitWatcher) {
      this.#watching = Promise.resolve();
      this.#startWatchdog(generation);
    } else {
      this.#watchPending = true;
      this.#watching = this.#watchLate(generation).catch((error) => this.#report(generation, error));
    }
    return [...this.#files.keys()].sort();
  }

  /**
   * Resolves once the OS watcher of the current start watches the root, or has failed to (reported through
   * `onError` as fatal). At once when `start()` waited for it, or the source is stopped.
   */
  watching(): Promise<void> {
    return this.#watching;
  }

  /** The OS watcher, loaded (`HOTMCP_ERR_WATCHER_FAILED` when it cannot be). */
  async #loadWatcher(): Promise<ParcelWatcher> {
    try {
      this.#parcel ??= await this.#loadParcel();
      return this.#parcel;
    } catch (cause) {
      throw new HotMcpError('HOTMCP_ERR_WATCHER_FAILED', `cannot load @parcel/watcher: ${messageOf(cause)}`, {
        cause,
      });
    }
  }

  /**
   * `awaitWatcher: false`: load and subscribe the OS watcher after `start()`, then rescan, emitting whatever
   * changed since the first scan (the `fs.watch` hints saw most of it already). A failure is fatal, unless the
   * root went away meanwhile: the root check reports that, and watches it again once it is back.
   */
  async #watchLate(generation: number): Promise<void> {
    try {
      await new Promise((resolve) => setTimeout(resolve, LATE_WATCH_DELAY_MS).unref());
      if (generation !== this.#generation) return;
      await this.#loadWatcher();
      if (generation !== this.#generation) return;
      const subscribing = this.#subscribeRetrying(generation);
      const settled = subscribing.then(
        () => {},
        () => {},
      );
      this.#subscribing = settled;
      try {
        await subscribing;
      } finally {
        if (this.#subscribing === settled) this.#subscribing = undefined;
      }
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#watchPending = false;
      if (statSync(this.#root, { throwIfNoEntry: false })?.isDirectory()) {
        this.#die(generation, error, messageOf(error));
        return;
      }
      this.#rootIno = 0; // gone: the root check says so, and watches it afresh once it is back
    }
    if (generation !== this.#generation) return;
    const subscribed = this.#watchPending;
    this.#watchPending = false;
    this.#startWatchdog(generation);
    if (subscribed) this.#enqueue(generation, async () => this.#catchUp(generation));
  }

  /**
   * Subscribe while the tree may be changing under the OS watcher: a folder removed while it walked the tree
   * fails the subscription (ENOENT) though the root is still there; it is tried again, a few times.
   */
  async #subscribeRetrying(generation: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#subscribe(generation);
        return;
      } catch (error) {
        const rootThere = statSync(this.#root, { throwIfNoEntry: false })?.isDirectory();
        if (attempt >= SUBSCRIBE_ATTEMPTS || generation !== this.#generation || !rootThere) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
      }
    }
  }

  #startWatchdog(generation: number): void {
    this.#watchdog = setInterval(() => this.#enqueue(generation, () => this.#checkRoot(generation)), this.#rootCheckMs);
    this.#watchdog.unref(); // never keeps the process alive on its own
  }

  /** Unsubscribe and wait for events being processed. Idempotent. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#generation++;
    if (this.#watchdog !== undefined) clearInterval(this.#watchdog);
    this.#watchdog = undefined;
    this.#closeHints();
    await this.#subscribing;
    await this.#chain;
    await this.#unsubscribe();
    this.#watching = Promise.resolve();
  }

  /** List the root now (one full scan, emitting nothing); unreadable paths and outside links go to `onError`. */
  rescan(): FileListing {
    return listFiles(this.#filter, (error) => this.#report(this.#generation, error));
  }

  /** The stamp of `file` now, or '' when it is not a regular file that can be read. */
  stamp(file: string): string {
    return currentStamp(file);
  }

  /** Subscribe to the root; a subscription made after `stop()` (or a later start) is let go at once. */
  async #subscribe(generation: number): Promise<void> {
    const parcel = this.#parcel as ParcelWatcher;
    let subscription: { unsubscribe(): Promise<void> };
    try {
      subscription = await parcel.subscribe(
        this.#root,
        (error, events) => {
          if (generation !== this.#generation) return;
          if (error) this.#die(generation, error);
          else this.#enqueue(generation, () => this.#process(generation, events));
        },
        { ignore: IGNORED },
      );
    } catch (cause) {
      throw new HotMcpError('HOTMCP_ERR_WATCHER_FAILED', `cannot watch ${this.#root}: ${messageOf(cause)}`, { cause });
    }
    if (generation === this.#generation) this.#subscription = subscription;
    else await subscription.unsubscribe().catch(() => {});
  }

  /** Watch the folder of each file with `fs.watch` (a new folder, or one re-created since it was watched). */
  #watchHints(generation: number, files: Iterable<string>): void {
    for (const file of files) {
      const dir = path.dirname(file);
      const ino = this.#dirs.get(dir) ?? 0;
      const known = this.#hints.get(dir);
      if (known !== undefined) {
        if (known.ino === ino) continue;
        known.watcher.close();
        this.#hints.delete(dir);
      }
      this.#openHint(generation, dir, ino, false);
    }
  }

  /** Watch `dir` with `fs.watch` (up to MAX_HINT_DIRS folders); false when it cannot be watched. */
  #openHint(generation: number, dir: string, ino: number, fresh: boolean): boolean {
    if (this.#hints.size >= MAX_HINT_DIRS) return false;
    const entry: Partial<HintWatch> = { ino, fresh };
    try {
      entry.watcher = watch(dir, { persistent: false }, (_type, name) => this.#hint(generation, dir, name, entry));
    } catch {
      return false; // gone, or the inotify limit: @parcel/watcher's events still come
    }
    const { watcher } = entry;
    watcher.on('error', () => {
      watcher.close();
      if (this.#hints.get(dir)?.watcher === watcher) this.#hints.delete(dir);
    });
    this.#hints.set(dir, entry as HintWatch);
    return true;
  }

  /**
   * A folder appeared (or changed): watch it afresh with `fs.watch` before it is scanned, so what is
   * written in it after the scan is seen whether or not @parcel/watcher watches it yet.
   */
  #watchNewFolder(generation: number, dir: string): void {
    const known = this.#hints.get(dir);
    if (known !== undefined) {
      known.watcher.close();
      this.#hints.delete(dir);
    }
    const stats = statSync(dir, { throwIfNoEntry: false });
    if (stats?.isDirectory()) this.#openHint(generation, dir, stats.ino, true);
  }

  #closeHints(): void {
    for (const { watcher } of this.#hints.values()) watcher.close();
    this.#hints.clear();
    this.#hinted.clear();
    this.#hintPaths.clear();
    this.#hintBurst = false;
    this.#hintAdded.clear();
  }

  /** An `fs.watch` event: queue its path, once per turn of the event loop (no timer). */
  #hint(generation: number, dir: string, name: string | Buffer | null, from: Partial<HintWatch>): void {
    if (generation !== this.#generation || name === null) return;
    const now = performance.now();
    if (now - this.#lastHintAt >= HINT_QUIET_MS) {
      this.#hintPaths.clear();
      this.#hintBurst = false;
    }
    this.#lastHintAt = now;
    const file = path.join(dir, name.toString());
    if (!this.#hintPaths.has(file)) {
      if (this.#hintPaths.size >= HINT_MAX_PATHS) {
        this.#hintBurst = true; // a burst: @parcel/watcher's batches carry it, except in a folder it may not watch
        if (!from.fresh) return;
      } else this.#hintPaths.add(file);
    }
    const first = this.#hinted.size === 0;
    this.#hinted.add(file);
    if (!first) return;
    setImmediate(() => {
      const paths = this.#hinted;
      this.#hinted = new Set();
      this.#enqueue(generation, async () => this.#processHint(generation, paths));
    });
  }

  /** Check hinted paths on disk: selected files that are there, and known files that are gone. */
  async #processHint(generation: number, paths: Set<string>): Promise<void> {
    const candidates = new Set<string>();
    const folders: string[] = [];
    for (const file of paths) {
      if (!isInside(this.#root, file)) continue;
      const stats = lstatSync(file, { throwIfNoEntry: false });
      if (
        stats === undefined
          ? this.#files.has(file)
          : (stats.isFile() || stats.isSymbolicLink()) && this.#filter.includes(file)
      ) {
        candidates.add(file);
      } else if (stats?.isDirectory() && this.#hints.get(path.dirname(file))?.fresh && this.#filter.enters(file)) {
        folders.push(file); // made in a new folder @parcel/watcher may not watch: it may never report this one
      }
    }
    const resubscribe = this.#enterFolders(generation, folders, candidates);
    if (candidates.size > 0) this.#judge(generation, candidates, true);
    if (resubscribe) await this.#refresh(generation);
  }

  async #unsubscribe(): Promise<void> {
    const subscription = this.#subscription;
    this.#subscription = undefined;
    try {
      await subscription?.unsubscribe();
    } catch {
      // Already gone with its watcher.
    }
  }

  #enqueue(generation: number, job: () => Promise<void>): void {
    this.#chain = this.#chain.then(async () => {
      if (generation !== this.#generation) return;
      try {
        await job();
      } catch (error) {
        this.#report(generation, error);
      }
    });
  }

  /**
   * Turn one delivery of OS events into at most one batch. Synchronous file
   * system calls: faster than the promise API, and they keep libuv's thread
   * pool (and its threads' memory arenas) out of it.
   */
  async #process(generation: number, events: ParcelEvent[]): Promise<void> {
    const root = this.#root;
    const candidates = new Set<string>();
    const folders: string[] = [];
    let rootTouched = false;
    for (const { path: file, type } of events) {
      if (file === root) {
        rootTouched = true;
        continue;
      }
      if (!isInside(root, file)) continue;
      let stats: Stats | undefined;
      try {
        stats = lstatSync(file);
      } catch {
        stats = undefined; // gone, or cannot tell: the stamp below decides
      }
      // Something written in a folder watched as new, and there: @parcel/watcher watches that folder.
      if (stats !== undefined && type !== 'delete') {
        const folder = this.#hints.get(path.dirname(file));
        if (folder?.fresh) folder.fresh = false;
      }
      if (stats === undefined) {
        if (this.#files.has(file)) candidates.add(file);
        else if (this.#dirs.delete(file)) for (const known of this.#under(file)) candidates.add(known);
      } else if (stats.isDirectory()) {
        if (this.#filter.enters(file)) folders.push(file);
      } else if ((stats.isFile() || stats.isSymbolicLink()) && this.#filter.includes(file)) {
        candidates.add(file);
      }
    }
    const resubscribe = this.#enterFolders(generation, folders, candidates);
    this.#judge(generation, candidates);
    if (resubscribe) await this.#refresh(generation);
    if (rootTouched) await this.#checkRoot(generation);
  }

  /**
   * Folders that appeared (created, moved in, re-created, chmod): each is watched with `fs.watch`, then
   * scanned, its files added to `candidates`. The OS watcher misses what was written in a new folder before
   * it watched it, and never watches folders made inside it in that time: true when a folder holds folders
   * (subscribe afresh).
   */
  #enterFolders(generation: number, folders: readonly string[], candidates: Set<string>): boolean {
    let resubscribe = false;
    for (const folder of folders) {
      this.#watchNewFolder(generation, folder);
      for (const file of this.#under(folder)) candidates.add(file);
      let scan: FileScan;
      try {
        scan = scanFiles(this.#filter, (error) => this.#report(generation, error), folder);
      } catch {
        continue; // gone again
      }
      if (scan.dirs.size > 1) resubscribe = true;
      for (const [dir, ino] of scan.dirs) this.#dirs.set(dir, ino);
      for (const file of scan.files.keys()) candidates.add(file);
    }
    return resubscribe;
  }

  /** Stamp each candidate and emit what changed. */
  #judge(generation: number, candidates: Iterable<string>, hinted = false): void {
    const batch: ChangeBatch = { added: [], changed: [], removed: [] };
    for (const file of candidates) {
      let stamp: string | undefined;
      try {
        stamp = stampOf(this.#root, file, undefined, (error) => this.#report(generation, error));
      } catch (error) {
        // Cannot tell (permission denied): skip it, keep what was known.
        this.#report(generation, unreadable(file, error));
        continue;
      }
      const before = this.#files.get(file);
      // Added from a hint: another event for the same write (@parcel/watcher's, or a second hint) finding the
      // same metadata is not a change.
      const hintAdded = this.#hintAdded.delete(file);
      if (stamp === undefined) {
        if (this.#files.delete(file)) batch.removed.push(file);
        continue;
      }
      this.#files.set(file, stamp);
      if (before === undefined) {
        batch.added.push(file);
        if (this.#hints.size > 0 || hinted) this.#hintAdded.add(file);
      } else if (hintAdded && sameMetadata(before, stamp)) this.#hintAdded.add(file);
      else if (!sameStamp(before, stamp)) batch.changed.push(file);
    }
    this.#emit(batch);
  }

  /** Subscribe afresh (the OS watcher then watches every folder) and rescan, emitting the difference. */
  async #refresh(generation: number): Promise<void> {
    // Not subscribed yet: the subscription on its way watches every folder, and is followed by a rescan.
    if (this.#watchPending) return;
    await this.#unsubscribe();
    try {
      await this.#subscribe(generation);
    } catch (error) {
      this.#die(generation, error);
      return;
    }
    this.#catchUp(generation, false);
  }

  /**
   * Rescan the root and emit the difference with what is known. `strict`: a file whose known stamp was too
   * fresh to trust counts as changed (just after the first scan: a same-size rewrite in the same clock tick,
   * between that scan and the `fs.watch` of its folder, leaves the same metadata); otherwise, with no event to
   * go on, only a visible difference counts.
   */
  #catchUp(generation: number, strict = true): void {
    let scan: FileScan;
    // What could not be read is unknown, not gone: the files known under it are kept.
    const unreadable: string[] = [];
    try {
      scan = scanFiles(this.#filter, (error) => {
        const where =
          isHotMcpError(error) && error.code === 'HOTMCP_ERR_WATCHER_FAILED' ? error.details?.path : undefined;
        if (typeof where === 'string') unreadable.push(where);
        this.#report(generation, error);
      });
    } catch {
      return; // the root went away meanwhile: the root check reports it
    }
    const batch: ChangeBatch = { added: [], changed: [], removed: [] };
    for (const [file, stamp] of scan.files) {
      const before = this.#files.get(file);
      if (before === undefined) batch.added.push(file);
      else if (strict ? !sameStamp(before, stamp) : !sameMetadata(before, stamp)) batch.changed.push(file);
    }
    for (const [file, stamp] of this.#files) {
      if (scan.files.has(file)) continue;
      if (unreadable.some((where) => file === where || isInside(where, file))) scan.files.set(file, stamp);
      else batch.removed.push(file);
    }
    this.#files = scan.files;
    this.#dirs = scan.dirs;
    this.#rootIno = scan.dirs.get(this.#root) ?? this.#rootIno;
    this.#watchHints(generation, this.#files.keys());
    this.#emit(batch);
  }

  /** Is the root still the folder being watched? Gone: say so once. Back or replaced: watch it afresh. */
  async #checkRoot(generation: number): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      const stats = statSync(this.#root, { throwIfNoEntry: false });
      if (!stats?.isDirectory()) {
        if (!this.#rootGone) {
          this.#rootGone = true;
          await this.#unsubscribe();
          this.#report(
            generation,
            new HotMcpError(
              'HOTMCP_ERR_WATCHER_FAILED',
              `${this.#root} ${stats ? 'is no longer a directory' : 'disappeared'}; watching resumes when it is back`,
            ),
          );
        }
        return;
      }
      if (this.#rootGone || stats.ino !== this.#rootIno) {
        this.#rootGone = false;
        this.#rootIno = stats.ino;
        await this.#refresh(generation);
      }
    } finally {
      this.#checking = false;
    }
  }

  /** Known files under a folder. */
  #under(folder: string): string[] {
    const prefix = folder + path.sep;
    return [...this.#files.keys()].filter((file) => file.startsWith(prefix));
  }

  #emit(batch: ChangeBatch): void {
    if (batch.added.length + batch.changed.length + batch.removed.length === 0) return;
    for (const list of [batch.added, batch.changed, batch.removed]) list.sort();
    // Inside a busy period that hinted more paths than an edit makes, more of the burst is coming:
    // said, so a coalescer holds this part for the rest (a checkout stays one or two batches).
    if (this.#hintBurst && performance.now() - this.#lastHintAt < HINT_QUIET_MS) batch.burst = true;
    this.#watchHints(this.#generation, [...batch.added, ...batch.changed]);
    try {
      this.#onBatch?.(batch);
    } catch (error) {
      this.#report(this.#generation, error);
    }
  }

  /** The OS watcher failed: report it as fatal and release everything. */
  #die(
    generation: number,
    cause: unknown,
    message = `native watcher of ${this.#root} failed: ${messageOf(cause)}`,
  ): void {
    if (generation !== this.#generation) return;
    this.#generation++;
    this.#running = false;
    if (this.#watchdog !== undefined) clearInterval(this.#watchdog);
    this.#watchdog = undefined;
    this.#closeHints();
    void this.#unsubscribe();
    this.#report(this.#generation, watcherDied(message, cause));
  }

  #report(generation: number, error: unknown): void {
    if (generation !== this.#generation || this.#onError === undefined) return;
    try {
      this.#onError(error instanceof Error ? error : new Error(messageOf(error)));
    } catch {
      // An error handler that throws must not stop the watching.
    }
  }
}

/** Make a {@link NativeChangeSource}. */
export function createNativeChangeSource(options: NativeChangeSourceOptions): NativeChangeSource {
  return new NativeChangeSource(options);
}

function messageOf(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}
