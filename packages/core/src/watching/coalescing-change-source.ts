import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { HotMcpError } from '../errors.js';
import { fileStamp, sameMetadata, sameStamp } from '../file-stamp.js';
import type { ChangeBatch, ChangeSource, FileListing, ModuleCompilation } from '../ports/change-source.js';
import { isGone, outsideRootLink, unreadable } from './scan-files.js';

/** The timings of a {@link CoalescingChangeSource}, all in milliseconds. */
export interface CoalesceTimings {
  /**
   * How long the first change after a quiet period waits for company (the
   * rest of an editor's atomic save) before it is delivered. Default 5.
   */
  leadMs?: number;
  /**
   * Changes closer together than this belong to one burst; a burst is
   * delivered once the source has been silent this long. A quiet period is
   * at least this long. Default 100 (more than `@parcel/watcher`'s 50 ms window).
   */
  settleMs?: number;
  /** The longest any change waits while changes keep coming, so writes cannot starve reloads. Default 1000. */
  maxWaitMs?: number;
  /**
   * For this long after a file was delivered, a rewrite of it with the same
   * bytes is delivered again anyway: the consumer may have read it while it
   * was being rewritten. Later, same bytes mean no change. Default `maxWaitMs`.
   */
  sameContentGuardMs?: number;
}

/** Options of {@link CoalescingChangeSource}. */
export interface CoalescingChangeSourceOptions extends CoalesceTimings {
  /** The real, absolute root the wrapped source watches: nothing resolving outside it is delivered. */
  root: string;
}

interface FileRecord {
  /** {@link fileStamp} taken before the content was read; '' when unknown. */
  stamp: string;
  /** sha1 of the bytes delivered last. */
  hash: string;
  /** `performance.now()` when the file was last delivered (or the baseline taken). */
  deliveredAt: number;
}

/** `later`: an empty file, probably being written: looked at again after settleMs. */
type Verdict = 'added' | 'changed' | 'removed' | 'later' | undefined;

const DEFAULTS = { leadMs: 5, settleMs: 100, maxWaitMs: 1000 } as const;
/** More paths than this in the first delivery after quiet, or since the last quiet period: a burst. */
const LEAD_MAX_PATHS = 10;
/** A delivery inside a busy period leads only with this many paths at most (an edit, a rename). */
const FOLLOW_MAX_PATHS = 2;
/** Larger files are not hashed: a new stamp always counts as a change. */
const MAX_HASH_BYTES = 8 * 1024 * 1024;
/** Files are stamped and hashed synchronously in slices of this many ms, yielding in between. */
const SLICE_MS = 20;

/**
 * A ChangeSource decorator that turns any source's raw batches into calm ones:
 *
 * - A lone change after a quiet period is delivered `leadMs` after it arrives.
 * - So is a change of one or two files arriving once the previous delivery is
 *   out, when that delivery led with one or two files too and the changes since
 *   the last quiet period touched at most ten files: edits made one after
 *   another (the next as soon as the previous one is seen) are each delivered
 *   at once, while what follows the first paths of a checkout waits for the rest.
 * - Otherwise changes arriving less than `settleMs` apart form a burst,
 *   delivered once the source has been silent for `settleMs` (and never later
 *   than `maxWaitMs` after its first change): an atomic save or a 300-file
 *   checkout becomes one batch, at most two (the lead and the rest).
 * - Every path is re-checked on disk when the batch is delivered, so what a
 *   file went through in between does not matter: removed then re-created is
 *   `changed`, created then removed is nothing, a file still being written is
 *   delivered again once its last write lands. An empty file (an editor's
 *   save truncates before it writes) is held until it has been seen empty for
 *   `settleMs`, measured from this source's first look, so a writer the
 *   machine delays is not reported as an emptied module.
 * - Content is hashed (sha1; the baseline is hashed at start): duplicate
 *   events and rewrites with identical bytes produce nothing.
 * - A file that cannot be read (permission denied) is reported through
 *   `onError` and not delivered until it can be.
 */
export class CoalescingChangeSource implements ChangeSource {
  /** The wrapped source. */
  readonly source: ChangeSource;
  readonly #root: string;
  readonly #leadMs: number;
  readonly #settleMs: number;
  readonly #maxWaitMs: number;
  readonly #guardMs: number;

  readonly #records = new Map<string, FileRecord>();
  /** When each file now empty was first seen empty (`performance.now()`), until it is delivered. */
  readonly #emptySince = new Map<string, number>();
  #pending = new Set<string>();
  #mode: 'lead' | 'burst' = 'lead';
  /** The most paths the pending delivery may hold and still lead. */
  #leadLimit = LEAD_MAX_PATHS;
  #firstPendingAt = 0;
  #lastEventAt = Number.NEGATIVE_INFINITY;
  /** Paths seen since the source was last quiet for `settleMs`. */
  #touched = new Set<string>();
  /** The newest compilation the wrapped source gave of each pending file (`ChangeBatch.compiled`), passed on. */
  #compiled = new Map<string, ModuleCompilation>();
  /** The last delivery led with at most FOLLOW_MAX_PATHS files (an edit): what follows it may lead too. */
  #leadWasEdit = false;
  /** Flushes scheduled and not finished. */
  #flushing = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The flush the timer handed to the next turn of the event loop. */
  #deferred: NodeJS.Immediate | undefined;
  /** Flushes run one after another, in order. */
  #chain: Promise<void> = Promise.resolve();
  /** Resolves when the baseline is hashed; flushes wait for it. */
  #ready: Promise<void> = Promise.resolve();
  #generation = 0;
  #running = false;
  #onBatch: ((batch: ChangeBatch) => void) | undefined;
  #onError: ((error: Error) => void) | undefined;

  constructor(source: ChangeSource, options: CoalescingChangeSourceOptions) {
    if (typeof options?.root !== 'string' || !path.isAbsolute(options.root)) {
      throw new HotMcpError('HOTMCP_ERR_BAD_OPTION', `coalescing: root must be an absolute path, got ${options?.root}`);
    }
    this.source = source;
    this.#root = path.resolve(options.root);
    const timings = resolveCoalesceTimings(options);
    this.#leadMs = timings.leadMs;
    this.#settleMs = timings.settleMs;
    this.#maxWaitMs = timings.maxWaitMs;
    this.#guardMs = timings.sameContentGuardMs;
  }

  /**
   * Start the wrapped source and hash its baseline. Resolves with the
   * baseline files that can be read (unreadable ones are reported and left
   * out until they can be read).
   */
  async start(onBatch: (batch: ChangeBatch) => void, onError?: (error: Error) => void): Promise<readonly string[]> {
    if (this.#running) throw new HotMcpError('HOTMCP_ERR_WATCHER_FAILED', 'the change source is already started');
    this.#running = true;
    const generation = ++this.#generation;
    this.#onBatch = onBatch;
    this.#onError = onError;
    this.#records.clear();
    this.#emptySince.clear();
    this.#touched.clear();
    this.#lastEventAt = Number.NEGATIVE_INFINITY;
    let markReady!: () => void;
    this.#ready = new Promise<void>((resolve) => {
      markReady = resolve;
    });
    try {
      const baseline = await this.source.start(
        (batch) => this.#receive(generation, batch),
        (error) => {
          if (generation === this.#generation) this.#report(error);
        },
      );
      return await this.#hashBaseline(generation, baseline);
    } catch (error) {
      if (generation === this.#generation) this.#running = false;
      throw error;
    } finally {
      markReady();
    }
  }

  /** Stop the wrapped source; pending changes are dropped. Idempotent. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#generation++;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#deferred !== undefined) clearImmediate(this.#deferred);
    this.#deferred = undefined;
    this.#pending = new Set();
    this.#compiled.clear();
    await this.source.stop();
    await this.#chain;
  }

  /** Warm up the wrapped source (see {@link ChangeSource.warmUp}). */
  warmUp(): void {
    try {
      this.source.warmUp?.();
    } catch {} // its start says what fails
  }

  /** The wrapped source's listing (a rescan is not coalesced: it is the engine's own look at the disk). */
  rescan(): FileListing {
    return this.source.rescan();
  }

  /** The wrapped source's stamp of `file`. */
  stamp(file: string): string {
    return this.source.stamp(file);
  }

  #receive(generation: number, batch: ChangeBatch): void {
    if (generation !== this.#generation) return;
    const now = performance.now();
    const quiet = now - this.#lastEventAt >= this.#settleMs;
    if (quiet) this.#touched.clear();
    this.#lastEventAt = now;
    const wasEmpty = this.#pending.size === 0;
    for (const list of [batch.added, batch.changed, batch.removed]) {
      for (const file of list) {
        this.#pending.add(file);
        this.#touched.add(file);
        this.#compiled.delete(file);
      }
    }
    for (const [file, compilation] of Object.entries(batch.compiled ?? {})) this.#compiled.set(file, compilation);
    if (this.#pending.size === 0) return;
    // After quiet, up to LEAD_MAX_PATHS files lead. Inside a busy period, an edit or two arriving
    // once the previous delivery (an edit or two itself) is out lead too (edits one after another),
    // as long as few files were touched since the last quiet period, and the source does not say
    // more of a burst is coming. Anything else is a burst: it waits for silence.
    if (wasEmpty) {
      this.#firstPendingAt = now;
      this.#leadLimit = quiet ? LEAD_MAX_PATHS : FOLLOW_MAX_PATHS;
      this.#mode = quiet || (this.#flushing === 0 && this.#leadWasEdit) ? 'lead' : 'burst';
    }
    if (batch.burst || this.#pending.size > this.#leadLimit || this.#touched.size > LEAD_MAX_PATHS) {
      this.#mode = 'burst';
    }
    const due = Math.min(
      this.#mode === 'lead' ? this.#firstPendingAt + this.#leadMs : now + this.#settleMs,
      this.#firstPendingAt + this.#maxWaitMs,
    );
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#deferred !== undefined) clearImmediate(this.#deferred);
    this.#deferred = undefined;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        // Timers run before the events the OS has ready: when the thread was busy past the due time
        // (applying the previous batch), those events are part of this burst. One turn of the event
        // loop lets them in first (a `#receive` then reschedules); then the pending files go. The
        // immediate is not unref()'d: an unref()'d one does not keep the loop from waiting in its poll
        // phase, so the batch went out only when something else woke the process (the native
        // watcher's 500 ms root check, a client's request): 190–490 ms for a lone edit seen by a
        // client that waits for list_changed. It runs once, so it keeps nothing alive.
        this.#deferred = setImmediate(() => {
          this.#deferred = undefined;
          const files = this.#pending;
          const compiled = this.#compiled;
          this.#pending = new Set();
          this.#compiled = new Map();
          this.#leadWasEdit = this.#mode === 'lead' && files.size <= FOLLOW_MAX_PATHS;
          this.#flushing++;
          this.#chain = this.#chain
            .then(() => this.#flush(generation, files, compiled))
            .finally(() => {
              this.#flushing--;
            });
        });
      },
      Math.max(0, due - now),
    ).unref(); // a pending batch never keeps the process alive on its own
  }

  async #flush(generation: number, files: Set<string>, compiled: Map<string, ModuleCompilation>): Promise<void> {
    await this.#ready;
    const batch: ChangeBatch = { added: [], changed: [], removed: [] };
    const later: string[] = [];
    let sliceStart = performance.now();
    for (const file of files) {
      if (performance.now() - sliceStart > SLICE_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
      if (generation !== this.#generation) return;
      const verdict = this.#settle(file, false);
      if (verdict === 'later') later.push(file);
      else if (verdict !== undefined) batch[verdict].push(file);
    }
    if (later.length > 0) this.#receive(generation, { added: [], changed: later, removed: [] });
    if (batch.added.length + batch.changed.length + batch.removed.length === 0) return;
    for (const list of [batch.added, batch.changed, batch.removed]) list.sort();
    const given = [...batch.added, ...batch.changed].flatMap((file) => {
      const compilation = compiled.get(file);
      return compilation ? [[file, compilation] as const] : [];
    });
    if (given.length > 0) batch.compiled = Object.fromEntries(given);
    try {
      this.#onBatch?.(batch);
    } catch (error) {
      this.#report(error);
    }
  }

  /**
   * What happened to `file` since it was last delivered, judged from the disk
   * now (synchronously: faster than the promise API, and off libuv's pool).
   * The stat is taken before the bytes are read, so a write in between makes
   * the next event look again rather than pass for a duplicate.
   */
  #settle(file: string, baseline: boolean): Verdict {
    const record = this.#records.get(file);
    try {
      const link = lstatSync(file);
      const refused = link.isSymbolicLink() ? outsideRootLink(this.#root, file) : undefined;
      if (refused !== undefined) {
        this.#report(refused);
        return this.#gone(file);
      }
      const stats = link.isSymbolicLink() ? statSync(file) : link;
      if (!stats.isFile()) return this.#gone(file);
      if (!baseline && stats.size === 0) {
        const now = performance.now();
        const since = this.#emptySince.get(file) ?? now;
        this.#emptySince.set(file, since);
        if (now - since < this.#settleMs || since === now) return 'later';
      }
      this.#emptySince.delete(file);
      const stamp = fileStamp(stats);
      if (record && sameStamp(record.stamp, stamp)) return undefined;
      return this.#judge(file, record, stamp, stats.size > MAX_HASH_BYTES ? undefined : readFileSync(file));
    } catch (error) {
      if (isGone(error)) return this.#gone(file);
      this.#unreadable(file, error);
      return undefined;
    }
  }

  #judge(file: string, record: FileRecord | undefined, stamp: string, content: Buffer | undefined): Verdict {
    const now = performance.now();
    const hash = content ? createHash('sha1').update(content).digest('base64') : `unhashed:${stamp}:${now}`;
    if (!record) {
      this.#records.set(file, { stamp, hash, deliveredAt: now });
      return 'added';
    }
    const sameBytes = record.hash === hash;
    const untouched = sameMetadata(record.stamp, stamp);
    record.stamp = stamp;
    // Same bytes: nothing to deliver, unless the file was rewritten so soon after the
    // last delivery that the consumer may have read it half-written.
    if (sameBytes && (untouched || now - record.deliveredAt >= this.#guardMs)) return undefined;
    record.hash = hash;
    record.deliveredAt = now;
    return 'changed';
  }

  #gone(file: string): Verdict {
    this.#emptySince.delete(file);
    return this.#records.delete(file) ? 'removed' : undefined;
  }

  #unreadable(file: string, error: unknown): void {
    // Keep what was delivered last; the next event for the file checks it again.
    const record = this.#records.get(file);
    if (record) record.stamp = '';
    this.#report(unreadable(file, error));
  }

  /** Stamp and hash every baseline file, in short synchronous slices. Returns those that can be read. */
  async #hashBaseline(generation: number, files: readonly string[]): Promise<string[]> {
    const kept: string[] = [];
    let sliceStart = performance.now();
    for (const file of files) {
      if (performance.now() - sliceStart > SLICE_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        if (generation !== this.#generation) return kept;
        sliceStart = performance.now();
      }
      if (this.#settle(file, true) === 'added') kept.push(file);
    }
    return kept;
  }

  #report(error: unknown): void {
    try {
      this.#onError?.(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // An error handler that throws must not stop the watching.
    }
  }
}

/** Wrap `source` in a {@link CoalescingChangeSource}. */
export function createCoalescingChangeSource(
  source: ChangeSource,
  options: CoalescingChangeSourceOptions,
): CoalescingChangeSource {
  return new CoalescingChangeSource(source, options);
}

/** The timings with their defaults filled in; throws `HOTMCP_ERR_BAD_OPTION` for a bad one. */
export function resolveCoalesceTimings(timings: CoalesceTimings): Required<CoalesceTimings> {
  const check = (name: keyof CoalesceTimings, value: unknown): number => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new HotMcpError(
        'HOTMCP_ERR_BAD_OPTION',
        `coalesce: ${name} must be a finite number >= 0, got ${String(value)}`,
      );
    }
    return value;
  };
  const maxWaitMs = check('maxWaitMs', timings.maxWaitMs ?? DEFAULTS.maxWaitMs);
  return {
    leadMs: check('leadMs', timings.leadMs ?? DEFAULTS.leadMs),
    settleMs: check('settleMs', timings.settleMs ?? DEFAULTS.settleMs),
    maxWaitMs,
    sameContentGuardMs: check('sameContentGuardMs', timings.sameContentGuardMs ?? maxWaitMs),
  };
}
