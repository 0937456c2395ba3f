import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { afterEach, expect, it } from 'vitest';
import { RECLAIM_AFTER_BYTES, reclaimAfterReloads } from './memory.js';

const turn = () => new Promise((resolve) => setImmediate(resolve));
const forcedMajorGcs: number[] = [];
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const { kind, flags } = (entry as PerformanceEntry & { detail: { kind: number; flags: number } }).detail;
    if (kind === constants.NODE_PERFORMANCE_GC_MAJOR && flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) {
      forcedMajorGcs.push(entry.startTime);
    }
  }
});
observer.observe({ entryTypes: ['gc'] });
afterEach(() => {
  forcedMajorGcs.length = 0;
});

/** Wait for the GC entries of the last turns to be delivered. */
const delivered = () => new Promise((resolve) => setTimeout(resolve, 50));

it('collects once the reloads are done only when the process RSS grew past the limit since the last time', async () => {
  reclaimAfterReloads(); // the first call takes the process's RSS as its floor
  await turn();
  reclaimAfterReloads(); // no growth: nothing collected
  await turn();
  await delivered();
  expect(forcedMajorGcs).toEqual([]);

  // Resident memory beyond the limit (touched pages), then let go.
  let held: Buffer[] | undefined = [];
  for (let i = 0; i < 8; i++) held.push(Buffer.alloc(Math.ceil(RECLAIM_AFTER_BYTES / 4), 1));
  reclaimAfterReloads();
  reclaimAfterReloads(); // called twice in a turn: one check
  held = undefined;
  await turn();
  await delivered();
  expect(forcedMajorGcs.length).toBeGreaterThanOrEqual(1);
});
