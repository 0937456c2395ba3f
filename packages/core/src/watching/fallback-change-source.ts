import { HotMcpError, isHotMcpError } from '../errors.js';
import type { ChangeBatch, ChangeSource, FileListing } from '../ports/change-source.js';

/**
 * The error a change source reports through `onError` when it has stopped
 * working for good (its native watcher died): `HOTMCP_ERR_WATCHER_FAILED`
 * with `details.fatal: true`. Any other error leaves the source running.
 */
export function watcherDied(message: string, cause?: unknown): HotMcpError {
  return new HotMcpError('HOTMCP_ERR_WATCHER_FAILED', message, { cause, details: { fatal: true } });
}

/** True for an error made by {@link watcherDied} (from any copy of hotmcp). */
export function isFatalWatcherError(error: unknown): boolean {
  return isHotMcpError(error) && error.code === 'HOTMCP_ERR_WATCHER_FAILED' && error.details?.fatal === true;
}

/** What {@link FallbackChangeSourceOptions.onFallback} is told. */
export interface FallbackEvent {
  /** Why the primary source is not used any more. */
  reason: Error;
  /**
   * `start`: the primary could not start, or (a source whose `start` resolves before it watches, see
   * `ChangeSource.watching`) could not begin watching; `runtime`: it died while watching.
   */
  phase: 'start' | 'runtime';
  /** Whether a fallback took over (false when there is none, or it failed too). */
  replaced: boolean;
}

/** Options of {@link FallbackChangeSource}. */
export interface FallbackChangeSourceOptions {
  /** The source used first. */
  primary: ChangeSource;
  /** Makes the source that takes over when the primary cannot start or dies. Without it, nothing does. */
  fallback?: () => ChangeSource | Promise<ChangeSource>;
  /** Told once, when the primary is given up (at start or at runtime). */
  onFallback?: (event: FallbackEvent) => void;
  /** Told when watching has started, and by which source. */
  onStarted?: (which: 'primary' | 'fallback') => void;
  /**
   * What {@link FallbackChangeSource.watcher} calls each source (`native`,
   * `poll`...). Default `primary` and `fallback`.
   */
  names?: { primary: string; fallback?: string };
}

/**
 * A ChangeSource that uses `primary` and, when it cannot start (its native
 * binary does not load, subscribing fails with ENOSPC, …) or reports a
 * fatal error (`isFatalWatcherError`) while watching, replaces it with
 * `fallback()`. On a runtime switch the fallback's first scan is compared
 * with the files known so far: new files are `added`, missing ones `removed`,
 * and every other one `changed` (the fallback cannot tell what changed while
 * nobody watched; a {@link CoalescingChangeSource} above drops the unchanged).
 */
export class FallbackChangeSource implements ChangeSource {
  readonly #primary: ChangeSource;
  readonly #fallback: (() => ChangeSource | Promise<ChangeSource>) | undefined;
  readonly #onFallback: ((event: FallbackEvent) => void) | undefined;
  readonly #onStarted: ((which: 'primary' | 'fallback') => void) | undefined;
  #active: ChangeSource | undefined;
  #known = new Set<string>();
  #generation = 0;
  #gaveUp = false;
  #switching: Promise<void> | undefined;
  #onBatch: ((batch: ChangeBatch) => void) | undefined;
  #onError: ((error: Error) => void) | undefined;
  readonly #names: { primary: string; fallback: string };
  #watcher: string | undefined;
  /** The primary has started and does not watch yet (see {@link ChangeSource.watching}): a failure now is a start's. */
  #primaryStarting = false;

  constructor(options: FallbackChangeSourceOptions) {
    this.#names = { primary: 'primary', fallback: 'fallback', ...options.names };
    this.#primary = options.primary;
    this.#fallback = options.fallback;
    this.#onFallback = options.onFallback;
    this.#onStarted = options.onStarted;
  }

  /** Which source is watching: `primary`, `fallback`, or undefined when stopped or dead. */
  get current(): 'primary' | 'fallback' | undefined {
    if (this.#active === undefined) return undefined;
    return this.#active === this.#primary ? 'primary' : 'fallback';
  }

  /**
   * The name of the source that watches (see
   * {@link FallbackChangeSourceOptions.names}), `none` once the primary died
   * with nothing to take over, undefined before the first start. Kept after
   * `stop()`: it says which source watched last.
   */
  get watcher(): string | undefined {
    return this.#watcher;
  }

  async start(onBatch: (batch: ChangeBatch) => void, onError?: (error: Error) => void): Promise<readonly string[]> {
    if (this.#active !== undefined) throw new HotMcpError('HOTMCP_ERR_WATCHER_FAILED', 'already started');
    const generation = ++this.#generation;
    this.#onBatch = onBatch;
    this.#onError = onError;
    this.#gaveUp = false;
    this.#primaryStarting = false;
    let files: readonly string[];
    try {
      files = await this.#startSource(generation, this.#primary);
      this.#active = this.#primary;
    } catch (reason) {
      if (!this.#fallback) throw reason;
      this.#gaveUp = true;
      this.#tell({ reason: asError(reason), phase: 'start', replaced: true });
      const fallback = await this.#fallback();
      files = await this.#startSource(generation, fallback);
      this.#active = fallback;
    }
    if (generation !== this.#generation) {
      // Stopped while starting: stop() could not see this source.
      const started = this.#active;
      this.#active = undefined;
      await started?.stop();
      return files;
    }
    this.#known = new Set(files);
    this.#watcher = this.#names[this.current as 'primary' | 'fallback'];
    const active = this.#active;
    if (active === this.#primary && active.watching !== undefined) {
      // Started, not watching yet: said started once it watches (a failure meanwhile is the start's).
      this.#primaryStarting = true;
      void active.watching().then(() => {
        if (generation !== this.#generation || this.#active !== active || this.#gaveUp) return;
        this.#primaryStarting = false;
        this.#onStarted?.('primary');
      });
    } else this.#onStarted?.(this.current as 'primary' | 'fallback');
    return files;
  }

  /** Warm up the primary source (see {@link ChangeSource.warmUp}). */
  warmUp(): void {
    try {
      this.#primary.warmUp?.();
    } catch {} // its start says what fails
  }

  /** The listing of the source watching now (between two sources: the primary's, a look at the same disk). */
  rescan(): FileListing {
    return (this.#active ?? this.#primary).rescan();
  }

  /** The stamp of `file`, from the source watching now (or the primary). */
  stamp(file: string): string {
    return (this.#active ?? this.#primary).stamp(file);
  }

  async stop(): Promise<void> {
    this.#generation++;
    this.#primaryStarting = false;
    const active = this.#active;
    this.#active = undefined;
    await this.#switching;
    await active?.stop();
    // A switch that was in flight may have started a source after `active` was read.
    const late = this.#active as ChangeSource | undefined;
    this.#active = undefined;
    await late?.stop();
  }

  #startSource(generation: number, source: ChangeSource): Promise<readonly string[]> {
    return source.start(
      (batch) => this.#forward(generation, source, batch),
      (error) => this.#error(generation, source, error),
    );
  }

  #forward(generation: number, from: ChangeSource, batch: ChangeBatch): void {
    if (generation !== this.#generation || from !== this.#active) return;
    for (const file of batch.removed) this.#known.delete(file);
    for (const file of [...batch.added, ...batch.changed]) this.#known.add(file);
    this.#onBatch?.(batch);
  }

  #error(generation: number, from: ChangeSource, error: Error): void {
    if (generation !== this.#generation || from !== this.#active) return;
    try {
      this.#onError?.(error);
    } catch {}
    if (from === this.#primary && !this.#gaveUp && isFatalWatcherError(error)) {
      this.#gaveUp = true;
      const phase = this.#primaryStarting ? 'start' : 'runtime';
      this.#primaryStarting = false;
      this.#switching = this.#replace(generation, error, phase).finally(() => {
        this.#switching = undefined;
      });
    }
  }

  async #replace(generation: number, reason: Error, phase: FallbackEvent['phase']): Promise<void> {
    const primary = this.#primary;
    this.#active = undefined;
    await primary.stop().catch(() => {});
    if (!this.#fallback) {
      this.#watcher = 'none';
      this.#tell({ reason, phase, replaced: false });
      return;
    }
    let fallback: ChangeSource | undefined;
    let files: readonly string[];
    try {
      fallback = await this.#fallback();
      this.#active = fallback;
      files = await this.#startSource(generation, fallback);
    } catch (error) {
      this.#active = undefined;
      this.#watcher = 'none';
      this.#tell({ reason, phase, replaced: false });
      this.#onError?.(asError(error));
      return;
    }
    if (generation !== this.#generation) {
      await fallback.stop();
      return;
    }
    this.#watcher = this.#names.fallback;
    this.#tell({ reason, phase, replaced: true });
    this.#onStarted?.('fallback');
    const now = new Set(files);
    const batch: ChangeBatch = { added: [], changed: [], removed: [] };
    for (const file of now) batch[this.#known.has(file) ? 'changed' : 'added'].push(file);
    for (const file of this.#known) if (!now.has(file)) batch.removed.push(file);
    this.#known = now;
    if (batch.added.length + batch.changed.length + batch.removed.length > 0) {
      for (const list of [batch.added, batch.changed, batch.removed]) list.sort();
      this.#onBatch?.(batch);
    }
  }

  #tell(event: FallbackEvent): void {
    try {
      this.#onFallback?.(event);
    } catch {}
  }
}

/** Make a {@link FallbackChangeSource}. */
export function createFallbackChangeSource(options: FallbackChangeSourceOptions): FallbackChangeSource {
  return new FallbackChangeSource(options);
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
