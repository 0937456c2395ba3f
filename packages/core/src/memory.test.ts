import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { afterEach, expect, it, vi } from 'vitest';
import { RECLAIM_AFTER_BYTES, Reclaimer, reclaimAfterReloads } from './memory.js';

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

/** A reclaimer reading a made-up RSS, with the collections it asks for. */
function reclaimerOf(options: { lastResort: boolean }) {
  const state = { rss: 200 * MB, gcs: [] as Array<'full' | 'last-resort'> };
  const reclaimer = new Reclaimer({
    rss: () => state.rss,
    gc: () => (flavour?: object) => {
      state.gcs.push(flavour === undefined ? 'full' : 'last-resort');
    },
    lastResort: options.lastResort,
  });
  const check = async () => {
    reclaimer.reclaimAfterReloads();
    await turn();
  };
  return { state, reclaimer, check };
}
const MB = 1024 * 1024;

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
