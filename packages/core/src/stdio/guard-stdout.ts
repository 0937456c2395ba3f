/**
 * The stdout guard for stdio servers: stdout is the MCP channel, and one
 * `console.log` in a tool module corrupts it. Once guarded, everything the
 * process writes through `process.stdout.write` (and so `console.log`,
 * `console.info`, `console.table`...) goes to stderr; the stream returned is
 * the only way left to the real stdout, for the transport.
 */
import { Writable } from 'node:stream';

type Write = typeof process.stdout.write;

interface Guard {
  original: Write;
  replacement: Write;
  stdout: Writable;
}

let guard: Guard | undefined;

/**
 * Send whatever the process writes to `process.stdout` to stderr instead,
 * and return a stream that writes to the real stdout: hand it to the stdio
 * transport (`new StdioServerTransport(process.stdin, guardStdout())`).
 * Idempotent: later calls return the same stream. Writes that bypass
 * `process.stdout.write` (`fs.writeSync(1, …)`, native code, child processes
 * sharing the descriptor) are not caught.
 */
export function guardStdout(): Writable {
  if (guard) return guard.stdout;
  const target = process.stdout;
  const original = target.write;
  const write = original.bind(target) as (chunk: unknown, encoding?: unknown, callback?: unknown) => boolean;
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      write(chunk, (error?: Error | null) => callback(error ?? null));
    },
  });
  const replacement = ((...args: Parameters<Write>) =>
    (process.stderr.write as (...args: unknown[]) => boolean)(...args)) as Write;
  target.write = replacement;
  guard = { original, replacement, stdout };
  return stdout;
}

/** Undo {@link guardStdout}: `process.stdout.write` writes to stdout again. Idempotent. */
export function restoreStdout(): void {
  if (!guard) return;
  if (process.stdout.write === guard.replacement) process.stdout.write = guard.original;
  guard = undefined;
}

/** True while {@link guardStdout} is in effect. */
export function isStdoutGuarded(): boolean {
  return guard !== undefined;
}
