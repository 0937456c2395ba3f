/**
 * One process-wide guard against what tool modules throw later than their
 * import (a timer's callback, a promise nobody awaits, an `error` event with
 * no listener): an uncaught exception or unhandled rejection whose stack
 * points into a tool module is handed to the reloader that owns the module,
 * and the server keeps serving. Anything else keeps Node's default
 * behaviour: when no one else listens, the guard steps aside and throws it
 * again, so Node prints it and exits as it would have.
 */

/** A reloader the guard reports to. */
export interface CrashGuardOwner {
  /** The tool module `error` points into, if it is one of this owner's. */
  attribute(error: unknown): string | undefined;
  /** Record what `module` threw. */
  report(module: string, error: unknown, kind: 'uncaughtException' | 'unhandledRejection'): void;
}

const owners = new Set<CrashGuardOwner>();

function owned(error: unknown): [CrashGuardOwner, string] | undefined {
  for (const owner of owners) {
    try {
      const module = owner.attribute(error);
      if (module !== undefined) return [owner, module];
    } catch {
      // a hostile value: not attributable
    }
  }
  return undefined;
}

/** Stop guarding and throw `error` again on the next tick, where Node's default handling meets it. */
function stepAside(error: unknown): void {
  process.off('uncaughtException', onException);
  process.off('unhandledRejection', onRejection);
  process.nextTick(() => {
    throw error;
  });
}

function onException(error: unknown): void {
  const found = owned(error);
  if (found) found[0].report(found[1], error, 'uncaughtException');
  else if (process.listenerCount('uncaughtException') === 1) stepAside(error);
}

function onRejection(reason: unknown): void {
  const found = owned(reason);
  if (found) found[0].report(found[1], reason, 'unhandledRejection');
  // Node's default for an unhandled rejection: an uncaught exception (which the guard sees next).
  else if (process.listenerCount('unhandledRejection') === 1) {
    process.nextTick(() => {
      throw reason;
    });
  }
}

/** Start guarding for `owner`. Returns a function that stops it. */
export function guardModuleCrashes(owner: CrashGuardOwner): () => void {
  if (owners.size === 0) {
    process.on('uncaughtException', onException);
    process.on('unhandledRejection', onRejection);
  }
  owners.add(owner);
  return () => {
    owners.delete(owner);
    if (owners.size > 0) return;
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
