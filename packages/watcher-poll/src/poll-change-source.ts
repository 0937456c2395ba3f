import { type Dirent, readdirSync, type Stats, statSync } from 'node:fs';
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
  FRESH_MS,
  isGone,
  listFiles,
  outsideRootLink,
  type PathFilter,
  unreadable,
  walkFiles,
} from '@hotmcp/core/watching';

/** Options of {@link PollChangeSource}. */
export interface PollChangeSourceOptions extends ChangeSourceOptions {
  /**
   * Shortest pause between the end of one tick and the start of the next, in
   * milliseconds. Default 25. The pause grows to 40 times a typical tick's
   * duration, so polling takes at most about 5 % of a core.
   */
  intervalMs?: number;
  /** Longest pause between two ticks, in milliseconds. Default 1000. */
  maxIntervalMs?: number;
}

const DEFAULT_INTERVAL_MS = 25;
const DEFAULT_MAX_INTERVAL_MS = 1000;
/**
 * The pause is at least this many times the duration of a typical tick, so
 * ticks take at most 2.5 % of a core, leaving room for the timer and the
 * garbage collection they cause: under 5 % in all.
 */
const INTERVAL_PER_TICK = 40;
/** How many recent ticks the pause is worked out from. */
const RECENT_TICKS = 5;
/** Time a tick spends re-stamping files in place (beyond folders and hot files), in ms. */
const SLICE_MS = 0.4;
/** Files changed this recently are stamped on every tick. */
const HOT_MS = 5 * 60_000;
/** At most this many hot files. */
const HOT_MAX = 64;
/**
 * An empty file modified less than this long ago is probably being written
 * (created or truncated, its bytes not there yet): it is looked at again on
 * the next tick rather than reported half-written.
 */
const SETTLING_MS = 50;

const SETTLING = 'settling' as const;

type OnBatch = (batch: ChangeBatch) => void;
type OnError = (error: Error) => void;

interface Folder {
  /** `mtimeMs:ctimeMs:ino` when last listed; '' forces a listing. */
  key: string;
  /** Selected files directly inside. */
  files: Set<string>;
  /** Folders directly inside that are entered. */
  folders: Set<string>;
}

/** One tick's findings. */
class Changes {
  readonly added = new Set<string>();
  readonly changed = new Set<string>();
  readonly removed = new Set<string>();

  get size(): number {
    return this.added.size + this.changed.size + this.removed.size;
  }

  batch(): ChangeBatch {
    return { added: [...this.added].sort(), changed: [...this.changed].sort(), removed: [...this.removed].sort() };
  }
}

/**
 * A `ChangeSource` that polls with synchronous `stat` calls, cheaply:
 *
 * - every tick stamps each watched folder; a folder whose mtime, ctime or
 *   inode changed (a file was added, deleted or renamed in it: atomic saves
 *   too) is listed again and its files are stamped;
 * - files changed in the last minutes are stamped on every tick;
 * - the other files are stamped in round-robin slices of about 0.4 ms per
 *   tick, which finds edits made in place;
 * - the pause between ticks is `intervalMs`, or 40× the shortest of the last
 *   five ticks when that is longer, up to `maxIntervalMs`.
 *
 * A file is changed when its `mtimeMs`, `ctimeMs`, `size` or inode differs.
 * Symlinked folders are not followed; a symlinked file is reported only when
 * its real path is inside the root (one resolving outside it is reported
 * through `onError` as HOTMCP_ERR_OUTSIDE_ROOT). No native code: works on every filesystem
 * (network mounts, containers, WSL).
 */
export class PollChangeSource implements ChangeSource {
  readonly #root: string;
  readonly #filter: PathFilter;
  readonly #minIntervalMs: number;
  readonly #maxIntervalMs: number;

  /** Stamp of every selected file. */
  #files = new Map<string, string>();
  /** Every entered folder, the root first. */
  #folders = new Map<string, Folder>();
  /** Selected files that are symlinks (their target must stay inside the root). */
  #links = new Set<string>();
  /** Recently changed files, with when they changed. */
  #hot = new Map<string, number>();
  /** The round-robin order of the slices, rebuilt when files come and go. */
  #order: string[] = [];
  #orderStale = true;
  #cursor = 0;
  /** Paths reported unreadable and not readable since: reported once per streak. */
  #unreadable = new Set<string>();
  /** Empty files caught being written: stamped again on the next tick. */
  #settling = new Set<string>();

  #intervalMs: number;
  /** Durations of the last ticks, in ms. */
  #recent: number[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** Bumped by every start and stop; a tick of an older generation emits nothing. */
  #generation = 0;
  #running = false;
  /** True while the root is missing, so one outage is reported once. */
  #failing = false;
  #onBatch: OnBatch | undefined;
  #onError: OnError | undefined;

  constructor(options: PollChangeSourceOptions) {
    const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    if (!Number.isFinite(intervalMs) || intervalMs < 0) {
      throw new HotMcpError('HOTMCP_ERR_BAD_OPTION', `intervalMs must be a finite number >= 0, got ${intervalMs}`);
    }
    const maxIntervalMs = options.maxIntervalMs ?? Math.max(DEFAULT_MAX_INTERVAL_MS, intervalMs);
    if (!Number.isFinite(maxIntervalMs) || maxIntervalMs < intervalMs) {
      throw new HotMcpError('HOTMCP_ERR_BAD_OPTION', `maxIntervalMs must be >= intervalMs, got ${maxIntervalMs}`);
    }
    if (typeof options.root !== 'string' || !path.isAbsolute(options.root)) {
      throw new HotMcpError('HOTMCP_ERR_BAD_OPTION', `root must be an absolute path, got ${String(options.root)}`);
    }
    this.#root = path.resolve(options.root);
    this.#filter = createPathFilter({ ...options, root: this.#root });
    this.#minIntervalMs = intervalMs;
    this.#maxIntervalMs = maxIntervalMs;
    this.#intervalMs = intervalMs;
  }

  /** The pause before the next tick, in ms: adapts to how long ticks take. */
  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** Scan once as the baseline, resolve with the files found, then poll until {@link stop}. */
  async start(onBatch: OnBatch, onError?: OnError): Promise<readonly string[]> {
    if (this.#running) {
      throw new HotMcpError('HOTMCP_ERR_WATCHER_FAILED', 'PollChangeSource is already started');
    }
    const root = this.#root;
    const stats = statSync(root, { throwIfNoEntry: false });
    if (!stats?.isDirectory()) {
      throw new HotMcpError(
        'HOTMCP_ERR_WATCHER_FAILED',
        `cannot scan ${root}: ${stats ? 'not a directory' : 'missing'}`,
      );
    }
    this.#running = true;
    this.#failing = false;
    this.#onBatch = onBatch;
    this.#onError = onError;
    this.#files = new Map();
    this.#folders = new Map();
    this.#links = new Set();
    this.#hot = new Map();
    this.#unreadable = new Set();
    this.#settling = new Set();
    this.#orderStale = true;
    const generation = ++this.#generation;
    this.#intervalMs = this.#minIntervalMs;
    this.#recent = [];
    this.#enter(root, new Changes());
    this.#schedule(generation);
    return [...this.#files.keys()].sort();
  }

  /** Stop polling. Idempotent. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#generation += 1;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  /** List the root now (one full scan, emitting nothing); unreadable paths and outside links go to `onError`. */
  rescan(): FileListing {
    return listFiles(this.#filter, (error) => this.#report(error));
  }

  /** The stamp of `file` now, or '' when it is not a regular file that can be read. */
  stamp(file: string): string {
    return currentStamp(file);
  }

  #schedule(generation: number): void {
    if (generation !== this.#generation) return;
    // unref()'d: polling never keeps a process alive on its own (the server's transport does).
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const started = performance.now();
      this.#tick(generation);
      this.#adapt(performance.now() - started);
      this.#schedule(generation);
    }, this.#intervalMs).unref();
  }

  /**
   * The next pause, from the shortest of the last few ticks: one tick that
   * waited for a busy machine (or a garbage collection) did not cost more.
   */
  #adapt(tickMs: number): void {
    this.#recent.push(tickMs);
    if (this.#recent.length > RECENT_TICKS) this.#recent.shift();
    const typical = Math.min(...this.#recent);

    this.#intervalMs = Math.min(this.#maxIntervalMs, Math.max(this.#minIntervalMs, INTERVAL_PER_TICK * typical));
  }

  /** One round of stamping and at most one batch. Never throws. */
  #tick(generation: number): void {
    const root = this.#root;
    const rootStats = statSync(root, { throwIfNoEntry: false });
    if (!rootStats?.isDirectory()) {
      if (!this.#failing) {
        this.#failing = true;
        this.#report(
          new HotMcpError(
            'HOTMCP_ERR_WATCHER_FAILED',
            `cannot scan ${root}: ${rootStats ? 'not a directory' : 'missing'}; watching resumes when it is back`,
          ),
        );
      }
      return;
    }
    this.#failing = false;
    const changes = new Changes();
    const settling = [...this.#settling];
    this.#settling.clear();
    for (const file of settling) this.#restamp(file, changes);

    for (const [dir, folder] of [...this.#folders]) {
      if (this.#folders.get(dir) !== folder) continue; // dropped earlier in this tick
      const stats = dir === root ? rootStats : statSync(dir, { throwIfNoEntry: false });
      if (!stats?.isDirectory()) {
        this.#dropFolder(dir, changes);
        continue;
      }
      if (folderKey(stats) !== folder.key) this.#list(dir, folder, folderKey(stats), changes);
    }

    const now = Date.now();
    for (const [file, at] of this.#hot) {
      if (now - at > HOT_MS) this.#hot.delete(file);
      else this.#restamp(file, changes);
    }
    this.#slice(changes);

    if (changes.size === 0 || generation !== this.#generation) return;
    for (const file of [...changes.added, ...changes.changed]) this.#heat(file, now);
    try {
      this.#onBatch?.(changes.batch());
    } catch (error) {
      this.#report(error);
    }
  }

  /** Stamp files in place from the round-robin cursor for about {@link SLICE_MS}. */
  #slice(changes: Changes): void {
    if (this.#orderStale) {
      this.#order = [...this.#files.keys()];
      this.#orderStale = false;
      if (this.#cursor >= this.#order.length) this.#cursor = 0;
    }
    const order = this.#order;
    const deadline = performance.now() + SLICE_MS;
    for (let done = 0; done < order.length; done++) {
      if (this.#cursor >= order.length) this.#cursor = 0;
      const file = order[this.#cursor++] as string;
      if (this.#files.has(file)) this.#restamp(file, changes);
      if ((done & 15) === 15 && performance.now() > deadline) break;
    }
  }

  /**
   * A new folder: walk it (one listing per folder), record it and
   * every folder inside, and stamp their files. A folder's key comes from a
   * stat after the walk: one modified since shortly before the walk began, or
   * not read in full, keeps an empty key, so the next tick lists it again.
   */
  #enter(dir: string, changes: Changes): void {
    const began = Date.now() - FRESH_MS;
    const stats = statSync(dir, { throwIfNoEntry: false });
    if (!stats?.isDirectory()) return;
    const walk = walkFiles(
      this.#filter,
      (error) => {
        const folder = isHotMcpError(error) ? error.details?.path : undefined;
        if (typeof folder === 'string' && this.#unreadable.has(folder)) return; // said once per streak
        if (typeof folder === 'string') this.#unreadable.add(folder);
        this.#report(error);
      },
      dir,
    );
    for (const folder of [dir, ...walk.dirs]) {
      const folderStats = folder === dir ? stats : statSync(folder, { throwIfNoEntry: false });
      const settled =
        folderStats?.isDirectory() &&
        !walk.failed.has(folder) &&
        Math.max(folderStats.mtimeMs, folderStats.ctimeMs) < began;
      this.#folders.set(folder, {
        key: settled && folderStats ? folderKey(folderStats) : '',
        files: new Set(),
        folders: new Set(),
      });
      if (folder !== dir) this.#folders.get(path.dirname(folder))?.folders.add(folder);
      if (!walk.failed.has(folder)) this.#unreadable.delete(folder);
    }
    for (const [file, isLink] of walk.files) {
      if (isLink) this.#links.add(file);
      else this.#links.delete(file);
      if (this.#restamp(file, changes)) this.#folders.get(path.dirname(file))?.files.add(file);
    }
  }

  /** List a folder again: stamp its files, enter new folders, drop what went away. */
  #list(dir: string, folder: Folder, key: string, changes: Changes): void {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') {
        if (dir !== this.#root) this.#dropFolder(dir, changes);
      } else if (!this.#unreadable.has(dir)) {
        // Permission denied: skip it (what was known stays known) and say so once.
        this.#unreadable.add(dir);
        this.#report(unreadable(dir, error));
      }
      return;
    }
    this.#unreadable.delete(dir);
    folder.key = key;
    const files = new Set<string>();
    const folders = new Set<string>();
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (this.#filter.enters(full)) folders.add(full);
      } else if ((entry.isFile() || entry.isSymbolicLink()) && this.#filter.includes(full)) {
        if (entry.isSymbolicLink()) this.#links.add(full);
        else this.#links.delete(full);
        if (this.#restamp(full, changes)) files.add(full);
      }
    }
    for (const file of folder.files) if (!files.has(file)) this.#forget(file, changes);
    for (const child of folder.folders) if (!folders.has(child)) this.#dropFolder(child, changes);
    const entered = folder.folders;
    folder.files = files;
    folder.folders = folders;
    for (const child of folders) if (!entered.has(child) || !this.#folders.has(child)) this.#enter(child, changes);
  }

  /** Stamp one known or candidate file; records what changed. True when it is there. */
  #restamp(file: string, changes: Changes): boolean {
    const stamp = this.#stampOf(file);
    const before = this.#files.get(file);
    if (stamp === null) return before !== undefined; // cannot tell: keep what was known
    if (stamp === SETTLING) {
      this.#settling.add(file);
      return true;
    }
    if (stamp === undefined) {
      if (before !== undefined) this.#forget(file, changes);
      return false;
    }
    if (before === stamp) return true;
    this.#files.set(file, stamp);
    if (before === undefined) {
      this.#orderStale = true;
      // Gone and back within one tick (a folder re-listed after a rename): changed.
      if (changes.removed.delete(file)) changes.changed.add(file);
      else changes.added.add(file);
    } else if (!changes.added.has(file)) {
      changes.changed.add(file);
    }
    return true;
  }

  #forget(file: string, changes: Changes): void {
    this.#settling.delete(file);
    if (!this.#files.delete(file)) return;
    this.#links.delete(file);
    this.#hot.delete(file);
    this.#orderStale = true;
    if (!changes.added.delete(file)) {
      changes.changed.delete(file);
      changes.removed.add(file);
    }
  }

  #dropFolder(dir: string, changes: Changes): void {
    const folder = this.#folders.get(dir);
    if (!folder) return;
    this.#folders.delete(dir);
    this.#unreadable.delete(dir);
    for (const file of folder.files) this.#forget(file, changes);
    for (const child of folder.folders) this.#dropFolder(child, changes);
  }

  /**
   * The file's key; undefined when it is not there (or not to be reported);
   * null when that cannot be told; SETTLING when it is empty and was modified
   * a moment ago.
   */
  #stampOf(file: string): string | undefined | null | typeof SETTLING {
    try {
      const refused = this.#links.has(file) ? outsideRootLink(this.#root, file) : undefined;
      if (refused !== undefined) {
        this.#report(refused);
        return undefined;
      }
      const stats = statSync(file, { throwIfNoEntry: false });
      if (!stats?.isFile()) return undefined;
      if (stats.size === 0 && Date.now() - Math.max(stats.mtimeMs, stats.ctimeMs) < SETTLING_MS) return SETTLING;
      return `${stats.mtimeMs}:${stats.ctimeMs}:${stats.size}:${stats.ino}`;
    } catch (error) {
      // A broken link, a link loop, or a path that went away: not there. Permission denied: unknown.
      return isGone(error) ? undefined : null;
    }
  }

  #heat(file: string, now: number): void {
    this.#hot.delete(file);
    this.#hot.set(file, now);
    if (this.#hot.size > HOT_MAX) this.#hot.delete(this.#hot.keys().next().value as string);
  }

  #report(error: unknown): void {
    if (this.#onError === undefined) return;
    try {
      this.#onError(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // An error handler that throws must not stop the polling.
    }
  }
}

/** Make a {@link PollChangeSource}. */
export function createPollChangeSource(options: PollChangeSourceOptions): PollChangeSource {
  return new PollChangeSource(options);
}

function folderKey(stats: Stats): string {
  return `${stats.mtimeMs}:${stats.ctimeMs}:${stats.ino}`;
}
