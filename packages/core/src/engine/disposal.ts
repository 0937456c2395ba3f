import type { AnyDefinition } from '../define.js';
import { locate } from '../error-location.js';
import { HotMcpError } from '../errors.js';
import { withinLimit } from '../time-limit.js';
import { describe } from './engine-errors.js';

/** How long a replaced version's calls in flight may run before its `dispose()` is called anyway. */
export const IN_FLIGHT_LIMIT_MS = 10_000;
/** How long a `dispose()` may take before it is reported as overrunning and the reloader goes on without it. */
export const DISPOSE_LIMIT_MS = 2_000;

/** Counts the calls in flight into one module version's handlers. */
export class CallsInFlight {
  private count = 0;
  private readonly waiters = new Set<() => void>();

  get size(): number {
    return this.count;
  }

  /** Run `call`, counting it until what it returns settles. */
  track<T>(call: () => T): T {
    this.count++;
    let result: T;
    try {
      result = call();
    } catch (error) {
      this.done();
      throw error;
    }
    if (typeof (result as { then?: unknown } | null)?.then === 'function') {
      Promise.resolve(result).then(
        () => this.done(),
        () => this.done(),
      );
    } else {
      this.done();
    }
    return result;
  }

  /** Resolves once no call is in flight. */
  idle(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.add(resolve));
  }

  private done(): void {
    this.count--;
    if (this.count > 0) return;
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }
}

/**
 * The definitions of one module version, each with its handler counted in
 * `calls`: what lets the engine call the version's `dispose()` only once the
 * calls it started have finished. The copies keep the originals' brands.
 */
export function countCalls(definitions: readonly AnyDefinition[], calls: CallsInFlight): AnyDefinition[] {
  return definitions.map((definition) => {
    const copy = Object.create(
      Object.getPrototypeOf(definition),
      Object.getOwnPropertyDescriptors(definition),
    ) as AnyDefinition;
    const handler = definition.handler as (...args: unknown[]) => unknown;
    Object.defineProperty(copy, 'handler', {
      value: function (this: unknown, ...args: unknown[]) {
        return calls.track(() => handler.apply(this, args));
      },
      enumerable: true,
      writable: true,
      configurable: true,
    });
    return copy;
  });
}

/**
 * Call a replaced module version's `dispose` hook under {@link DISPOSE_LIMIT_MS}.
 * Resolves with the failure (a throw, or an overrun) or undefined when it
 * finished in time; `settledLate` is called if an overrunning hook ends later.
 */
export async function runDispose(
  file: string,
  dispose: () => unknown,
  root: string,
  settledLate: () => void,
): Promise<HotMcpError | undefined> {
  const thrown = (error: unknown) => {
    // The line that threw, when it is in this module (not in a helper it calls).
    const where = locate(error, root);
    const line = where?.file === file ? where.line : undefined;
    return new HotMcpError('HOTMCP_ERR_DISPOSE_FAILED', `dispose() of ${file} threw: ${describe(error)}`, {
      file,
      ...(line !== undefined && { line }),
      cause: error,
    });
  };
  let running: Promise<HotMcpError | undefined>;
  try {
    running = Promise.resolve(dispose()).then(() => undefined, thrown);
  } catch (error) {
    return thrown(error);
  }
  const outcome = await withinLimit(running, DISPOSE_LIMIT_MS);
  if (outcome !== 'timeout') return outcome;
  running.then(settledLate);
  return new HotMcpError(
    'HOTMCP_ERR_DISPOSE_TIMEOUT',
    `dispose() of ${file} did not finish within ${DISPOSE_LIMIT_MS} ms; reloads go on without waiting for it (what it was closing may still be open)`,
    { file, details: { timeoutMs: DISPOSE_LIMIT_MS } },
  );
}
