import type { ChangeBatch, ChangeSource } from '../ports/change-source.js';

/** A ChangeSource driven by hand: `emit` delivers a batch. */
export class FakeChangeSource implements ChangeSource {
  /** Whether `start` was called. */
  started = false;
  /** Whether `stop` was called. */
  stopped = false;
  private listener: ((batch: ChangeBatch) => void) | undefined;
  private errorListener: ((error: Error) => void) | undefined;

  constructor(private readonly baseline: string[] = []) {}

  /** Resolve with the baseline given to the constructor; later `emit`s go to `onBatch`, `report`s to `onError`. */
  async start(onBatch: (batch: ChangeBatch) => void, onError?: (error: Error) => void): Promise<readonly string[]> {
    this.started = true;
    this.listener = onBatch;
    this.errorListener = onError;
    return this.baseline;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.listener = undefined;
    this.errorListener = undefined;
  }

  /** Deliver a batch (missing lists are empty) to the listener, if started. */
  emit(batch: Partial<ChangeBatch>): void {
    this.listener?.({ added: [], changed: [], removed: [], ...batch });
  }

  /** Report an error as a watcher would (to `onError`, if started). */
  report(error: Error): void {
    this.errorListener?.(error);
  }
}
