import { describe, expect, it } from 'vitest';
import { randomSeed, runFuzz } from '../src/fuzz.js';

// A short, seed-logged run of `pnpm fuzz`. FUZZ_SEED (and FUZZ_PATH) replay a logged failure.
const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : randomSeed();

describe('fuzzed edit sequences against the SDK v1 example', () => {
  it('shows a client exactly what the model says after every step of 20 random sequences', async () => {
    const lines: string[] = [];
    const report = await runFuzz({
      runs: 20,
      maxSteps: 10,
      seed,
      ...(process.env.FUZZ_PATH !== undefined && { path: process.env.FUZZ_PATH }),
      shrink: false,
      log: (line) => {
        lines.push(line);
        process.stderr.write(`${line}\n`);
      },
    });
    expect(lines[0]).toContain(`seed ${seed}`);
    expect(report.failed, `${report.message}\nreplay: pnpm fuzz ${report.replay}`).toBe(false);
    expect(report.sequences).toBe(process.env.FUZZ_PATH === undefined ? 20 : 1);
    expect(report.steps).toBeGreaterThanOrEqual(20);
    expect(report.deaths).toBe(0);
  });
});
