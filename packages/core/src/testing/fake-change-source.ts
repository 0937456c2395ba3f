import type { ChangeBatch, ChangeSource } from '../ports/change-source.js';

/** A ChangeSource driven by hand: `emit` delivers a batch. */
export class FakeChangeSource implements ChangeSource {
  started = false;
  stopped = false;
  private listener: ((batch: ChangeBatch) => void) | undefined;

  constructor(private readonly baseline: string[] = []) {}

  async start(onBatch: (batch: ChangeBatch) => void): Promise<readonly string[]> {
    this.started = true;
    this.listener = onBatch;
    return this.baseline;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.listener = undefined;
  }

  emit(batch: Partial<ChangeBatch>): void {
    this.listener?.({ added: [], changed: [], removed: [], ...batch });
  }
}
