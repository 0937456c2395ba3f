import type { HotMcpError } from '../errors.js';
import type { ChangeBatch } from '../ports/change-source.js';
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
  /** Modules that ran a compilation the change source gave with the batch (a fleet publisher's), when any did. */
  precompiled?: number;
  /** Registry entries added or replaced, as `kind:name`. */
  upserted: string[];
  /** Registry entries removed, as `kind:name`. */
  removedEntries: string[];
  /** List kinds whose list_changed was sent. */
  notified: ListKind[];
}

/** One loaded module and what it has live in the registry. */
export interface ModuleReport {
  /** Absolute path of the module. */
  file: string;
  /** Tool names it owns. */
  tools: string[];
  /** Prompt names it owns. */
  prompts: string[];
  /** Fixed resources (by normalised URI) and resource templates (by name) it owns. */
  resources: string[];
  /** True when its newest version failed and the last good one (if any) is in use. */
  failed: boolean;
}

/** A snapshot of a reloader, as `hotReloadStatus()` returns it. */
export interface ReloaderStatus {
  /** Whether the reloader is started and watching. */
  running: boolean;
  /** The watched folder. */
  root: string;
  /** Files under the root the reloader knows of, sorted. */
  trackedFiles: string[];
  /** Every module loaded (or tried), with what it owns. */
  modules: ModuleReport[];
  /** The last batch applied, if any. */
  lastBatch?: BatchReport;
  /** Current problems: failed loads, name conflicts and refused definitions, per module. */
  errors: ModuleErrorReport[];
  /** What works but will cost later (timers a module leaves running with no `dispose`), one per module. */
  warnings?: ModuleErrorReport[];
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

/** What `reloader.rescan()` found and did. */
export interface RescanReport {
  /** Files that differed from what the reloader last loaded, as absolute paths. */
  found: ChangeBatch;
  /** The batch applied for them (it may include changes the watcher reported meanwhile); absent when nothing was found or the commit failed. */
  batch?: BatchReport;
}

/** A reload problem, as failure listeners receive it (the same error is audited). */
export interface ReloadFailure {
  /** The audit event it was recorded as. */
  event: 'module.failed' | 'module.uncaught' | 'definition.rejected' | 'batch.failed';
  /** The module concerned, when there is one (absolute path). */
  module?: string;
  error: HotMcpError;
}
