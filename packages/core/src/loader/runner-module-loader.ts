import { createRequire, Module } from 'node:module';
import { dirname, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { inject, injectable } from 'tsyringe';
import { HotMcpError, isHotMcpError } from '../errors.js';
import type { LoadResult, ModuleLoader } from '../ports/module-loader.js';
import { type ReloaderSettings, TOKENS } from '../tokens.js';
import { VERSION_PARAM } from './esm-hooks.js';
import { ImportGraph } from './import-graph.js';
import { toLoadError } from './load-error.js';
import { outsideRoot, readModuleSource } from './module-source.js';
import { ImportPreflight, type PreflightOption, type PreflightSource, preflightTimeout } from './preflight.js';
import { type ResolvedImport, resolveImport, resolveUrl } from './runner-resolve.js';
import type { TransformedModule } from './runner-transform.js';

/** Settings the runner loader reads besides the shared ones. */
export interface RunnerLoaderSettings extends ReloaderSettings {
  /**
   * Evaluate new versions in a worker thread first, under a time limit
   * (default), or not at all (`false`).
   */
  preflight?: PreflightOption;
}

type Namespace = Record<string, unknown>;
type Body = AsyncGenerator<undefined, void, undefined>;
type ModuleFunction = (
  module: { exports: Namespace },
  require: (specifier: string) => unknown,
  meta: object,
  dynamicImport: (specifier: unknown, options?: unknown) => Promise<unknown>,
) => Body;
type Importer = (specifier: string, options?: unknown) => Promise<Namespace>;

interface ImportEdge {
  specifier: string;
  target: ResolvedImport;
  /** The runner module a local import links to. */
  module?: RunnerModule;
}

/** One evaluated (or evaluating) version of one file. */
interface RunnerModule {
  readonly file: string;
  /** The load (or dynamic import) that created it. */
  readonly generation: number;
  /** What importers and the engine see: live getters onto the module's bindings. */
  readonly namespace: Namespace;
  status: 'linking' | 'linked' | 'evaluating' | 'evaluated' | 'failed';
  imports: ImportEdge[];
  /** Specifier → namespace, filled just before the body runs; what the module's `require` answers. */
  readonly linked: Map<string, unknown>;
  body?: Body;
  /** Settles when the module is compiled and its imports resolved (its local imports are linking by then). */
  ready: Promise<void>;
  evaluation?: Promise<void>;
  /** The module this one's evaluation is waiting for: walked to never wait in a circle. */
  waitingFor?: RunnerModule;
  error?: HotMcpError;
  /** Kept while loading, to point a failed import at its line. */
  source?: string;
}

const NO_FILES: ReadonlySet<string> = new Set();

/** Packages and files outside the root that the modules import: the next worker imports them ahead. */
function externalsOf(modules: RunnerModule[]): Array<[string, string, boolean]> {
  return modules.flatMap((module) =>
    module.imports.flatMap(
      ({ target }): Array<[string, string, boolean]> =>
        target.kind === 'external' ? [[module.file, target.specifier, target.json]] : [],
    ),
  );
}

/** True when `module` imports, directly or not, a module that already failed. */
function reachesFailed(module: RunnerModule, seen = new Set<RunnerModule>()): boolean {
  seen.add(module);
  return module.imports.some(
    ({ module: next }) =>
      next !== undefined && !seen.has(next) && (next.status === 'failed' || reachesFailed(next, seen)),
  );
}

function importTimeout(file: string, culprit: string, timeoutMs: number): HotMcpError {
  const where = culprit === file ? '' : ` (its import ${culprit} did not finish)`;
  return new HotMcpError(
    'HOTMCP_ERR_IMPORT_TIMEOUT',
    `Failed to load ${file}: its top-level code did not finish within ${timeoutMs} ms${where}; it was stopped in a worker thread before it could run here`,
    { file: culprit, details: { module: file, timeoutMs } },
  );
}
const IMPORTER_SOURCE = 'module.exports = (specifier, options) => import(specifier, options);';
const JSON_IMPORT = { with: { type: 'json' } };

// One counter for the process, so every compiled version has its own file name (and source map).
let nextVersion = 0;
// The CommonJS module a version was compiled in: Node keeps its source map only while it lives.
const compiledIn = new WeakMap<Namespace, Module>();

// V8 (Node 22 and later) keeps every compiled source in its compilation cache,
// and only a last-resort GC empties it: a version compiled there would never be
// freed, and a long-lived server reloading its tools runs out of memory. The
// cache is switched off for the runner's own compilations only, and only if the
// process did not switch it off itself.
const switchCompilationCache = !`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`.includes(
  'no-compilation-cache',
);

function compileCommonJs(code: string, filename: string): Module {
  const module = new Module(filename);
  module.filename = filename;
  if (switchCompilationCache) setFlagsFromString('--no-compilation-cache');
  try {
    (module as unknown as { _compile(code: string, filename: string): void })._compile(code, filename);
  } finally {
    if (switchCompilationCache) setFlagsFromString('--compilation-cache');
  }
  return module;
}

let sourceMaps = false;
/** Stack traces of compiled modules point at their `.ts` lines: Node maps them once this is on. */
function enableSourceMaps(): void {
  if (sourceMaps) return;
  sourceMaps = true;
  process.setSourceMapsEnabled(true);
}

function createNamespace(): Namespace {
  const namespace = Object.create(null) as Namespace;
  Object.defineProperty(namespace, Symbol.toStringTag, { value: 'Module' });
  return namespace;
}

function lineOf(source: string | undefined, specifier: string): number | undefined {
  if (source === undefined) return undefined;
  for (const quote of ["'", '"', '`']) {
    const at = source.indexOf(`${quote}${specifier}${quote}`);
    if (at !== -1) return source.slice(0, at).split('\n').length;
  }
  return undefined;
}

/**
 * A binding read before its module ran (an import cycle) throws inside the
 * namespace getter, which source maps place at line 1 of the exporting
 * module; Node reports the line that read it. Drop that frame.
 */
function withoutGetterFrame(error: unknown): unknown {
  if (!(error instanceof ReferenceError) || !/^Cannot access '[^']+' before initialization$/.test(error.message)) {
    return error;
  }
  const lines = (error.stack ?? '').split('\n');
  const top = lines.findIndex((line) => line.trimStart().startsWith('at '));
  if (top === -1 || !/^\s*at Module\.\S+ \(.*:1:1\)$/.test(lines[top] as string)) return error;
  const view = new ReferenceError(error.message);
  view.stack = [...lines.slice(0, top), ...lines.slice(top + 1)].join('\n');
  return view;
}

/**
 * A loader that evaluates the modules inside the root in its own registry:
 * each file is compiled by esbuild (TypeScript and ESM in, live-binding
 * CommonJS-style code out) and run by Node's CommonJS compiler with a source
 * map, so stack traces point at the original lines. A replaced version is
 * referenced by nothing the runner keeps, so it is garbage once the engine
 * lets it go: memory stays bounded however often a file is reloaded.
 * Everything outside the root (packages, builtins, the server's own files) is
 * imported by Node itself, so tool modules and the server share one instance
 * of every package.
 */
@injectable()
export class RunnerModuleLoader implements ModuleLoader {
  private readonly root: string;
  private readonly graph = new ImportGraph();
  /** The latest good version of every file. */
  private readonly current = new Map<string, RunnerModule>();
  /** Versions being loaded, not yet committed. */
  private readonly pending = new Map<string, RunnerModule>();
  private readonly generations = new Map<number, RunnerModule[]>();
  private generation = 0;
  private readonly compiled = new Map<string, { source: string; result: Promise<TransformedModule> }>();
  private readonly importers = new Map<string, Importer>();
  private preflight: ImportPreflight | undefined;

  constructor(@inject(TOKENS.settings) private readonly settings: RunnerLoaderSettings) {
    this.root = settings.root.endsWith(sep) ? settings.root : settings.root + sep;
  }

  async load(files: readonly string[]): Promise<LoadResult[]> {
    enableSourceMaps();
    const generation = this.begin();
    const fresh = new Set(files);
    const results: LoadResult[] = [];
    try {
      // Link every requested file at once (esbuild compiles them in parallel), then evaluate them in order.
      const modules = files.map((file) => this.link(file, generation, fresh));
      if (this.settings.preflight !== false) await this.checkInWorker(modules, generation);
      for (const module of modules) {
        await this.settle(undefined, module);
        results.push(
          module.status === 'evaluated'
            ? { file: module.file, ok: true, exports: module.namespace }
            : { file: module.file, ok: false, error: module.error ?? this.failure(module.file) },
        );
      }
    } finally {
      this.commit(generation);
    }
    return results;
  }

  importersOf(files: Iterable<string>): Set<string> {
    return this.graph.importersOf(files);
  }

  forget(files: Iterable<string>): void {
    for (const file of files) {
      this.graph.forget(file);
      this.current.delete(file);
      this.compiled.delete(file);
      this.importers.delete(file);
    }
  }

  /**
   * Start the preflight worker now, so its start overlaps the watcher's start
   * and the first scan, and have it import `@hotmcp/core` as a tool module in
   * the root would (what tool modules import `defineTool` from; nothing when
   * it does not resolve from there).
   */
  warmUp(): void {
    if (this.settings.preflight === false) return;
    this.preflight ??= new ImportPreflight(preflightTimeout(this.settings.preflight));
    this.preflight.warmUp([[`${this.root}index.js`, '@hotmcp/core', false]]);
  }

  async close(): Promise<void> {
    await this.preflight?.close();
    this.preflight = undefined;
    this.current.clear();
    this.pending.clear();
    this.compiled.clear();
    this.importers.clear();
  }

  private begin(): number {
    const generation = ++this.generation;
    this.generations.set(generation, []);
    return generation;
  }

  /** Make a generation's evaluated versions current; a file whose new version failed is evaluated afresh next time. */
  private commit(generation: number): void {
    for (const module of this.generations.get(generation) ?? []) {
      if (this.pending.get(module.file) === module) this.pending.delete(module.file);
      const newer = (this.current.get(module.file)?.generation ?? 0) < module.generation;
      if (module.status === 'evaluated' && newer) this.current.set(module.file, module);
      else if (module.status === 'failed' && newer) this.current.delete(module.file);
      module.source = undefined;
    }
    this.generations.delete(generation);
  }

  /** The version of `file` this generation uses, when there is one already. */
  private lookup(file: string, generation: number, fresh: ReadonlySet<string>): RunnerModule | undefined {
    const pending = this.pending.get(file);
    if (pending && (pending.generation === generation || !fresh.has(file))) return pending;
    return fresh.has(file) ? undefined : this.current.get(file);
  }

  /** The text of `file` (a seam for the preflight worker, which is handed the texts the main thread read). */
  protected async readSource(file: string): Promise<string> {
    return readModuleSource(file, this.settings.root);
  }

  /**
   * Called when a module starts evaluating (its imports first, then its body)
   * and when it is done, failed or not: how the preflight worker reports progress.
   */
  protected traceEvaluation(_file: string, _done: boolean): void {}

  /** Compile `source`, or reuse the last compilation of `file` if its text has not changed. */
  protected transform(file: string, source: string): Promise<TransformedModule> {
    const cached = this.compiled.get(file);
    if (cached?.source === source) return cached.result;
    // Imported on first use: a preflight worker, handed the main thread's compilations, never loads esbuild.
    const result = import('./runner-transform.js').then(({ transformModule }) => transformModule(file, source));
    this.compiled.set(file, { source, result });
    return result;
  }

  /** Create a new version of `file` and start compiling and linking it (and, from there, its local imports). */
  private link(file: string, generation: number, fresh: ReadonlySet<string>): RunnerModule {
    const existing = this.lookup(file, generation, fresh);
    if (existing) return existing;
    const module: RunnerModule = {
      file,
      generation,
      namespace: createNamespace(),
      status: 'linking',
      imports: [],
      linked: new Map(),
      ready: Promise.resolve(),
    };
    this.pending.set(file, module);
    this.generations.get(generation)?.push(module);
    module.ready = this.compile(module, fresh);
    return module;
  }

  private async compile(module: RunnerModule, fresh: ReadonlySet<string>): Promise<void> {
    const { file } = module;
    try {
      const source = await this.readSource(file);
      module.source = source;
      if (file.endsWith('.json')) {
        module.namespace.default = JSON.parse(source);
      } else {
        const { code, imports } = await this.transform(file, source);
        const compiled = compileCommonJs(code, `${file}?${VERSION_PARAM}=${++nextVersion}`);
        compiledIn.set(module.namespace, compiled);
        module.body = (compiled.exports as ModuleFunction)(
          { exports: module.namespace },
          (specifier) => this.require(module, specifier),
          this.meta(file),
          (specifier, options) => this.dynamicImport(module, String(specifier), options),
        );
        await module.body.next(); // defines the exports' getters; runs none of the module's own code
        module.imports = imports.map((specifier) => ({ specifier, target: resolveImport(specifier, file, this.root) }));
      }
      const locals = module.imports.flatMap(({ target }) => (target.kind === 'local' ? [target.file] : []));
      this.graph.setImports(file, locals);
      const missing = module.imports.find(({ target }) => target.kind === 'missing');
      if (missing) throw this.missingImport(module, missing.specifier);
      for (const { specifier, target } of module.imports) {
        if (target.kind !== 'outside') continue;
        const line = lineOf(module.source, specifier);
        throw outsideRoot(file, target.resolved, this.settings.root, {
          specifier,
          importer: file,
          ...(line !== undefined && { line }),
        });
      }
      for (const edge of module.imports) {
        if (edge.target.kind === 'local') edge.module = this.link(edge.target.file, module.generation, fresh);
      }
      module.status = 'linked';
    } catch (error) {
      this.fail(module, error);
    }
  }

  /**
   * Wait until `target` is evaluated, starting it if needed. A module never
   * waits, directly or through others, for one that waits for it (an import
   * cycle, or a top-level `await import()` of an importer): it goes on with
   * the bindings as they are, as Node does in a static cycle.
   */
  private async settle(waiter: RunnerModule | undefined, target: RunnerModule): Promise<void> {
    if (target.status === 'evaluated' || target.status === 'failed') return;
    if (waiter) {
      for (let module: RunnerModule | undefined = target; module; module = module.waitingFor) {
        if (module === waiter) return;
      }
      waiter.waitingFor = target;
    }
    try {
      target.evaluation ??= this.evaluate(target);
      await target.evaluation;
    } finally {
      if (waiter) waiter.waitingFor = undefined;
    }
  }

  /** Evaluate the imports in order (packages through Node), then the module's body. */
  private async evaluate(module: RunnerModule): Promise<void> {
    await module.ready;
    if (module.status === 'failed') return;
    module.status = 'evaluating';
    this.traceEvaluation(module.file, false);
    try {
      for (const edge of module.imports) {
        if (edge.target.kind === 'external') {
          const namespace = await this.importExternal(module, edge.specifier, edge.target);
          module.linked.set(edge.specifier, this.external(module.file, edge.target.specifier, namespace));
        } else if (edge.module) {
          await this.settle(module, edge.module);
          if (edge.module.status === 'failed') throw this.dependencyFailed(module, edge.module);
          module.linked.set(edge.specifier, edge.module.namespace);
        }
      }
      await module.body?.next();
      module.status = 'evaluated';
    } catch (error) {
      this.fail(module, error);
    } finally {
      module.body = undefined;
      this.traceEvaluation(module.file, true);
    }
  }

  /**
   * Evaluate the new versions of a batch in a worker thread first, with the
   * texts and compilations read here, under a time limit: a module whose
   * top-level code does not finish there fails with HOTMCP_ERR_IMPORT_TIMEOUT
   * and is never evaluated on this thread. Modules the worker did not reach
   * (it was stopped before them) are checked again in a fresh worker.
   */
  private async checkInWorker(batch: RunnerModule[], generation: number): Promise<void> {
    const timeoutMs = preflightTimeout(this.settings.preflight);
    const closure = await this.closureOf(batch);
    const fresh = this.generations.get(generation) ?? [];
    let pending = batch.filter((module) => module.status !== 'failed');
    while (pending.length > 0) {
      this.preflight ??= new ImportPreflight(timeoutMs);
      const outcome = await this.preflight.run({
        root: this.settings.root,
        files: pending.map((module) => module.file),
        sources: await this.sourcesOf(closure),
        externals: externalsOf(closure),
      });
      if (outcome.kind !== 'timeout') return;
      const hung = new Set(outcome.running);
      const culprit = outcome.running.at(-1) as string;
      for (const module of fresh) {
        if (module.status !== 'failed' && hung.has(module.file)) {
          this.fail(module, importTimeout(module.file, culprit, timeoutMs));
        }
      }
      // Left: what the worker never reached. One that imports a module that timed out fails here on its own.
      const finished = new Set(outcome.finished);
      const next = pending.filter((module) => module.status !== 'failed' && !finished.has(module.file));
      if (next.length === pending.length || hung.size === 0) return; // no progress: let this thread decide
      pending = next.filter((module) => !reachesFailed(module));
    }
  }

  /** Every module the batch reaches through local imports, once each is compiled and linked. */
  private async closureOf(batch: RunnerModule[]): Promise<RunnerModule[]> {
    const seen = new Set<RunnerModule>();
    const visit = async (module: RunnerModule): Promise<void> => {
      if (seen.has(module)) return;
      seen.add(module);
      await module.ready;
      await Promise.all(module.imports.map((edge) => (edge.module ? visit(edge.module) : undefined)));
    };
    await Promise.all(batch.map(visit));
    return [...seen];
  }

  /** The texts and compilations of the modules this thread would evaluate, for the worker to use as they are. */
  private async sourcesOf(modules: RunnerModule[]): Promise<PreflightSource[]> {
    const sources: PreflightSource[] = [];
    for (const module of modules) {
      const compiled = this.compiled.get(module.file);
      if (!compiled) continue;
      const result = await compiled.result.catch(() => undefined);
      if (result)
        sources.push({ file: module.file, source: compiled.source, code: result.code, imports: result.imports });
    }
    return sources;
  }

  private fail(module: RunnerModule, error: unknown): void {
    module.status = 'failed';
    module.body = undefined;
    if (isHotMcpError(error)) {
      module.error = error;
      return;
    }
    const view = withoutGetterFrame(error);
    const located = toLoadError(view, module.file, this.settings.root);
    module.error =
      view === error
        ? located
        : new HotMcpError(located.code, located.message, {
            ...(located.file !== undefined && { file: located.file }),
            ...(located.line !== undefined && { line: located.line }),
            ...(located.column !== undefined && { column: located.column }),
            cause: error,
            ...(located.details && { details: located.details }),
          });
  }

  private require(module: RunnerModule, specifier: string): unknown {
    if (module.linked.has(specifier)) return module.linked.get(specifier);
    throw new ReferenceError('require is not defined in ES module scope, you can use import instead');
  }

  /**
   * What a module of `file` sees as `import.meta` (a seam: a subclass may add
   * to it, as `hotmcp dev` adds `import.meta.hot`). Called once per version.
   */
  protected meta(file: string): object {
    let require: NodeJS.Require | undefined;
    return {
      __proto__: null,
      url: pathToFileURL(file).href,
      filename: file,
      dirname: dirname(file),
      resolve: (specifier: string) => {
        require ??= createRequire(file);
        return resolveUrl(specifier, file, this.root, require);
      },
    };
  }

  /**
   * What `file` sees of a package it imports (a seam: a subclass may hand a
   * module a view of a package, as `hotmcp dev` does for the SDK's McpServer).
   */
  protected external(_file: string, _specifier: string, namespace: Record<string, unknown>): Record<string, unknown> {
    return namespace;
  }

  /** Node's `import()` as seen from `file`: resolved from there, shared with the server. */
  private importerFor(file: string): Importer {
    let importer = this.importers.get(file);
    if (!importer) {
      importer = compileCommonJs(IMPORTER_SOURCE, file).exports as Importer;
      this.importers.set(file, importer);
    }
    return importer;
  }

  private async importExternal(
    module: RunnerModule,
    specifier: string,
    target: Extract<ResolvedImport, { kind: 'external' }>,
  ): Promise<Namespace> {
    try {
      return await this.importerFor(module.file)(target.specifier, target.json ? JSON_IMPORT : undefined);
    } catch (error) {
      const located = toLoadError(error, module.file, this.settings.root);
      if (located.line !== undefined && located.code !== 'HOTMCP_ERR_MODULE_NOT_FOUND') throw located;
      // Not found, or failed somewhere outside the root: point at the import.
      const line = lineOf(module.source, specifier) ?? located.line;
      const reason = located.message.replace(/^Failed to load \S+(?: \([^)]*\))?: /, '');
      const at = line === undefined ? '' : ` (${module.file}:${line})`;
      throw new HotMcpError(located.code, `Failed to load ${module.file}${at}: ${reason}`, {
        file: module.file,
        ...(line !== undefined && { line }),
        cause: error,
        details: { module: module.file, specifier },
      });
    }
  }

  private async dynamicImport(caller: RunnerModule, specifier: string, options?: unknown): Promise<unknown> {
    const target = resolveImport(specifier, caller.file, this.root);
    if (target.kind === 'missing') {
      throw Object.assign(new Error(`Cannot find module '${specifier}' imported from ${caller.file}`), {
        code: 'ERR_MODULE_NOT_FOUND',
      });
    }
    if (target.kind === 'outside') {
      throw outsideRoot(caller.file, target.resolved, this.settings.root, { specifier, importer: caller.file });
    }
    if (target.kind === 'external') {
      const namespace = await this.importerFor(caller.file)(
        target.specifier,
        options ?? (target.json ? JSON_IMPORT : undefined),
      );
      return this.external(caller.file, target.specifier, namespace);
    }
    const generation = this.begin();
    const module = this.link(target.file, generation, NO_FILES);
    try {
      await this.settle(caller.status === 'evaluating' ? caller : undefined, module);
    } finally {
      this.commit(generation);
    }
    const latest = this.pending.get(caller.file) ?? this.current.get(caller.file);
    if (latest === caller) this.graph.setImports(caller.file, [target.file], true);
    if (module.status === 'failed') throw module.error;
    return module.namespace;
  }

  private missingImport(module: RunnerModule, specifier: string): HotMcpError {
    const line = lineOf(module.source, specifier);
    const at = line === undefined ? '' : ` (${module.file}:${line})`;
    return new HotMcpError(
      'HOTMCP_ERR_MODULE_NOT_FOUND',
      `Failed to load ${module.file}${at}: Cannot find module '${specifier}' imported from ${module.file}`,
      { file: module.file, ...(line !== undefined && { line }), details: { module: module.file, specifier } },
    );
  }

  private dependencyFailed(module: RunnerModule, dependency: RunnerModule): HotMcpError {
    const cause = dependency.error as HotMcpError;
    return new HotMcpError(cause.code, `Failed to load ${module.file}: ${cause.message}`, {
      ...(cause.file !== undefined && { file: cause.file }),
      ...(cause.line !== undefined && { line: cause.line }),
      ...(cause.column !== undefined && { column: cause.column }),
      cause,
      details: { ...cause.details, module: module.file },
    });
  }

  private failure(file: string): HotMcpError {
    return new HotMcpError('HOTMCP_ERR_LOAD_FAILED', `Failed to load ${file}: it did not finish evaluating`, { file });
  }
}
