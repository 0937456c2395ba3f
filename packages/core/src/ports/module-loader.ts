import type { HotMcpError } from '../errors.js';

/** The outcome of loading one file. */
export type LoadResult =
  | {
      file: string;
      ok: true;
      exports: Record<string, unknown>;
      /** Timers the module's top-level code left running, when the loader can tell (the runner's preflight). */
      timersLeft?: number;
    }
  | { file: string; ok: false; error: HotMcpError };

/**
 * Port: loads the current version of files under the root and knows which
 * local modules import which.
 */
export interface ModuleLoader {
  /**
   * Evaluate a fresh version of every file given, with fresh versions of the
   * local modules among them that the others import. Never rejects: a file
   * that fails yields a typed error and the previous version stays in use.
   */
  load(files: readonly string[]): Promise<LoadResult[]>;
  /** Every file that imports one of `files`, directly or transitively (not the files themselves). */
  importersOf(files: Iterable<string>): Set<string>;
  /** Drop what is known about deleted files. */
  forget(files: Iterable<string>): void;
  /**
   * Called once when the reloader starts, before the change source starts:
   * begin what the first `load` will need, so it runs while the watcher
   * starts and the folder is scanned. Must not throw.
   */
  warmUp?(): void;
  /** Release the loader's resources. */
  close?(): Promise<void>;
}
