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
const lastResort = Number(process.versions.v8.split('.')[0]) >= 12;

let gc: ((options?: object) => void) | undefined | null = null;
/** The process's RSS after the last collection (or when first asked). */
let floor: number | undefined;
let scheduled = false;

/**
 * Once the reloads queued are done: when the process's RSS has grown by more
 * than {@link RECLAIM_AFTER_BYTES} since the last time, collect the main
 * thread's garbage (a last-resort GC where V8 has it, giving back the pages
 * it pools too). Each reload compiles and evaluates a new version of its
 * modules and lets the old one go; under a fast pace of edits V8 lets that
 * garbage, and the pages it frees, pile up for tens of MB before it collects
 * or returns them (on Node 24, pooled pages only go back after a memory-reducing
 * GC, which never runs while the edits keep coming). A server that does not
 * reload never gets here; one that does pays one pause every few dozen reloads.
 */
export function reclaimAfterReloads(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(() => {
    scheduled = false;
    const rss = process.memoryUsage.rss();
    if (floor === undefined || rss < floor) {
      floor = rss;
      return;
    }
    if (rss - floor < RECLAIM_AFTER_BYTES) return;
    if (gc === null) gc = exposeGc();
    if (gc === undefined) return;
    gc(lastResort ? { type: 'major', execution: 'sync', flavor: 'last-resort' } : undefined);
    floor = process.memoryUsage.rss();
  }).unref();
}
