import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { afterEach, expect, it, vi } from 'vitest';
import { heapGrowthFlag, RECLAIM_AFTER_BYTES, Reclaimer, type ReclaimReport, reclaimAfterReloads } from './memory.js';

const MB = 1024 * 1024;
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

it('collects with a real full GC once the reloads are done, only when the RSS grew past the limit since the last time', async () => {
  // The RSS is made up (what a real one does depends on what malloc reuses); the collection is V8's own.
  let rss = 200 * MB;
  const reclaimer = new Reclaimer({ rss: () => rss });
  const reports: ReclaimReport[] = [];
  const check = async () => {
    reclaimer.reclaimAfterReloads((report) => reports.push(report));
    await turn();
  };
  await check(); // the first check takes the RSS as its floor
  await check(); // no growth: nothing collected
  rss += RECLAIM_AFTER_BYTES - 1;
  await check();
  await delivered();
  expect(forcedMajorGcs).toEqual([]);
  expect(reports).toEqual([]);

  rss += 1;
  reclaimer.reclaimAfterReloads((report) => reports.push(report));
  reclaimer.reclaimAfterReloads((report) => reports.push(report)); // called twice in a turn: one check
  await turn();
  await vi.waitFor(() => expect(forcedMajorGcs.length).toBeGreaterThanOrEqual(1));
  expect(reports).toEqual([
    { rssBefore: 200 * MB + RECLAIM_AFTER_BYTES, kind: 'full', durationMs: expect.any(Number) },
  ]);
});

it('is what the process uses: its first check takes the RSS as its floor and collects nothing', async () => {
  reclaimAfterReloads();
  await turn();
  await delivered();
  expect(forcedMajorGcs).toEqual([]);
});

/** A reclaimer reading a made-up RSS, with the collections it asks for. */
function reclaimerOf(options: { lastResort: boolean }) {
  const state = { rss: 200 * MB, gcs: [] as Array<'full' | 'last-resort'> };
  const reclaimer = new Reclaimer({
    rss: () => state.rss,
    gc:
      () =>
      (...args: unknown[]) => {
        // A full GC is gc() with no argument: V8 12 and later take gc(undefined) for a minor one.
        state.gcs.push(args.length === 0 ? 'full' : 'last-resort');
      },
    lastResort: options.lastResort,
  });
  const check = async () => {
    reclaimer.reclaimAfterReloads();
    await turn();
  };
  return { state, reclaimer, check };
}
it('counts only what grew while reloading: memory taken between reloads is not collected after the next one', async () => {
  const { state, reclaimer, check } = reclaimerOf({ lastResort: false });
  await check(); // the first check takes the RSS as its floor

  state.rss += 2 * RECLAIM_AFTER_BYTES; // sessions opened between reloads: the server's
  reclaimer.reloadsStarting();
  state.rss += MB;
  await check();
  expect(state.gcs).toEqual([]);

  // Two runs of reloads that grow it by more than the limit between them, with the server's growth between.
  reclaimer.reloadsStarting();
  state.rss += RECLAIM_AFTER_BYTES / 2;
  await check();
  expect(state.gcs).toEqual([]);
  state.rss += 3 * RECLAIM_AFTER_BYTES;
  reclaimer.reloadsStarting();
  state.rss += RECLAIM_AFTER_BYTES / 2;
  await check();
  expect(state.gcs).toEqual(['full']);

  // What the collection left is read at the next check; counting starts again from there.
  state.rss -= RECLAIM_AFTER_BYTES;
  reclaimer.reloadsStarting();
  await check();
  reclaimer.reloadsStarting();
  state.rss += RECLAIM_AFTER_BYTES - MB;
  await check();
  expect(state.gcs).toEqual(['full']);
});

it("counts all growth between two checks as the reloads' when nobody said when they started", async () => {
  const { state, check } = reclaimerOf({ lastResort: false });
  await check();
  state.rss += RECLAIM_AFTER_BYTES;
  await check();
  expect(state.gcs).toEqual(['full']);
});

it('gives back the pages V8 keeps with a last-resort collection when a full one left the RSS far above the last floor', async () => {
  for (const lastResort of [true, false]) {
    const { state, reclaimer, check } = reclaimerOf({ lastResort });
    await check();
    reclaimer.reloadsStarting();
    state.rss += 3 * RECLAIM_AFTER_BYTES;
    await check();
    expect(state.gcs).toEqual(['full']);
    state.rss -= RECLAIM_AFTER_BYTES; // the full collection freed a third; V8 keeps the rest of the pages
    await check();
    expect(state.gcs).toEqual(lastResort ? ['full', 'last-resort'] : ['full']);
    if (!lastResort) continue;
    state.rss -= 2 * RECLAIM_AFTER_BYTES; // what the last-resort one left is the new floor
    await check();
    reclaimer.reloadsStarting();
    state.rss += RECLAIM_AFTER_BYTES;
    await check();
    state.rss -= RECLAIM_AFTER_BYTES / 2;
    await check();
    expect(state.gcs).toEqual(['full', 'last-resort', 'full']);
  }
});

it('limits the heap growth factor unless the process chose its own', () => {
  expect(heapGrowthFlag('--enable-source-maps ')).toBe('--heap-growing-percent=50');
  expect(heapGrowthFlag('--heap-growing-percent=20 server.js')).toBeUndefined();
  expect(heapGrowthFlag(' --heap_growing_percent=80')).toBeUndefined();
});
