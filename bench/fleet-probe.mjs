// The publishing side of bench/fleet.mjs, in a thread of its own: publish each batch and time it until a probe
// session of every replica gets the new result. Its own event loop and heap keep the measurement clear of the
// background traffic the main thread drives (300 sessions' calls and streams, and their garbage collections):
// what is timed is the fleet's, not the bench client's own queue.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { publishToFleet } from '../examples/fleet/dist/fleet.js';
import { connectV1 } from '../examples/http-sessions/dist/harness.js';
import { precompileModule } from '../packages/core/dist/index.js';

const { origins, redisUrl, stream, dir, template, first, batches, paceMs, compile, settleMs } = workerData;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const redis = new Redis(redisUrl);
const probes = await Promise.all(origins.map((origin) => connectV1(origin)));

/** Wait until the probe session of every replica gets `expected`; resolves with the time each did. */
async function servedEverywhere(expected, t0) {
  return Promise.all(
    probes.map(async (probe) => {
      for (;;) {
        if ((await probe.callText('echo', { text: 'x' })) === expected) return performance.now() - t0;
      }
    }),
  );
}

// A publisher that stays up (a deploy service) is warm after its first publish: one of the folder as it is
// (it sends nothing: the fleet has it), untimed, starts its compiler and runs its code once, as a replica's start
// does for its own. Its time is reported (a one-off publish from the CLI pays it, beside starting Node).
const warmUpStarted = performance.now();
const warm = await publishToFleet(redisUrl, stream, dir, { redis, compile });
if (warm.id !== undefined) throw new Error('the warm-up publish sent an entry: the folder is not what the fleet has');
if (compile) await precompileModule(path.join(dir, 'echo.ts'), template); // what that publish started, finished
const publisherWarmUpMs = performance.now() - warmUpStarted;

// The sessions were all opened a moment ago: let the fleet serve them for a while first (see fleet.mjs, SETTLE_MS).
await sleep(settleMs);

const latencies = [];
const published = []; // per batch: epoch ms at publish(), the entry id, and when each replica served it
for (let batch = first; batch < first + batches; batch++) {
  writeFileSync(path.join(dir, 'echo.ts'), template.replace('__VERSION__', `v${batch}`));
  const at = Date.now();
  const t0 = performance.now();
  const { id } = await publishToFleet(redisUrl, stream, dir, { redis, compile });
  const times = await servedEverywhere(`v${batch}: x`, t0);
  latencies.push(Math.max(...times));
  published.push({ at, id, served: times.map((time) => at + time) });
  await sleep(paceMs);
}
await Promise.all(probes.map((probe) => probe.close().catch(() => {})));
redis.disconnect();
parentPort.postMessage({ latencies, published, publisherWarmUpMs });
