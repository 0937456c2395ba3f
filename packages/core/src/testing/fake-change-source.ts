import type { ChangeBatch, ChangeSource, FileListing } from '../ports/change-source.js';

/**
 * A ChangeSource driven by hand: `emit` delivers a batch. It models the disk
 * it watches in memory: `write`, `delete` and `unreadable` change what
 * `rescan` lists and `stamp` answers, without emitting anything (as when a
 * watcher misses a change).
 */
export class FakeChangeSource implements ChangeSource {
  /** Whether `start` was called. */
  started = false;
  /** Whether `stop` was called. */
  stopped = false;
  /** The files `rescan` lists, with their stamps. */
  readonly files = new Map<string, string>();
  /** The paths `rescan` lists as unreadable (and reports to `onError`). */
  unreadable: string[] = [];
  /** When set, what `rescan` throws (a root that cannot be scanned). */
  rescanError: Error | undefined;
  private listener: ((batch: ChangeBatch) => void) | undefined;
  private errorListener: ((error: Error) => void) | undefined;
  private writes = 0;

  /** `baseline`: the files present at start (each also written to the modelled disk). */
  constructor(private readonly baseline: string[] = []) {
    for (const file of baseline) this.write(file);
  }

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

  /** The modelled disk: its files, stamped; each unreadable path is reported to `onError` as a watcher would. */
  rescan(): FileListing {
    if (this.rescanError) throw this.rescanError;
    for (const path of this.unreadable) this.report(new Error(`cannot read ${path}; skipped`));
    return { files: new Map(this.files), unreadable: [...this.unreadable] };
  }

  /** The file's stamp on the modelled disk, or '' when it is not there. */
  stamp(file: string): string {
    return this.files.get(file) ?? '';
  }

  /** Create or change `file` on the modelled disk (a new stamp), emitting nothing. */
  write(file: string): this {
    this.files.set(file, `stamp-${++this.writes}`);
    return this;
  }

  /** Remove `file` from the modelled disk, emitting nothing. */
  delete(file: string): this {
    this.files.delete(file);
    return this;
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
