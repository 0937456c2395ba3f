/**
 * The stdout guard for stdio servers: stdout is the MCP channel, and one
 * `console.log` in a tool module corrupts it. Once guarded, everything the
 * process writes through `process.stdout.write` (and so `console.log`,
 * `console.info`, `console.table`...) goes to stderr, `process.stdout.end(x)`
 * writes `x` to stderr and ends nothing, and `cork`/`uncork` do nothing; the
 * stream returned is the only way left to the real stdout, for the transport.
 */
import { Writable } from 'node:stream';

type Write = typeof process.stdout.write;

/** The other ways to reach or stall the real stdout, each replaced while guarded. */
const STREAM_METHODS = ['end', 'cork', 'uncork'] as const;
type StreamMethod = (typeof STREAM_METHODS)[number];

interface Guard {
  original: Write;
  replacement: Write;
  stdout: Writable;
  /** What `end`, `cork` and `uncork` were, and what replaced them. */
  methods: Array<[StreamMethod, unknown, unknown]>;
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
  const methods: Guard['methods'] = [];
  const stand = {
    // Ending stdout would cut the MCP channel: what is written goes to stderr, and the stream stays open.
    end(this: unknown, ...args: unknown[]) {
      const [chunk, encoding] = args;
      if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') {
        (process.stderr.write as (...args: unknown[]) => boolean)(
          chunk,
          ...(typeof encoding === 'string' ? [encoding] : []),
        );
      }
      const callback = args.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      if (callback) process.nextTick(callback);
      return target;
    },
    // Corking would hold back the transport's messages: nothing to do while guarded.
    cork() {},
    uncork() {},
  };
  for (const name of STREAM_METHODS) {
    const replacementMethod = stand[name];
    methods.push([name, target[name], replacementMethod]);
    (target as unknown as Record<string, unknown>)[name] = replacementMethod;
  }
  guard = { original, replacement, stdout, methods };
  return stdout;
}

/** Undo {@link guardStdout}: `process.stdout.write` writes to stdout again. Idempotent. */
export function restoreStdout(): void {
  if (!guard) return;
  if (process.stdout.write === guard.replacement) process.stdout.write = guard.original;
  const target = process.stdout as unknown as Record<string, unknown>;
  for (const [name, before, replacement] of guard.methods) if (target[name] === replacement) target[name] = before;
  guard = undefined;
}

/** True while {@link guardStdout} is in effect. */
export function isStdoutGuarded(): boolean {
  return guard !== undefined;
}
