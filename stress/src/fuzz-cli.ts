/**
 * `pnpm fuzz`: fuzzed edit sequences against the example server.
 *
 *   pnpm fuzz                          1,000 sequences, random seed (printed)
 *   pnpm fuzz --runs 200 --steps 20    fewer, longer sequences
 *   pnpm fuzz --seed N --path P        replay a failure exactly (both are printed on failure)
 *   pnpm fuzz --no-shrink              report the first failing sequence as generated
 *   pnpm fuzz --target http            against the HTTP sessions example (five clients)
 *
 * Environment: FUZZ_SEED, FUZZ_PATH, FUZZ_RUNS, FUZZ_STEPS, FUZZ_TARGET (the flags win).
 * Exit code 1 on a failure. Output goes to stderr, a JSON summary to stdout.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { runFuzz } from './fuzz.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: process.env.FUZZ_SEED },
    path: { type: 'string', default: process.env.FUZZ_PATH },
    runs: { type: 'string', default: process.env.FUZZ_RUNS ?? '1000' },
    steps: { type: 'string', default: process.env.FUZZ_STEPS ?? '12' },
    target: { type: 'string', default: process.env.FUZZ_TARGET ?? 'stdio' },
    'no-shrink': { type: 'boolean', default: false },
  },
});

if (values.target !== 'stdio' && values.target !== 'http') {
  process.stderr.write(`fuzz: --target must be stdio or http, got ${values.target}\n`);
  process.exit(2);
}
const target = values.target;

const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
process.stderr.write(
  `machine: ${os.cpus().length} x ${cpu}, ${os.platform()} ${os.release()}; node ${process.version}\n`,
);
const report = await runFuzz({
  runs: Number(values.runs),
  target,
  maxSteps: Number(values.steps),
  ...(values.seed !== undefined && { seed: Number(values.seed) }),
  ...(values.path !== undefined && { path: values.path }),
  shrink: !values['no-shrink'],
});
if (report.failed) {
  process.stderr.write(`\n${report.message}\n\nFUZZ FAILED. Replay: pnpm fuzz ${report.replay}\n`);
} else {
  process.stderr.write(
    `fuzz: ${report.sequences} sequences, ${report.steps} steps, 0 failures, ${report.deaths} server deaths, ` +
      `${(report.durationMs / 1000).toFixed(1)} s, seed ${report.seed}\n`,
  );
}
const { message: _message, ...summary } = report;
process.stdout.write(`${JSON.stringify({ ...summary, node: process.version, cpus: os.cpus().length, cpu })}\n`);
process.exitCode = report.failed ? 1 : 0;
