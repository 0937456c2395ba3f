/** Files that appeared, changed or disappeared, as absolute normalised paths. */
export interface ChangeBatch {
  /** Files that appeared. */
  added: string[];
  /** Files whose content or metadata changed. */
  changed: string[];
  /** Files that disappeared. */
  removed: string[];
  /**
   * Set by a source that knows this batch is part of a burst whose rest is
   * still coming (a checkout, a folder deleted): a coalescer holds it for the
   * rest rather than delivering it at once. Consumers may ignore it.
   */
  burst?: boolean;
  /**
   * Compilations of files of this batch the source already has (a fleet's
   * publisher compiled them), by absolute path. Only a hint: a loader uses one
   * only when it was made by the loader's own compiler from the text the file
   * holds when loaded, with the options it compiles with there; any other file
   * is compiled as usual. Consumers may ignore it.
   */
  compiled?: Readonly<Record<string, ModuleCompilation>>;
}

/**
 * One module compiled ahead for the runner loader (`precompileModule`), with
 * what it was made from, so the loader can tell whether it is what it would
 * make itself.
 */
export interface ModuleCompilation {
  /** The compiler that made it: hotmcp's compiler code, esbuild's version and the Node major compiled for. */
  compiler: string;
  /** A hash of the module's text and the tsconfig.json options it was compiled with. */
  key: string;
  /** The compiled code (its inline source map names the file by its base name, relative to where it runs). */
  code: string;
  /** Its static import specifiers. */
  imports: string[];
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

/** Every selected file under a root at one moment, as {@link ChangeSource.rescan} lists it. */
export interface FileListing {
  /**
   * Each selected file (absolute normalised path) with its stamp, as
   * {@link ChangeSource.stamp} gives it: two stamps prove a file unchanged
   * when `sameStamp` (from `@hotmcp/core`) says so.
   */
  files: ReadonlyMap<string, string>;
  /**
   * Folders and files that could not be read (each one also reported through
   * `onError`): what lies under them is unknown, not gone.
   */
  unreadable: readonly string[];
}

/**
 * How current a source's folder is, as {@link ChangeSource.status} reports it:
 * for a source fed from elsewhere (a fleet replica fed by a Redis Stream),
 * whether changes it knows of, or cannot rule out, are not applied yet.
 */
export interface ChangeSourceStatus {
  /**
   * True when the source knows of changes it has not applied yet (it is
   * catching up), or cannot tell whether there are any (its feed is
   * unreachable): what is served may be stale.
   */
  behind: boolean;
  /** Why it is behind, in words (absent when it is not). */
  reason?: string;
  /** Facts a client may show (the replica's name, the last entry applied, the newest seen); no file contents. */
  details?: Record<string, string | number | boolean>;
}

/**
 * Port: tells the engine which files under a root changed, and what is there
 * when the engine asks.
 *
 * The first scan is a baseline: `start` resolves with the files present and
 * emits nothing for them. Later changes arrive through `onBatch`. Paths that
 * resolve outside the root are never emitted nor listed.
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
  /**
   * Begin, before `start`, what starting will wait for (loading a native
   * watcher in its thread), so it overlaps the rest of a reloader's start-up.
   * Optional; must not throw. `start` works without it.
   */
  warmUp?(): void;
  /**
   * Optional, for a source whose `start` may resolve before it watches (after
   * its first scan, its OS watcher still on the way; changes made meanwhile
   * are emitted once it watches): resolves once it watches, or has failed to
   * (a failure is reported through `onError` as fatal). Never rejects.
   * Without it, the source watches once `start` resolves.
   */
  watching?(): Promise<void>;
  /** Release every handle. Idempotent. */
  stop(): Promise<void>;
  /**
   * List the root now, emitting nothing: every file the source would report,
   * with its stamp (what the engine compares with the stamps it took when it
   * loaded each file, to find what the watcher missed). Unreadable folders
   * and files, and symlinks resolving outside the root, are reported through
   * the `onError` given to `start` (when started) and skipped. Only called
   * between `start` and `stop`.
   *
   * @throws HotMcpError `HOTMCP_ERR_WATCHER_FAILED` when the root is not a folder.
   */
  rescan(): FileListing;
  /**
   * The stamp of `file` now (one `stat`), or `''` when it is not a regular
   * file that can be read: a stamp of `''` never proves a file unchanged.
   */
  stamp(file: string): string;
  /**
   * Optional: how current the folder is (see {@link ChangeSourceStatus}).
   * A source that only watches a local folder has nothing to add and leaves
   * it out; `hotmcp_status` shows it as `source` when present.
   */
  status?(): ChangeSourceStatus;
}
