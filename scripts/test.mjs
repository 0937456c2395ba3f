#!/usr/bin/env node
// The README's `pnpm test`: Biome, then every package's typecheck and tests (turbo), the package checks, the API
// docs check — stopping at the first that fails — then one closing line with the totals of every vitest run.
// Colour only when stdout is a terminal: piped into a file or CI log, no escape codes.
import { spawn } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';

const tty = process.stdout.isTTY === true;
const env = { ...process.env, ...(tty ? { FORCE_COLOR: '1' } : { FORCE_COLOR: '0', NO_COLOR: '1' }) };
if (tty) delete env.NO_COLOR;
const steps = [
  ['biome', 'ci', '--colors=off', '.'],
  ['turbo', 'run', 'typecheck', 'test', ...(tty ? [] : ['--no-color'])],
  ['turbo', 'run', 'check-package', 'api', ...(tty ? [] : ['--no-color'])],
  ['typedoc', '--emit', 'none'],
];
const totals = { passed: 0, failed: 0, skipped: 0, files: 0 };

/** Add up vitest's summary lines (` Tests  3 failed | 52 passed (55)`, ` Test Files  2 passed (2)`). */
function count(line) {
  const plain = stripVTControlCharacters(line);
  const tests = /^(?:\S+:\S+: )?\s*Tests\s+(.*)\(\d+\)\s*$/.exec(plain);
  if (tests) {
    for (const [, n, what] of tests[1].matchAll(/(\d+) (passed|failed|skipped|todo)/g)) {
      if (what === 'todo') totals.skipped += Number(n);
      else totals[what] += Number(n);
    }
  }
  const files = /^(?:\S+:\S+: )?\s*Test Files\s+.*\((\d+)\)\s*$/.exec(plain);
  if (files) totals.files += Number(files[1]);
}

function run([command, ...args]) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['inherit', 'pipe', 'pipe'] });
    for (const [from, to] of [
      [child.stdout, process.stdout],
      [child.stderr, process.stderr],
    ]) {
      let rest = '';
      from.on('data', (chunk) => {
        to.write(chunk);
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        lines.forEach(count);
      });
      from.on('end', () => count(rest));
    }
    child.on('error', (error) => {
      process.stderr.write(`${command}: ${error.message}\n`);
      resolve(1);
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

const started = Date.now();
let failedStep;
for (const step of steps) {
  if ((await run(step)) !== 0) {
    failedStep = step.slice(0, 3).join(' ');
    break;
  }
}
const minutes = Math.floor((Date.now() - started) / 60_000);
const seconds = Math.round(((Date.now() - started) % 60_000) / 1000);
const { passed, failed, skipped, files } = totals;
const summary = `${passed} passed, ${failed} failed, ${skipped} skipped in ${files} test files (${minutes}m ${seconds}s)`;
const verdict = failedStep ? `FAILED at \`${failedStep}\`` : 'all green';
process.stdout.write(`\npnpm test: ${summary}; ${verdict}\n`);
process.exit(failedStep ? 1 : 0);
