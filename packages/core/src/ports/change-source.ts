/** Files that appeared, changed or disappeared, as absolute normalised paths. */
export interface ChangeBatch {
  /** Files that appeared. */
  added: string[];
  /** Files whose content or metadata changed. */
  changed: string[];
  /** Files that disappeared. */
  removed: string[];
}

/** What a change source watches. */
export interface ChangeSourceOptions {
  /** Absolute, real path of the watched folder. */
  root: string;
  /** Globs relative to root that select files. */
  include: readonly string[];
  /** Globs relative to root that are never reported (`node_modules`, `.git`, `dist` always are). */
  exclude: readonly string[];
}

/**
 * Port: tells the engine which files under a root changed.
 *
 * The first scan is a baseline: `start` resolves with the files present and
 * emits nothing for them. Later changes arrive through `onBatch`. Paths that
 * resolve outside the root are never emitted.
 */
export interface ChangeSource {
  /**
   * Scan the root and start watching it.
   *
   * @param onBatch - Receives each later batch of changes.
   * @param onError - Receives errors that do not stop watching (an unreadable folder) and fatal ones.
   * @returns The files present at start (sorted absolute paths), for which nothing is emitted.
   */
  start(onBatch: (batch: ChangeBatch) => void, onError?: (error: Error) => void): Promise<readonly string[]>;
  /** Release every handle. Idempotent. */
  stop(): Promise<void>;
}
