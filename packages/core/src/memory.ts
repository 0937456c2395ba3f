import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * This thread's full GC, or undefined where V8 refuses it. Taken from a
 * context of its own created with `--expose-gc` on for that moment (V8's flags
 * are the process's: it is turned off again at once, unless the process was
 * started with it).
 */
export function exposeGc(): ((options?: object) => void) | undefined {
  const own = (globalThis as { gc?: () => void }).gc;
  if (typeof own === 'function') return own;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/**
 * Growth of the process's resident memory while reloading, since the last
 * collection, after which the main thread collects once its reloads are done.
 */
export const RECLAIM_AFTER_BYTES = 24 * 1024 * 1024;
/** V8 12 and later (Node 22 and later) take a last-resort flavour, which also gives back the pages V8 keeps for reuse. */
const LAST_RESORT = { type: 'major', execution: 'sync', flavor: 'last-resort' };
const HAS_LAST_RESORT = Number(process.versions.v8.split('.')[0]) >= 12;

/** What a collection reports: the RSS it started from, its kind, and how long the main thread was paused. */
export interface ReclaimReport {
  rssBefore: number;
  kind: 'full' | 'last-resort';
  durationMs: number;
}

/** What a {@link Reclaimer} reads and calls: the process's by default; tests give their own. */
export interface ReclaimerOptions {
  /** The resident set size now, in bytes. */
  rss?: () => number;
  /** A full GC (`options` picks the last-resort flavour), or undefined where there is none. */
  gc?: () => ((options?: object) => void) | undefined;
  /** Whether V8 has a last-resort GC flavour (V8 12 and later). */
  lastResort?: boolean;
}

/**
 * The bookkeeping of {@link reclaimAfterReloads} and {@link reloadsStarting}:
 * the process has one (those two functions), tests make their own.
 */
export class Reclaimer {
  readonly #rss: () => number;
  readonly #exposeGc: () => ((options?: object) => void) | undefined;
  readonly #lastResort: object | undefined;
  #gc: ((options?: object) => void) | undefined | null = null;
  /** The process's RSS once the last collection settled (or when first asked), lowered as V8's own GCs lower it. */
  #mark: number | undefined;
  /** The process's RSS once the last last-resort collection settled (or when first asked). */
  #floor = 0;
  /** The kind of the last collection, until its result is read at the next check. */
  #settling: 'full' | 'last-resort' | undefined;
  #scheduled = false;
  /** The process's RSS when the reloads now running started, when {@link reloadsStarting} said so. */
  #startedAt: number | undefined;
  /** RSS growth of the reloads since the last collection (what grew between them is not theirs). */
  #grown = 0;

  constructor(options: ReclaimerOptions = {}) {
    this.#rss = options.rss ?? (() => process.memoryUsage.rss());
    this.#exposeGc = options.gc ?? exposeGc;
    this.#lastResort = (options.lastResort ?? HAS_LAST_RESORT) ? LAST_RESORT : undefined;
  }

  /** See {@link reloadsStarting}. */
  reloadsStarting(): void {
    this.#startedAt ??= this.#rss();
  }

  /** See {@link reclaimAfterReloads}. */
  reclaimAfterReloads(report?: (fields: ReclaimReport) => void): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // Not unref()'d: an unref()'d immediate waits for the next thing that wakes the process (a client's
    // request, which a full GC would then delay); this one runs right after the reloads, once.
    setImmediate(() => {
      this.#scheduled = false;
      this.#check(report);
    });
  }

  #check(report: ((fields: ReclaimReport) => void) | undefined): void {
    const rss = this.#rss();
    const since = this.#startedAt;
    this.#startedAt = undefined;
    if (this.#mark === undefined) {
      this.#mark = this.#floor = rss;
      return;
    }
    const collect = (kind: 'full' | 'last-resort') => {
      if (this.#gc === null) this.#gc = this.#exposeGc();
      if (this.#gc === undefined) return;
      const started = performance.now();
      // gc() with no argument: V8 12 and later take gc(undefined) for a minor (young generation) GC.
      if (kind === 'last-resort') this.#gc(this.#lastResort);
      else this.#gc();
      this.#settling = kind;
      report?.({ rssBefore: rss, kind, durationMs: Math.round(performance.now() - started) });
    };
    if (this.#settling !== undefined) {
      const kind = this.#settling;
      this.#settling = undefined;
      this.#mark = rss;
      this.#grown = 0;
      if (kind === 'last-resort' || rss < this.#floor) this.#floor = rss;
      else if (this.#lastResort && rss - this.#floor >= RECLAIM_AFTER_BYTES) collect('last-resort');
      return;
    }
    // Growth between reloads (sessions opened, requests served) is the server's, not garbage of replaced
    // versions: collecting it right after a reload would pause the main thread just when clients call the
    // new version, for nothing to reclaim.
    if (since === undefined) this.#grown = rss - this.#mark;
    else this.#grown += Math.max(0, rss - since);
    if (rss < this.#mark) this.#mark = rss;
    if (this.#grown >= RECLAIM_AFTER_BYTES) collect('full');
  }
}

const processReclaimer = new Reclaimer();

/**
 * The factor by which V8 lets the old generation grow past what its last
 * full GC left before it collects again, for a process that reloads: by
 * default V8 picks up to 4x for a small, fast-allocating heap, and the
 * versions reloads replace (with the requests served meanwhile) pile up to
 * that before they are collected. Over 1,000 reloads of a 50 KB module the
 * HTTP example's RSS as it stood was 28-92 MB above its start on Node 20
 * (six runs), 17-26 MB at 1.5x (six runs, alternating, same machine;
 * bench/example-memory.mjs with the flag on the command line). Undefined
 * (V8's own choice is kept) when the process was started with its own
 * `--heap-growing-percent`.
 */
export function heapGrowthFlag(nodeOptions: string): string | undefined {
  return /heap[-_]growing[-_]percent/.test(nodeOptions) ? undefined : '--heap-growing-percent=50';
}

const heapGrowth = heapGrowthFlag(`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`);

/**
 * Reloads start: what the process's RSS grows by from here until the next
 * {@link reclaimAfterReloads} check is theirs. A process that never says so
 * has all its growth between two checks counted as the reloads'.
 */
export function reloadsStarting(): void {
  processReclaimer.reloadsStarting();
}

/**
 * Once the reloads queued are done: when the process's RSS has grown by more
 * than {@link RECLAIM_AFTER_BYTES} since the last collection while reloading
 * (from each {@link reloadsStarting} to the check that follows it), collect
 * the main thread's garbage. Each reload compiles and evaluates a new version of
 * its modules and lets the old one go; under a fast pace of edits V8 lets that
 * garbage pile up for tens of MB (over a hundred on Node 24) before it
 * collects it. A full GC takes a few ms to a few tens of ms. On Node 22 and
 * later V8 also keeps the pages it freed, for reuse, until a memory-reducing
 * GC, which never runs while edits keep coming: when what a full GC left is
 * still more than the limit above what the last last-resort GC left, a
 * last-resort GC (slower: several full GCs) gives them back. What a
 * collection left is read at the next check, once V8 has swept and unmapped
 * in the background what it freed. A server that does not reload never gets
 * here. After the first drain (a start-up's load), V8's heap growth factor
 * is 1.5 ({@link heapGrowthFlag}).
 */
export function reclaimAfterReloads(report?: (fields: ReclaimReport) => void): void {
  // After the reloads, so a start-up's load runs with V8's own growth. V8's flags are the process's; set after
  // every drain (about 10 µs).
  if (heapGrowth !== undefined) setFlagsFromString(heapGrowth);
  processReclaimer.reclaimAfterReloads(report);
}
