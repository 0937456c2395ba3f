import { HotMcpError } from '../errors.js';

/** Options of {@link PacedQueue}. */
export interface PacedQueueOptions {
  /** How many tasks run per event-loop turn: a positive integer. */
  sliceSize: number;
  /** The option `sliceSize` came from, named in the error when it is not a positive integer. */
  option: string;
  /** Called with what a task throws; the other tasks still run. */
  onError(error: unknown): void;
  /** Called each time the queue empties, with the ms since the first task of that run was queued. */
  onIdle?(durationMs: number): void;
}

/**
 * Runs tasks in the order queued, `sliceSize` per event-loop turn
 * (`setImmediate` between slices), so that what one slice writes to sockets
 * leaves the process before the next slice starts: with a thousand clients
 * to tell, the first hear of it while the last are still being told. Both the
 * fan-out adapter's list_changed sends and `@hotmcp/adapter-sdk-v2`'s paced
 * event bus go through one.
 */
export class PacedQueue {
  readonly #tasks: Array<() => boolean | undefined> = [];
  #head = 0;
  #since: number | undefined;
  readonly #idleWaiters: Array<() => void> = [];
  readonly #options: PacedQueueOptions;

  /** Throws `HOTMCP_ERR_BAD_OPTION` when `sliceSize` is not a positive integer. */
  constructor(options: PacedQueueOptions) {
    if (!Number.isInteger(options.sliceSize) || options.sliceSize < 1) {
      throw new HotMcpError(
        'HOTMCP_ERR_BAD_OPTION',
        `${options.option} must be a positive integer, got ${String(options.sliceSize)}.`,
        { details: { option: options.option } },
      );
    }
    this.#options = options;
  }

  /**
   * Queue a task; the first of a run is scheduled for the next turn. A task
   * that returns `false` did nothing (what it was for went away) and does not
   * count towards its slice.
   */
  push(task: () => boolean | undefined): void {
    this.#tasks.push(task);
    if (this.#since !== undefined) return;
    this.#since = performance.now();
    setImmediate(() => this.#runSlice());
  }

  /** Resolves once every task queued so far has run (at once when none is waiting). */
  idle(): Promise<void> {
    if (this.#since === undefined) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #runSlice(): void {
    let ran = 0;
    while (ran < this.#options.sliceSize && this.#head < this.#tasks.length) {
      const task = this.#tasks[this.#head++] as () => boolean | undefined;
      try {
        if (task() !== false) ran++;
      } catch (error) {
        ran++;
        try {
          this.#options.onError(error);
        } catch {}
      }
    }
    if (this.#head < this.#tasks.length) {
      setImmediate(() => this.#runSlice());
      return;
    }
    this.#tasks.length = 0;
    this.#head = 0;
    const since = this.#since ?? performance.now();
    this.#since = undefined;
    this.#options.onIdle?.(Math.round((performance.now() - since) * 10) / 10);
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }
}
