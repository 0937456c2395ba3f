import type { HotMcpError } from '../errors.js';
import type { ModuleCompilation } from './change-source.js';

/**
 * Something about how a module was loaded that works, but not as its author
 * asked (a tsconfig.json option the loader does not apply, say). The engine
 * says each one once per `code` and `file` (stderr, audit, status).
 */
export interface LoadNotice {
  /** A `HOTMCP_WARN_*` code. */
  code: string;
  /** The file it is about (the module, or a file it is compiled with, such as its tsconfig.json). */
  file: string;
  message: string;
}

/** The outcome of loading one file. */
export type LoadResult =
  | {
      file: string;
      ok: true;
      exports: Record<string, unknown>;
      /** Timers the module's top-level code left running, when the loader can tell (the runner's preflight). */
      timersLeft?: number;
      /** What was not done as the module's author asked (see {@link LoadNotice}). */
      notices?: LoadNotice[];
      /** The module ran a compilation given with the batch ({@link LoadOptions.compiled}) rather than its own. */
      precompiled?: boolean;
    }
  | { file: string; ok: false; error: HotMcpError };

/** How a batch is loaded (see {@link ModuleLoader.load}). */
export interface LoadOptions {
  /**
   * The files were found when the reloader started and are loaded for the
   * first time, before (or while) the server first lists them, as a plain
   * server imports its tools: a loader may skip what guards a running server
   * against a new version that never finishes importing (the runner's import
   * preflight), keeping only a time limit on top-level `await`.
   */
  startup?: boolean;
  /**
   * Compilations the change source had of files of the batch
   * (`ChangeBatch.compiled`): a loader that compiles may use one
   * instead of compiling the file, when it is sure it would make the same.
   */
  compiled?: Readonly<Record<string, ModuleCompilation>>;
}

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
  load(files: readonly string[], options?: LoadOptions): Promise<LoadResult[]>;
  /** Every file that imports one of `files`, directly or transitively (not the files themselves). */
  importersOf(files: Iterable<string>): Set<string>;
  /** Drop what is known about deleted files. */
  forget(files: Iterable<string>): void;
  /**
   * Called when `files` changed again while a load is under way (the engine
   * loads them next): a version of one of them whose top-level code has not
   * finished may be given up, failed, rather than waited for. Must not throw.
   */
  superseded?(files: readonly string[]): void;
  /**
   * Called once when the reloader starts, before the change source starts:
   * begin what the first `load` will need, so it runs while the watcher
   * starts and the folder is scanned. Must not throw.
   */
  warmUp?(): void;
  /**
   * Called once the files found at start-up have been loaded (well or not):
   * begin what later loads need and the start-up's did not (the runner's
   * import-preflight worker). Must not throw.
   */
  startupDone?(): void;
  /** Release the loader's resources. */
  close?(): Promise<void>;
}
