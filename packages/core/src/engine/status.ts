import type { ListKind } from '../ports/tool-registry-adapter.js';

/** One file's problem, as status reports it. */
export interface ModuleErrorReport {
  /** The module whose load or definitions failed. */
  module: string;
  /** The `HOTMCP_ERR_*` code. */
  code: string;
  /** What went wrong, in words. */
  message: string;
  /** Where the error points (may be a helper the module imports). */
  file?: string;
  /** 1-based line in `file`, when known. */
  line?: number;
}

/** What one applied batch did. */
export interface BatchReport {
  /** ISO time the batch finished. */
  at: string;
  /** Time from the batch leaving the queue to its commit. */
  durationMs: number;
  /** Files added in the batch. */
  added: number;
  /** Files changed in the batch. */
  changed: number;
  /** Files removed in the batch. */
  removed: number;
  /** Modules evaluated afresh (changed files and their importers). */
  loaded: number;
  /** Modules that failed to load (their last good definitions stay live). */
  failed: number;
  /** Registry entries added or replaced, as `kind:name`. */
  upserted: string[];
  /** Registry entries removed, as `kind:name`. */
  removedEntries: string[];
  /** List kinds whose list_changed was sent. */
  notified: ListKind[];
}

/** A snapshot of a reloader, as `hotReloadStatus()` returns it. */
export interface ReloaderStatus {
  /** Whether the reloader is started and watching. */
  running: boolean;
  /** The watched folder. */
  root: string;
  /** Files under the root the reloader knows of, sorted. */
  trackedFiles: string[];
  /** The last batch applied, if any. */
  lastBatch?: BatchReport;
  /** Current problems: failed loads, name conflicts and refused definitions, per module. */
  errors: ModuleErrorReport[];
  /** Totals. */
  counts: {
    /** Modules loaded. */
    modules: number;
    /** Tools the reloader owns. */
    tools: number;
    /** Prompts the reloader owns. */
    prompts: number;
    /** Fixed resources and resource templates. */
    resources: number;
    /** Batches applied since start. */
    batches: number;
    /** Module loads that failed since start. */
    failedLoads: number;
  };
}
