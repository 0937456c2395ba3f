import type { ChangeBatch, ChangeSource } from '../ports/change-source.js';

/** A ChangeSource driven by hand: `emit` delivers a batch. */
export class FakeChangeSource implements ChangeSource {
  /** Whether `start` was called. */
  started = false;
  /** Whether `stop` was called. */
  stopped = false;
  private listener: ((batch: ChangeBatch) => void) | undefined;

  constructor(private readonly baseline: string[] = []) {}

  /** Resolve with the baseline given to the constructor; later `emit`s go to `onBatch`. */
  async start(onBatch: (batch: ChangeBatch) => void): Promise<readonly string[]> {
    this.started = true;
    this.listener = onBatch;
    return this.baseline;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.listener = undefined;
  }

  /** Deliver a batch (missing lists are empty) to the listener, if started. */
  emit(batch: Partial<ChangeBatch>): void {
    this.listener?.({ added: [], changed: [], removed: [], ...batch });
  }
}
