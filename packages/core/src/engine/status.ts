import type { ListKind } from '../ports/tool-registry-adapter.js';

/** One file's problem, as status reports it. */
export interface ModuleErrorReport {
  /** The module whose load or definitions failed. */
  module: string;
  code: string;
  message: string;
  /** Where the error points (may be a helper the module imports). */
  file?: string;
  line?: number;
}

/** What one applied batch did. */
export interface BatchReport {
  /** ISO time the batch finished. */
  at: string;
  durationMs: number;
  added: number;
  changed: number;
  removed: number;
  /** Modules evaluated afresh (changed files and their importers). */
  loaded: number;
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
  running: boolean;
  root: string;
  trackedFiles: string[];
  lastBatch?: BatchReport;
  errors: ModuleErrorReport[];
  counts: {
    modules: number;
    tools: number;
    prompts: number;
    /** Fixed resources and resource templates. */
    resources: number;
    batches: number;
    failedLoads: number;
  };
}
