import { describe, expect, it } from 'vitest';
import { type FuzzTargetKind, randomSeed, runFuzz } from '../src/fuzz.js';

// A few short, seed-logged runs (the 1,000-sequence run is `pnpm fuzz`, run by hand) of `pnpm fuzz` and `pnpm fuzz --target http`. FUZZ_SEED (and FUZZ_PATH) replay a
// logged failure; FUZZ_TARGET runs one target only.
const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : randomSeed();
const targets: Array<{ target: FuzzTargetKind; runs: number; clients: string }> = [
  { target: 'stdio', runs: 5, clients: 'an SDK 1.x client of the stdio example' },
  { target: 'http', runs: 3, clients: 'five clients of both SDKs and protocol eras of the HTTP example' },
];

describe.each(targets.filter(({ target }) => (process.env.FUZZ_TARGET ?? target) === target))(
  'fuzzed edit sequences, target $target',
  ({ target, runs, clients }) => {
    it(`shows ${clients} what the model says after every step of ${runs} random sequences`, async () => {
      const lines: string[] = [];
      const report = await runFuzz({
        runs,
        maxSteps: 10,
        seed,
        target,
        ...(process.env.FUZZ_PATH !== undefined && { path: process.env.FUZZ_PATH }),
        shrink: false,
        log: (line) => {
          lines.push(line);
          process.stderr.write(`${line}\n`);
        },
      });
      expect(lines[0]).toContain(`seed ${seed}`);
      expect(lines[0]).toContain(`target ${target}`);
      expect(report.failed, `${report.message}\nreplay: pnpm fuzz ${report.replay}`).toBe(false);
      expect(report.sequences).toBe(process.env.FUZZ_PATH === undefined ? runs : 1);
      expect(report.steps).toBeGreaterThanOrEqual(runs);
      expect(report.deaths).toBe(0);
    });
  },
);
