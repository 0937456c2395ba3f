import { afterEach, beforeEach, expect, it } from 'vitest';
import { guardStdout, isStdoutGuarded, restoreStdout } from './guard-stdout.js';

type Write = typeof process.stdout.write;
let stdout: string[];
let stderr: string[];
let realOut: Write;
let realErr: Write;
let fakeOut: Write;

beforeEach(() => {
  stdout = [];
  stderr = [];
  realOut = process.stdout.write;
  realErr = process.stderr.write;
  const capture = (into: string[]) =>
    ((chunk: unknown, ...rest: unknown[]) => {
      into.push(String(chunk));
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as Write;
  fakeOut = capture(stdout);
  process.stdout.write = fakeOut;
  process.stderr.write = capture(stderr);
});

afterEach(() => {
  restoreStdout();
  process.stdout.write = realOut;
  process.stderr.write = realErr;
});

it('sends process.stdout writes to stderr and keeps the real stdout for the stream it returns', async () => {
  const channel = guardStdout();
  process.stdout.write('stray output\n');
  await new Promise<void>((resolve, reject) =>
    channel.write('{"jsonrpc":"2.0"}\n', (error) => (error ? reject(error) : resolve())),
  );
  expect(stderr).toEqual(['stray output\n']);
  expect(stdout).toEqual(['{"jsonrpc":"2.0"}\n']);
});

it('is idempotent: a second guard returns the same stream and does not stack', () => {
  const first = guardStdout();
  expect(guardStdout()).toBe(first);
  process.stdout.write('once\n');
  expect(stderr).toEqual(['once\n']);
  expect(isStdoutGuarded()).toBe(true);
});

it('restores process.stdout.write, idempotently', () => {
  guardStdout();
  restoreStdout();
  restoreStdout();
  expect(isStdoutGuarded()).toBe(false);
  expect(process.stdout.write).toBe(fakeOut);
  process.stdout.write('back on stdout\n');
  expect(stdout).toEqual(['back on stdout\n']);
  expect(stderr).toEqual([]);
});
