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
 * Growth of the process's resident memory, since the last collection, after
 * which the main thread collects once its reloads are done.
 */
export const RECLAIM_AFTER_BYTES = 24 * 1024 * 1024;
/** V8 12 and later (Node 22 and later) take a last-resort flavour, which also gives back the pages V8 keeps for reuse. */
const LAST_RESORT =
  Number(process.versions.v8.split('.')[0]) >= 12
    ? { type: 'major', execution: 'sync', flavor: 'last-resort' }
    : undefined;

let gc: ((options?: object) => void) | undefined | null = null;
/** The process's RSS after the last collection (or when first asked). */
let mark: number | undefined;
/** The process's RSS after the last last-resort collection (or when first asked). */
let floor = 0;
let scheduled = false;

/**
 * Once the reloads queued are done: when the process's RSS has grown by more
 * than {@link RECLAIM_AFTER_BYTES} since the last collection, collect the
 * main thread's garbage. Each reload compiles and evaluates a new version of
 * its modules and lets the old one go; under a fast pace of edits V8 lets that
 * garbage pile up for tens of MB (over a hundred on Node 24) before it
 * collects it. A full GC takes a few ms to a few tens of ms. On Node 22 and
 * later V8 also keeps the pages it freed, for reuse, until a memory-reducing
 * GC, which never runs while edits keep coming: when a full GC leaves the RSS
 * more than the limit above what the last last-resort GC left, a last-resort
 * GC (slower: several full GCs) gives them back. A server that does not reload
 * never gets here.
 */
export function reclaimAfterReloads(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(() => {
    scheduled = false;
    const rss = process.memoryUsage.rss();
    if (mark === undefined) {
      mark = floor = rss;
      return;
    }
    if (rss - mark < RECLAIM_AFTER_BYTES) {
      if (rss < mark) mark = rss;
      return;
    }
    if (gc === null) gc = exposeGc();
    if (gc === undefined) return;
    gc();
    mark = process.memoryUsage.rss();
    if (LAST_RESORT && mark - floor >= RECLAIM_AFTER_BYTES) {
      gc(LAST_RESORT);
      mark = floor = process.memoryUsage.rss();
    } else if (mark < floor) floor = mark;
  }).unref();
}
