import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { afterEach, expect, it } from 'vitest';
import { RECLAIM_AFTER_BYTES, RECLAIM_QUIET_MS, reclaimAfterReloads } from './memory.js';

/** Past the quiet time after which the check runs. */
const quiet = () => new Promise((resolve) => setTimeout(resolve, RECLAIM_QUIET_MS + 20));
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
  await quiet();
  reclaimAfterReloads(); // no growth: nothing collected
  await quiet();
  await delivered();
  expect(forcedMajorGcs).toEqual([]);

  // Resident memory beyond the limit (touched pages), held until the check has run.
  let held: Buffer[] | undefined = [];
  for (let i = 0; i < 8; i++) held.push(Buffer.alloc(Math.ceil(RECLAIM_AFTER_BYTES / 4), 1));
  reclaimAfterReloads();
  reclaimAfterReloads(); // called again before the quiet time: one check, once quiet
  await new Promise((resolve) => setTimeout(resolve, RECLAIM_QUIET_MS / 5));
  await delivered();
  expect(forcedMajorGcs).toEqual([]);
  await quiet();
  await delivered();
  expect(forcedMajorGcs.length).toBeGreaterThanOrEqual(1);
  expect(held).toHaveLength(8);
  held = undefined;
});
