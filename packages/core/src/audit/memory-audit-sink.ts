import type { AuditFields, AuditSink } from '../ports/audit-sink.js';

/** One recorded audit event: `event`, `timestamp` (ISO 8601), `pid`, then its fields. */
export interface AuditEvent extends AuditFields {
  event: string;
  timestamp: string;
  pid: number;
}

interface Waiter {
  predicate: (event: AuditEvent) => boolean;
  resolve: (event: AuditEvent) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * An `AuditSink` that keeps every event in memory, in order, for tests and
 * for hosts that show the trail themselves. Fields are kept as given (errors
 * stay errors); they cannot overwrite `event`, `timestamp` or `pid`.
 */
export class MemoryAuditSink implements AuditSink {
  /** Every event recorded so far, oldest first. */
  readonly events: AuditEvent[] = [];
  #closed = false;
  #waiters = new Set<Waiter>();

  record(event: string, fields?: AuditFields): void {
    try {
      if (this.#closed) return;
      const head = { event: String(event), timestamp: new Date().toISOString(), pid: process.pid };
      // The head's keys come first and keep the head's values.
      const recorded: AuditEvent = { ...head, ...fields, ...head };
      this.events.push(recorded);
      for (const waiter of this.#waiters) this.#settle(waiter, recorded);
    } catch {
      // record never throws.
    }
  }

  /**
   * Resolve with the first event, already recorded or still to come, that
   * matches `predicate`; reject after `timeoutMs` with the events seen so far.
   */
  waitFor(predicate: (event: AuditEvent) => boolean, timeoutMs = 5000): Promise<AuditEvent> {
    return new Promise<AuditEvent>((resolve, reject) => {
      try {
        const found = this.events.find(predicate);
        if (found !== undefined) {
          resolve(found);
          return;
        }
      } catch (error) {
        reject(error);
        return;
      }
      const waiter: Waiter = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          const seen = this.events.map((event) => event.event).join(', ') || 'none';
          reject(
            new Error(`MemoryAuditSink.waitFor: no matching audit event within ${timeoutMs} ms (recorded: ${seen})`),
          );
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /** Stop recording; the events stay readable. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  #settle(waiter: Waiter, event: AuditEvent): void {
    let matches: boolean;
    try {
      matches = waiter.predicate(event);
    } catch (error) {
      this.#waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (!matches) return;
    this.#waiters.delete(waiter);
    clearTimeout(waiter.timer);
    waiter.resolve(event);
  }
}
