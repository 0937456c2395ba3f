/**
 * `pnpm soak`: continuous tool calls over stdio while the tools folder goes
 * through 100 reloads. Prints calls made, answered, failed and lost, calls per
 * second and reloads applied; exit code 1 unless 0 failed and 0 lost.
 *
 *   pnpm soak --reloads 100 --interval 150 --concurrency 32
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { runSoak } from './soak.js';

const { values } = parseArgs({
  options: {
    reloads: { type: 'string', default: '100' },
    interval: { type: 'string', default: '150' },
    concurrency: { type: 'string', default: '32' },
  },
});

const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
process.stderr.write(
  `machine: ${os.cpus().length} x ${cpu}, ${os.platform()} ${os.release()}; node ${process.version}\n`,
);
const report = await runSoak({
  reloads: Number(values.reloads),
  intervalMs: Number(values.interval),
  concurrency: Number(values.concurrency),
});
const { calls, removedToolCalls: removed } = report;
process.stderr.write(
  [
    `soak: ${(report.durationMs / 1000).toFixed(1)} s, ${report.concurrency} calls in flight, ${report.callsPerSecond} calls/s`,
    `  calls to the tools that stay: ${calls.made} made, ${calls.answered} answered, ${calls.failed} failed, ${calls.lost} lost`,
    `  calls to the deleted tool:    ${removed.made} made, ${removed.answered} answered, ${removed.failed} failed (expected after its deletion), ${removed.lost} lost`,
    `  reloads: ${report.reloads} changes written, ${report.batchesApplied} batches applied (audit), ${report.listChanged} list_changed`,
    `  final state matched: ${report.finalStateMatched}`,
    ...report.failures.map((failure) => `  failure: ${failure}`),
    '',
  ].join('\n'),
);
process.stdout.write(`${JSON.stringify({ ...report, node: process.version, cpus: os.cpus().length, cpu })}\n`);
const ok = calls.failed === 0 && calls.lost === 0 && removed.lost === 0 && report.finalStateMatched;
process.exitCode = ok ? 0 : 1;
