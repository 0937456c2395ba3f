import { describe, expect, it } from 'vitest';
import { runSoak } from '../src/soak.js';

describe('the soak against the SDK v1 example', () => {
  it('answers every call to the tools that stay, with none lost, through 20 reloads under load', async () => {
    const report = await runSoak({ reloads: 20, concurrency: 16, log: () => undefined });
    process.stderr.write(`soak: ${JSON.stringify(report)}\n`);
    expect(report.failures).toEqual([]);
    expect(report.calls.made).toBeGreaterThan(0);
    expect(report.calls.failed).toBe(0);
    expect(report.calls.lost).toBe(0);
    expect(report.calls.answered).toBe(report.calls.made);
    expect(report.removedToolCalls.lost).toBe(0);
    // The deleted tool answered before its deletion and was refused after it.
    expect(report.removedToolCalls.answered).toBeGreaterThan(0);
    expect(report.removedToolCalls.failed).toBeGreaterThan(0);
    expect(report.batchesApplied).toBeGreaterThan(0);
    expect(report.finalStateMatched).toBe(true);
  });
});
