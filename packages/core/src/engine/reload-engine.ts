import { dirname, extname, resolve } from 'node:path';
import { inject, injectable } from 'tsyringe';
import { type AnyDefinition, keyOf, listOf, registryName } from '../define.js';
import { locate } from '../error-location.js';
import { HotMcpError, isHotMcpError } from '../errors.js';
import { sameStamp } from '../file-stamp.js';
import { isInside } from '../inside-root.js';
import { reclaimAfterReloads, reloadsStarting } from '../memory.js';
import type { AuditSink } from '../ports/audit-sink.js';
import type { ChangeBatch, ChangeSource } from '../ports/change-source.js';
import type { LoadNotice, LoadResult, ModuleLoader } from '../ports/module-loader.js';
import type { ListKind, ToolRegistryAdapter } from '../ports/tool-registry-adapter.js';
import { withinLimit } from '../time-limit.js';
import { type ReloaderSettings, TOKENS } from '../tokens.js';
import { ChangeQueue } from './change-queue.js';
import { guardModuleCrashes } from './crash-guard.js';
import { definitionLine, extractDefinitions, withDefinitionLine } from './definitions.js';
import { DenyList } from './deny-list.js';
import { CallsInFlight, countCalls, IN_FLIGHT_LIMIT_MS, runDispose } from './disposal.js';
import { asHotMcpError, describe, rejectedKey, toHotMcpError } from './engine-errors.js';
import { BUILTIN, diffOwnership, type ModuleRecord, type Owned, refOf, resolveOwnership } from './ownership.js';
import type {
  BatchReport,
  ModuleErrorReport,
  ModuleReport,
  ReloaderStatus,
  ReloadFailure,
  RescanReport,
} from './status.js';

const DISPOSE = 'dispose';
/**
 * The most files of the folder loaded before `start()` resolves; a larger
 * folder's other files are loaded right after, in a second batch.
 */
export const FIRST_BATCH_FILES = 200;
/** How long an asynchronous register function may take by default, in ms. */
const DEFAULT_CAPTURE_TIMEOUT_MS = 2000;

/** A module's register function: its `register` export, else a default-exported function. */
function registerFunctionOf(
  exports: Record<string, unknown>,
): [exportName: string, register: (server: unknown) => unknown] | undefined {
  for (const name of ['register', 'default']) {
    const value = exports[name];
    if (typeof value === 'function') return [name, value as (server: unknown) => unknown];
  }
  return undefined;
}

/** A file the modules import as data (`import data from './data.json' with { type: 'json' }`), not a module. */
const isAsset = (file: string): boolean => file.endsWith('.json');

/**
 * The kernel: turns change batches into one registry commit each, keeping
 * every module's last good version and never letting one module take a name
 * another owns.
 */
@injectable()
export class ReloadEngine {
  private readonly records = new Map<string, ModuleRecord>();
  private active = new Map<string, Owned>();
  private readonly tracked = new Set<string>();
  private readonly queue = new ChangeQueue();
  private readonly deny: DenyList;
  private draining: Promise<void> | undefined;
  private running = false;
  private lastBatch: BatchReport | undefined;
  private batches = 0;
  private failedLoads = 0;
  /** Each tracked file's stamp when it was last handed to the loader, for {@link rescan}. */
  private readonly stamps = new Map<string, string>();
  /** Symlinks out of the root already audited: said once, until the path shows up in a batch. */
  private readonly refusedLinks = new Set<string>();
  private builtins: AnyDefinition[] = [];
  private readonly failureListeners = new Set<(failure: ReloadFailure) => void>();
  /** Replaced versions waiting for their calls to finish, or in their `dispose()`. */
  private readonly disposals = new Set<Promise<void>>();
  /** The last `dispose()` of each file that threw or overran, until one of that file's finishes in time. */
  private readonly disposeErrors = new Map<string, HotMcpError>();
  /** What each module threw after its import (a timer, an unawaited promise), until it loads again. */
  private readonly uncaught = new Map<string, HotMcpError>();
  private unguard: (() => void) | undefined;
  /** Modules warned about the timers they leave running with no `dispose`: said once per module. */
  private readonly timerWarnings = new Map<string, ModuleErrorReport>();
  /** The loader's notices already said (once per code and file), with the module that first had each. */
  private readonly notices = new Map<string, ModuleErrorReport>();
  /** Files under the root the engine does not load, said once each (`.cjs`, `.cts`). */
  private readonly skipped = new Set<string>();
  /** Files of the first scan not loaded yet: their first load is the start-up's (see `LoadOptions.startup`). */
  private readonly startup = new Set<string>();

  constructor(
    @inject(TOKENS.settings) private readonly settings: ReloaderSettings,
    @inject(TOKENS.changeSource) private readonly source: ChangeSource,
    @inject(TOKENS.moduleLoader) private readonly loader: ModuleLoader,
    @inject(TOKENS.registryAdapter) private readonly adapter: ToolRegistryAdapter,
    @inject(TOKENS.auditSink) private readonly audit: AuditSink,
  ) {
    this.deny = new DenyList(settings.root, settings.denyFiles, settings.deny);
  }

  /**
   * Watch the root, load every file found, and register their definitions.
   * Resolves once the first 200 (`FIRST_BATCH_FILES`) files are live (all of
   * them in a smaller folder); `idle()` resolves once every file is.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.unguard = guardModuleCrashes({
      attribute: (error) => {
        const file = locate(error, this.settings.root)?.file;
        return file !== undefined && this.records.has(file) ? file : undefined;
      },
      report: (module, error, kind) => this.moduleThrew(module, error, kind),
    });
    try {
      this.loader.warmUp?.();
    } catch (error) {
      this.audit.record('loader.warm_up_failed', { error: describe(error) }); // the first load starts what it needs
    }
    if (this.builtins.length > 0) await this.registerBuiltins();
    const baseline = await this.source.start(
      (batch) => this.enqueue(batch),
      (error) => this.watcherError(error),
    );
    this.audit.record('reloader.started', { root: this.settings.root, files: baseline.length });
    for (const file of baseline) this.startup.add(file);
    // A large folder is loaded in two batches: start() resolves once the first is live, so a server can
    // answer its client without waiting for the whole folder; the rest follows at once (one list_changed).
    this.enqueue({ added: baseline.slice(0, FIRST_BATCH_FILES), changed: [], removed: [] });
    await this.idle();
    if (baseline.length > FIRST_BATCH_FILES && this.running) {
      this.enqueue({ added: baseline.slice(FIRST_BATCH_FILES), changed: [], removed: [] });
      void this.settled().then(() => this.startupDone());
    } else this.startupDone();
  }

  /** The files found at start-up are loaded: the loader may start what later loads need. */
  private startupDone(): void {
    if (!this.running) return;
    try {
      this.loader.startupDone?.();
    } catch (error) {
      this.audit.record('loader.warm_up_failed', { error: describe(error) });
    }
  }

  /**
   * Stop watching and unregister the definitions this reloader added (in one
   * commit), so a later reloader on the same server starts clean. Entries
   * registered outside the reloader are untouched.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.source.stop();
    await this.idle();
    try {
      const remove = [...this.active.values()].map(({ definition }) => refOf(definition));
      if (remove.length > 0) this.adapter.commit(await this.adapter.prepare({ upsert: [], remove }));
      this.active.clear();
    } catch (error) {
      this.audit.record('batch.failed', { error: describe(error) });
    }
    for (const [file, record] of this.records) if (record.exports) this.retire(file, record.exports, record.calls);
    await Promise.all(this.disposals);
    this.records.clear();
    this.startup.clear();
    await this.loader.close?.();
    this.unguard?.();
    this.unguard = undefined;
    this.audit.record('reloader.stopped', { root: this.settings.root });
  }

  /**
   * Definitions the reloader itself owns (the control tools). Call before
   * `start()`: they are registered first, and a module offering one of their
   * names gets a name conflict.
   */
  addBuiltins(definitions: readonly AnyDefinition[]): void {
    this.builtins.push(...definitions);
  }

  /** The definitions the reloader serves now (its own and the modules'), in no particular order. */
  definitions(): AnyDefinition[] {
    return [...this.active.values()].map(({ definition }) => definition);
  }

  /** Call `listener` for every reload failure (after it is audited). Returns a function that unsubscribes. */
  onFailure(listener: (failure: ReloadFailure) => void): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  /**
   * Scan the root now and queue whatever differs from what was last loaded
   * (files added, changed or removed that the watcher missed) as one batch,
   * applied by the same serialised transaction as the watcher's batches.
   * Resolves when it has been applied.
   */
  async rescan(): Promise<RescanReport> {
    const found: ChangeBatch = { added: [], changed: [], removed: [] };
    if (!this.running) return { found };
    const listing = this.source.rescan();
    for (const [file, stamp] of listing.files) {
      if (this.deny.reason(file) !== undefined || isCommonJs(file)) continue;
      if (!this.tracked.has(file)) found.added.push(file);
      else if (!sameStamp(this.stamps.get(file), stamp)) found.changed.push(file);
    }
    // What lies under an unreadable folder is unknown, not gone.
    const hidden = (file: string) => listing.unreadable.some((path) => file === path || isInside(path, file));
    for (const file of this.tracked) if (!listing.files.has(file) && !hidden(file)) found.removed.push(file);
    this.audit.record('reloader.rescan', {
      added: found.added.length,
      changed: found.changed.length,
      removed: found.removed.length,
    });
    const before = this.batches;
    this.enqueue(found);
    await this.settled();
    return { found, ...(this.batches > before && this.lastBatch && { batch: this.lastBatch }) };
  }

  /** Queue a batch; batches that arrive during a reload are merged and applied next. */
  enqueue(batch: ChangeBatch): void {
    for (const files of [batch.added, batch.changed, batch.removed]) {
      for (const file of files ?? []) this.refusedLinks.delete(file);
    }
    this.queue.push(batch);
    // A reload under way may be waiting for a version of these files that never finishes its top-level code.
    if (this.draining) this.loader.superseded?.([...batch.added, ...batch.changed, ...batch.removed]);
    if (this.queue.size > 0) this.draining ??= this.drain();
  }

  /** Resolves when every queued batch has been applied. */
  async idle(): Promise<void> {
    while (this.draining || this.disposals.size > 0) {
      await this.settled();
      await Promise.all(this.disposals);
    }
  }

  /** Resolves when every queued batch has been applied (replaced versions may still be disposing). */
  private async settled(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** What is loaded, the last batch and current errors. */
  status(): ReloaderStatus {
    const errors: ModuleErrorReport[] = [];
    for (const [module, record] of this.records) {
      for (const error of [record.error, ...record.conflicts, ...record.rejected.values()]) {
        if (!error) continue;
        errors.push({
          module,
          code: error.code,
          message: error.message,
          ...(error.file !== undefined && { file: error.file }),
          ...(error.line !== undefined && { line: error.line }),
        });
      }
    }
    for (const [module, error] of [...this.disposeErrors, ...this.uncaught]) {
      errors.push({
        module,
        code: error.code,
        message: error.message,
        ...(error.file !== undefined && { file: error.file }),
        ...(error.line !== undefined && { line: error.line }),
      });
    }
    return {
      running: this.running,
      root: this.settings.root,
      trackedFiles: [...this.tracked].sort(),
      modules: this.moduleReports(),
      ...(this.lastBatch && { lastBatch: this.lastBatch }),
      errors,
      ...(this.timerWarnings.size + this.notices.size > 0 && {
        warnings: [...this.timerWarnings.values(), ...this.notices.values()],
      }),
      counts: {
        modules: this.records.size,
        tools: this.count('tool'),
        prompts: this.count('prompt'),
        resources: this.count('resource'),
        batches: this.batches,
        failedLoads: this.failedLoads,
      },
    };
  }

  /**
   * Audit what the change source reports. A symlink resolving outside the
   * root (HOTMCP_ERR_OUTSIDE_ROOT) is reported by watchers each time they
   * look at it: it is audited once, and again only after its path was part of
   * a batch (after it was retargeted inside the root and out again).
   */
  private watcherError(error: Error): void {
    if (isHotMcpError(error) && error.code === 'HOTMCP_ERR_OUTSIDE_ROOT') {
      const path = error.details?.path;
      if (typeof path === 'string') {
        if (this.refusedLinks.has(path)) return;
        this.refusedLinks.add(path);
      }
    }
    this.audit.record('watcher.error', isHotMcpError(error) ? error.toJSON() : { message: error.message });
  }

  private moduleReports(): ModuleReport[] {
    const reports = new Map<string, ModuleReport>();
    for (const [file, record] of [...this.records].sort(([a], [b]) => a.localeCompare(b))) {
      reports.set(file, { file, tools: [], prompts: [], resources: [], failed: record.error !== undefined });
    }
    for (const { file, definition } of this.active.values()) {
      const report = reports.get(file);
      if (report) report[`${listOf(definition.kind)}s`].push(registryName(definition));
    }
    return [...reports.values()];
  }

  /** Register the built-in definitions before any module loads. */
  private async registerBuiltins(): Promise<void> {
    const taken = new Set(this.adapter.list().tools);
    for (const definition of this.builtins) {
      if (!taken.has(definition.name)) continue;
      const conflict = new HotMcpError(
        'HOTMCP_ERR_NAME_CONFLICT',
        `${definition.kind} '${definition.name}' is already registered by the server, outside the reloader; hotmcp's own ${definition.kind} of that name was not added`,
        { details: refOf(definition) },
      );
      this.audit.record('definition.rejected', conflict.toJSON());
      this.failed({ event: 'definition.rejected', error: conflict });
    }
    await this.prepareAndCommit();
  }

  private failed(failure: ReloadFailure): void {
    for (const listener of this.failureListeners) {
      try {
        listener(failure);
      } catch (error) {
        this.audit.record('failure_listener.threw', { error: describe(error) });
      }
    }
  }

  private count(list: ListKind): number {
    return [...this.active.values()].filter(({ definition }) => listOf(definition.kind) === list).length;
  }

  private async drain(): Promise<void> {
    // Yield first, so `draining` is assigned before the finally below clears it.
    await undefined;
    reloadsStarting();
    try {
      while (this.queue.size > 0) {
        const batch = this.queue.take();
        try {
          await this.apply(batch);
        } catch (error) {
          // The transaction handles its own failures; this is the last line of defence.
          this.audit.record('batch.failed', { error: describe(error) });
        }
      }
    } finally {
      this.draining = undefined;
      if (this.running) reclaimAfterReloads((fields) => this.audit.record('memory.reclaimed', { ...fields }));
    }
  }

  private allowed(file: string): boolean {
    const reason = this.deny.reason(file);
    if (reason !== undefined) this.audit.record('file.denied', { file, reason });
    return reason === undefined && !this.notLoaded(file);
  }

  /**
   * A CommonJS file (`.cjs`, `.cts`) is no tool module: it is not loaded, and
   * a module importing it gets Node's own copy, never reloaded. Said once per
   * file (stderr, audit), so a tool written that way is not missing silently.
   */
  private notLoaded(file: string): boolean {
    if (!isCommonJs(file)) return false;
    if (this.skipped.has(file)) return true;
    this.skipped.add(file);
    const message = `${file} is CommonJS (${extname(file)}): hotmcp does not load it as a tool module, and a module importing it gets Node's own copy, which is never reloaded. Write tool modules and their helpers as ES modules (.ts, .mts, .js, .mjs) to have them hot-reloaded.`;
    this.audit.record('file.skipped', { file, code: 'HOTMCP_WARN_NOT_LOADED', message });
    process.stderr.write(`hotmcp: ${message}\n`);
    return true;
  }

  /** A loader's notice, said once per code and file (stderr, audit, status). */
  private notice(module: string, notice: LoadNotice): void {
    const key = `${notice.code}\0${notice.file}`;
    if (this.notices.has(key)) return;
    this.notices.set(key, { module, code: notice.code, message: notice.message, file: notice.file });
    this.audit.record('module.notice', { module, ...notice });
    process.stderr.write(`hotmcp: ${notice.message}\n`);
  }

  private async apply(batch: ChangeBatch): Promise<void> {
    const started = performance.now();
    const touched = [...batch.added, ...batch.changed].filter((file) => this.allowed(file));
    const removed = batch.removed.filter((file) => this.tracked.has(file));
    for (const file of touched) this.tracked.add(file);
    for (const file of removed) this.tracked.delete(file);
    for (const file of touched) this.stamps.set(file, this.source.stamp(file));
    for (const file of removed) this.stamps.delete(file);
    for (const file of removed) this.startup.delete(file);

    // Affected: what changed, everything that imports it, and (when files
    // appeared) failed modules, whose missing import may now exist.
    // Data files (JSON) are no modules of their own: the modules that import them are reloaded, and
    // the loader forgets its copy so they read the new text.
    const assets = [...touched, ...removed].filter(isAsset);
    const affected = new Set(touched.filter((file) => !isAsset(file)));
    for (const file of this.loader.importersOf([...touched, ...removed])) affected.add(file);
    this.loader.forget(assets);
    // A watcher may report a file re-created before it saw the removal as changed, not added: a module
    // waiting for a missing import is loaded again when a file appears where that import points.
    const stems = new Set(touched.map(stem));
    for (const [file, record] of this.records) {
      if (!record.error) continue;
      const awaited = awaitedImport(file, record.error);
      if (batch.added.length > 0 || (awaited !== undefined && stems.has(awaited))) affected.add(file);
    }
    const toLoad = [...affected].filter((file) => this.tracked.has(file) && this.deny.reason(file) === undefined);
    // Only files of the first scan, none loaded before: the start-up's load (a batch a watcher's change was
    // merged into is loaded as any reload is).
    const startup = toLoad.length > 0 && toLoad.every((file) => this.startup.has(file));
    for (const file of toLoad) this.startup.delete(file);

    const replaced: Array<{ file: string; exports: Record<string, unknown>; calls: CallsInFlight | undefined }> = [];
    let failed = 0;
    let precompiled = 0;
    for (const result of await this.loadEach(toLoad.sort(), startup, batch.compiled)) {
      const record: ModuleRecord = this.records.get(result.file) ?? {
        definitions: [],
        conflicts: [],
        rejected: new Map(),
      };
      this.records.set(result.file, record);
      try {
        if (!result.ok) throw result.error;
        if (result.precompiled) precompiled++;
        const calls = new CallsInFlight();
        const definitions = countCalls(await this.definitionsOf(result.file, result.exports), calls);
        if (record.exports) replaced.push({ file: result.file, exports: record.exports, calls: record.calls });
        record.exports = result.exports;
        record.definitions = definitions;
        record.calls = calls;
        this.uncaught.delete(result.file);
        this.checkTimers(result.file, result.exports, result.timersLeft ?? 0);
        for (const notice of result.notices ?? []) this.notice(result.file, notice);
        record.rejected.clear();
        delete record.error;
      } catch (error) {
        failed++;
        record.error = toHotMcpError(error, result.file);
        this.audit.record('module.failed', { module: result.file, ...record.error.toJSON() });
        this.failed({ event: 'module.failed', module: result.file, error: record.error });
      }
    }
    this.failedLoads += failed;
    for (const file of removed) {
      const record = this.records.get(file);
      if (record?.exports) replaced.push({ file, exports: record.exports, calls: record.calls });
      this.uncaught.delete(file);
      this.timerWarnings.delete(file);
      this.records.delete(file);
    }
    this.loader.forget(removed);

    const next = await this.prepareAndCommit();
    if (!next) return;

    for (const { file, exports, calls } of replaced) this.retire(file, exports, calls);
    this.batches++;
    this.lastBatch = {
      at: new Date().toISOString(),
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      added: batch.added.length,
      changed: batch.changed.length,
      removed: removed.length,
      loaded: toLoad.length,
      failed,
      ...(precompiled > 0 && { precompiled }),
      ...next,
    };
    this.audit.record('batch.applied', { ...this.lastBatch });
  }

  /**
   * Load `files` as one batch. Should the loader throw for the batch as a
   * whole (a fault it did not contain), each file is loaded on its own, so
   * one module's fault never costs another module its change.
   */
  private async loadEach(files: string[], startup: boolean, compiled: ChangeBatch['compiled']): Promise<LoadResult[]> {
    if (files.length === 0) return [];
    try {
      const options = { ...(startup && { startup }), ...(compiled && { compiled }) };
      return await (Object.keys(options).length > 0 ? this.loader.load(files, options) : this.loader.load(files));
    } catch (error) {
      const [only] = files;
      if (files.length === 1 && only !== undefined)
        return [{ file: only, ok: false, error: toHotMcpError(error, only) }];
      this.audit.record('loader.batch_failed', { error: describe(error), files: files.length });
      const results: LoadResult[] = [];
      for (const file of files) results.push(...(await this.loadEach([file], startup, compiled)));
      return results;
    }
  }

  /**
   * A module's definitions: those it exports, and those its register function
   * (`register` or a default-exported function) registers on the adapter's
   * recording server, awaited within the capture time limit.
   */
  private async definitionsOf(file: string, exports: Record<string, unknown>): Promise<AnyDefinition[]> {
    const definitions = extractDefinitions(file, exports);
    const found = registerFunctionOf(exports);
    if (found === undefined) return definitions;
    const [exportName, register] = found;
    const label = exportName === 'default' ? 'default-exported register function' : 'register(server)';
    if (typeof this.adapter.capture !== 'function') {
      throw new HotMcpError(
        'HOTMCP_ERR_CAPTURE_UNSUPPORTED',
        `${file} exports a ${label}, but the registry adapter ${this.adapter.adapterName} cannot capture registrations (it has no capture()); export definitions made with defineTool() instead`,
        { file, details: { export: exportName } },
      );
    }
    const timeoutMs = this.settings.captureTimeoutMs ?? DEFAULT_CAPTURE_TIMEOUT_MS;
    const controller = new AbortController();
    const timer = setTimeout(
      () =>
        controller.abort(
          new HotMcpError(
            'HOTMCP_ERR_IMPORT_TIMEOUT',
            `${file}: its ${label} did not settle within ${timeoutMs} ms; nothing it registered was applied`,
            { file, details: { export: exportName, timeoutMs } },
          ),
        ),
      timeoutMs,
    );
    let captured: AnyDefinition[];
    try {
      ({ definitions: captured } = await this.adapter.capture(register, {
        file,
        root: this.settings.root,
        signal: controller.signal,
      }));
    } catch (error) {
      if (isHotMcpError(error)) throw error;
      const where = locate(error, this.settings.root);
      throw new HotMcpError('HOTMCP_ERR_IMPORT_THREW', `${file}: its ${label} threw: ${describe(error)}`, {
        file: where?.file ?? file,
        ...(where && { line: where.line }),
        ...(where?.column !== undefined && { column: where.column }),
        cause: error,
        details: { module: file, export: exportName },
      });
    } finally {
      clearTimeout(timer);
    }
    const exported = new Set(definitions.map(keyOf));
    for (const definition of captured) {
      if (!exported.has(keyOf(definition))) continue;
      const line = definitionLine(definition, file);
      throw new HotMcpError(
        'HOTMCP_ERR_DUPLICATE_NAME',
        `${file}: ${definition.kind} '${registryName(definition)}' is both exported and registered by its ${label}`,
        {
          file,
          ...(line !== undefined && { line }),
          details: { kind: definition.kind, name: registryName(definition) },
        },
      );
    }
    return [...definitions, ...captured];
  }

  /** Work out who owns each name, check the change with the adapter, and commit it. */
  private async prepareAndCommit(): Promise<Pick<BatchReport, 'upserted' | 'removedEntries' | 'notified'> | undefined> {
    const snapshot = this.adapter.list();
    const foreign = new Set<string>();
    for (const [kind, names] of [
      ['tool', snapshot.tools],
      ['prompt', snapshot.prompts],
      ['resource', snapshot.resources],
      ['resourceTemplate', snapshot.resourceTemplates],
    ] as const) {
      for (const name of names) {
        const key = keyOf({ kind, name });
        if (!this.active.has(key)) foreign.add(key);
      }
    }

    let next = this.resolveOwnership(foreign);
    let change = diffOwnership(this.active, next);
    for (let attempt = 0; ; attempt++) {
      try {
        const prepared = await this.adapter.prepare(change);
        const { notified } = this.adapter.commit(prepared);
        this.active = next;
        return {
          upserted: change.upsert.map(keyOf),
          removedEntries: change.remove.map(keyOf),
          notified,
        };
      } catch (error) {
        const key = rejectedKey(error);
        const owner = key === undefined ? undefined : next.get(key);
        if (key === undefined || owner === undefined || attempt > change.upsert.length) {
          this.audit.record('batch.failed', { error: describe(error) });
          this.failed({ event: 'batch.failed', error: asHotMcpError(error) });
          return undefined;
        }
        // One definition the adapter cannot take: refuse it, keep the rest.
        const refused =
          owner.file === BUILTIN
            ? toHotMcpError(error, owner.file)
            : withDefinitionLine(toHotMcpError(error, owner.file), owner.definition, owner.file);
        if (owner.file === BUILTIN) this.builtins = this.builtins.filter((builtin) => keyOf(builtin) !== key);
        this.records.get(owner.file)?.rejected.set(key, refused);
        this.audit.record('definition.rejected', { module: owner.file, ...refused.toJSON() });
        this.failed({ event: 'definition.rejected', module: owner.file, error: refused });
        next = this.resolveOwnership(foreign);
        change = diffOwnership(this.active, next);
      }
    }
  }

  private resolveOwnership(foreign: ReadonlySet<string>): Map<string, Owned> {
    const input = { builtins: this.builtins, active: this.active, records: this.records, foreign };
    return resolveOwnership(input, (file, conflict) => {
      this.audit.record('definition.rejected', conflict.toJSON());
      this.failed({ event: 'definition.rejected', module: file, error: conflict });
    });
  }

  /**
   * A module that leaves timers running at import and exports no `dispose`
   * adds more with every reload: said once per module (stderr, audit, status)
   * with the fix; forgotten once a version cleans up after itself.
   */
  private checkTimers(file: string, exports: Record<string, unknown>, timers: number): void {
    if (timers === 0 || typeof exports[DISPOSE] === 'function') {
      this.timerWarnings.delete(file);
      return;
    }
    if (this.timerWarnings.has(file)) return;
    const message = `${file} leaves ${timers} timer${timers === 1 ? '' : 's'} running at import and exports no dispose(): every reload adds more. Export a dispose() that clears them (clearInterval/clearTimeout).`;
    this.timerWarnings.set(file, { module: file, code: 'HOTMCP_WARN_TIMERS_LEFT', message, file });
    this.audit.record('module.timers_left', { module: file, timers, message });
    process.stderr.write(`hotmcp: ${message}\n`);
  }

  /** A module's code threw after its import, where nothing caught it: audited and shown, the server goes on. */
  private moduleThrew(module: string, thrown: unknown, kind: 'uncaughtException' | 'unhandledRejection'): void {
    const where = locate(thrown, this.settings.root);
    const what = kind === 'uncaughtException' ? 'an uncaught exception' : 'an unhandled rejection';
    const error = new HotMcpError(
      'HOTMCP_ERR_UNCAUGHT',
      `${module} raised ${what} after its import: ${describe(thrown)}`,
      {
        file: where?.file ?? module,
        ...(where && { line: where.line }),
        cause: thrown,
        details: { module, kind },
      },
    );
    this.uncaught.set(module, error);
    this.audit.record('module.uncaught', { module, ...error.toJSON() });
    this.failed({ event: 'module.uncaught', module, error });
  }

  /**
   * Dispose of a replaced (or removed) version in the background, so the
   * next batch never waits for it: once the calls it started have finished
   * (or {@link IN_FLIGHT_LIMIT_MS} passed), its `dispose` hook runs under a
   * time limit. A hook that throws or overruns is audited and shown in status.
   */
  private retire(file: string, exports: Record<string, unknown>, calls: CallsInFlight | undefined): void {
    const dispose = exports[DISPOSE];
    if (typeof dispose !== 'function') return;
    const task = (async () => {
      if (calls && calls.size > 0 && (await withinLimit(calls.idle(), IN_FLIGHT_LIMIT_MS)) === 'timeout') {
        this.audit.record('module.calls_overran', {
          module: file,
          inFlight: calls.size,
          timeoutMs: IN_FLIGHT_LIMIT_MS,
        });
      }
      const failure = await runDispose(
        file,
        () => dispose(),
        this.settings.root,
        () => {
          this.audit.record('module.dispose_settled', { module: file });
          if (this.disposeErrors.get(file) === failure) this.disposeErrors.delete(file);
        },
      );
      if (!failure) {
        this.disposeErrors.delete(file);
        return;
      }
      this.disposeErrors.set(file, failure);
      this.audit.record('module.dispose_failed', failure.toJSON());
    })();
    this.disposals.add(task);
    void task.finally(() => this.disposals.delete(task));
  }
}

/** `.cjs` and `.cts` files: CommonJS, never loaded as tool modules. */
function isCommonJs(file: string): boolean {
  return /\.c[jt]s$/.test(file);
}

/** A path without its extension: what an import specifier and the file it resolves to share. */
function stem(file: string): string {
  return file.slice(0, file.length - extname(file).length);
}

/** Where the local import a module failed on (HOTMCP_ERR_MODULE_NOT_FOUND) points, without extension. */
function awaitedImport(file: string, error: HotMcpError): string | undefined {
  const specifier = error.details?.specifier;
  if (error.code !== 'HOTMCP_ERR_MODULE_NOT_FOUND' || typeof specifier !== 'string' || !specifier.startsWith('.')) {
    return undefined;
  }
  return stem(resolve(dirname(error.file ?? file), specifier));
}
