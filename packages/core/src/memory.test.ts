import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { afterEach, expect, it, vi } from 'vitest';
import { RECLAIM_AFTER_BYTES, reclaimAfterReloads, reloadsStarting } from './memory.js';

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

  // Resident memory beyond the limit (touched pages), held until the check has run: let go before
  // it, V8's own collection may free it first (it did on a loaded machine) and nothing is left to collect.
  let held: Buffer[] | undefined = [];
  for (let i = 0; i < 8; i++) held.push(Buffer.alloc(Math.ceil(RECLAIM_AFTER_BYTES / 4), 1));
  reclaimAfterReloads();
  reclaimAfterReloads(); // called twice in a turn: one check
  await turn();
  await vi.waitFor(() => expect(forcedMajorGcs.length).toBeGreaterThanOrEqual(1), { timeout: 20_000 });
  expect(held).toHaveLength(8);
  held = undefined;
}, 30_000);

it('counts only what grew while reloading: memory taken between reloads is not collected after the next one', async () => {
  // What the last collection left is read first (that check may collect on its own account).
  reclaimAfterReloads();
  await turn();
  await delivered();
  forcedMajorGcs.length = 0;

  // Taken between reloads (sessions opened, say): the server's, not garbage of replaced versions.
  let between: Buffer[] | undefined = [];
  for (let i = 0; i < 8; i++) between.push(Buffer.alloc(Math.ceil(RECLAIM_AFTER_BYTES / 4), 1));
  reloadsStarting();
  reclaimAfterReloads();
  await turn();
  await delivered();
  expect(forcedMajorGcs).toEqual([]);

  // Taken while reloading: collected once the reloads are done. Twice the limit: what V8 frees meanwhile
  // (the first test's buffers, say) lowers the RSS the reload is measured by.
  let during: Buffer[] | undefined = [];
  reloadsStarting();
  for (let i = 0; i < 16; i++) during.push(Buffer.alloc(Math.ceil(RECLAIM_AFTER_BYTES / 4), 1));
  reclaimAfterReloads();
  await turn();
  await vi.waitFor(() => expect(forcedMajorGcs.length).toBeGreaterThanOrEqual(1), { timeout: 20_000 });
  expect(between).toHaveLength(8);
  expect(during).toHaveLength(16);
  between = undefined;
  during = undefined;
}, 30_000);
