import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inject, injectable } from 'tsyringe';
import { HotMcpError } from '../errors.js';
import type { LoadOptions, LoadResult, ModuleLoader } from '../ports/module-loader.js';
import { withinLimit } from '../time-limit.js';
import { type ReloaderSettings, TOKENS } from '../tokens.js';
import { CompileCache, defaultCompileCacheDir } from './compile-cache.js';
import { ImportGraph } from './import-graph.js';
import { toLoadError } from './load-error.js';
import { outsideRoot, readModuleSource } from './module-source.js';
import { type PreflightOption, preflightTimeout, type ThrowSite } from './preflight.js';
import { compileCommonJs, compileVersion, enableSourceMaps } from './runner-compile.js';
import {
  dependencyFailed,
  lineOf,
  mainThreadTimeout,
  missingImport,
  moduleError,
  startupTimeout,
  supersededWhileWaiting,
  unfinished,
} from './runner-errors.js';
import { type Body, createNamespace, type Namespace, type RunnerModule } from './runner-module.js';
import { type CompiledSource, externalsOf, RunnerPreflight } from './runner-preflight.js';
import { type ResolvedImport, resolveImport, resolveUrl } from './runner-resolve.js';
import type { TransformedModule, TsconfigCache } from './runner-transform.js';

/** Settings the runner loader reads besides the shared ones. */
export interface RunnerLoaderSettings extends ReloaderSettings {
  /**
   * Evaluate new versions in a worker thread first, under a time limit
   * (default), or not at all (`false`).
   */
  preflight?: PreflightOption;
  /**
   * Where compilations are kept between starts (a folder), or `false` for
   * nowhere. Default: `$XDG_CACHE_HOME/hotmcp/compiled`, else
   * `~/.cache/hotmcp/compiled` (used only when it is the user's own folder).
   */
  compileCache?: string | false;
}

type ModuleFunction = (
  module: { exports: Namespace },
  require: (specifier: string) => unknown,
  meta: object,
  dynamicImport: (specifier: unknown, options?: unknown) => Promise<unknown>,
) => Body;
type Importer = (specifier: string, options?: unknown) => Promise<Namespace>;

const NO_FILES: ReadonlySet<string> = new Set();
const NO_SITES: ReadonlyMap<string, ThrowSite> = new Map();
/**
 * How long a module's top-level code may take on the main thread. It already
 * finished in the preflight worker; what still takes this long here waits for
 * something only the main thread has (or that never comes), and would hold up
 * every later reload.
 */
const MAIN_THREAD_LIMIT_MS = 5_000;

const IMPORTER_SOURCE = 'module.exports = (specifier, options) => import(specifier, options);';

/**
 * How long after the start-up's load the background warm-ups (esbuild's service, the preflight worker and its
 * warm-up module) wait: a client asks for its lists right after `initialize`, and on a small machine a thread and
 * a process starting beside that exchange would slow it. A reload that comes sooner starts them at once.
 */
const BACKGROUND_WARM_UP_DELAY_MS = 300;

/** The most packages the warm-up module imports. */
const MAX_WARM_UP_IMPORTS = 50;

/**
 * The module the preflight worker evaluates once the start-up is loaded, so
 * the first reload finds the worker's runner, its inspector, the compiler's
 * TypeScript path and the packages' code hot: TypeScript importing the
 * packages the root's own modules import. No file of the root: nothing on
 * disk, forgotten by the worker once evaluated, never evaluated here.
 */
function warmUpModule(
  root: string,
  externals: ReadonlyArray<[string, string, boolean]>,
): { file: string; source: string; externals: Array<[string, string, boolean]> } {
  const file = `${root}.hotmcp-warm-up.ts`;
  const specifiers = [
    ...new Set(
      externals.flatMap(([from, specifier, json]) => (json || dirname(from) !== dirname(file) ? [] : [specifier])),
    ),
  ].slice(0, MAX_WARM_UP_IMPORTS);
  const source = [
    ...specifiers.map((specifier, index) => `import * as m${index} from ${JSON.stringify(specifier)};`),
    `export const imported: unknown[] = [${specifiers.map((_, index) => `m${index}`).join(', ')}];`,
    '',
  ].join('\n');
  return { file, source, externals: specifiers.map((specifier) => [file, specifier, false]) };
}
const JSON_IMPORT = { with: { type: 'json' } };

/** `module` and the modules it waits for, innermost last (each once: a cycle ends it). */
function waitChain(module: RunnerModule): RunnerModule[] {
  const chain: RunnerModule[] = [];
  for (let at: RunnerModule | undefined = module; at && !chain.includes(at); at = at.waitingFor) chain.push(at);
  return chain;
}

/** A promise and what resolves it. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** The imports es-module-lexer finds in `source`; none when it cannot parse it (a save caught half-way). */
function importsOf(parse: typeof import('es-module-lexer').parse, source: string) {
  try {
    return parse(source)[0];
  } catch {
    return [];
  }
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
  /** Files saved again since the load under way began (see {@link superseded}). */
  private readonly saved = new Set<string>();
  /** Settles when {@link superseded} is called: a load waiting for a module's top-level code looks again. */
  private newerSaved = signal();
  private readonly compiled = new Map<string, CompiledSource>();
  private readonly importers = new Map<string, Importer>();
  private readonly preflight: RunnerPreflight;
  /** Where the preflight saw the current batch's modules throw values that are no Error. */
  private thrownAt: ReadonlyMap<string, ThrowSite> = NO_SITES;
  private transformReady: Promise<void> | undefined;
  /** The tsconfig.json files found for the batch being loaded (each folder looked up once a batch). */
  private tsconfigs: TsconfigCache | undefined;
  /** The compilations given with the batch being loaded (`LoadOptions.compiled`), checked before use. */
  private given: LoadOptions['compiled'];
  /**
   * The packages the batch being loaded imports, by folder and specifier: Node resolves a package alike from
   * every file of a folder, so its modules share one `import()` (each resolution costs a walk up the folders).
   */
  private externals: Map<string, Promise<Namespace>> | undefined;
  /** The compilations kept on disk between starts (made on first use). */
  private store: CompileCache | undefined;
  /** What the modules loaded at start-up import from outside the root, for the preflight worker to import ahead. */
  private startupExternals: Array<[string, string, boolean]> = [];
  /** The background warm-ups, waiting for `BACKGROUND_WARM_UP_DELAY_MS` (see startupDone). */
  private warmUpTimer: NodeJS.Timeout | undefined;

  constructor(@inject(TOKENS.settings) private readonly settings: RunnerLoaderSettings) {
    this.root = settings.root.endsWith(sep) ? settings.root : settings.root + sep;
    this.preflight = new RunnerPreflight(settings.root, settings.preflight);
  }

  async load(files: readonly string[], options?: LoadOptions): Promise<LoadResult[]> {
    enableSourceMaps();
    if (options?.startup !== true) this.warmUpNow();
    const generation = this.begin();
    this.saved.clear(); // saved before this load: it loads them
    this.newerSaved = signal(); // (what waited on the last one is let go with it)
    const fresh = new Set(files);
    const results: LoadResult[] = [];
    const option = this.settings.preflight;
    // The modules found at start-up are evaluated here at once, as a plain server imports them: no worker
    // to wait for (it starts afterwards, for the reloads); their top-level await is time-limited here.
    const startup = options?.startup === true && option !== false && option?.atStartup !== true;
    const limitMs = startup ? preflightTimeout(option) : MAIN_THREAD_LIMIT_MS;
    this.tsconfigs = new Map();
    this.externals = new Map();
    this.given = options?.compiled;
    try {
      // Link every requested file at once (esbuild compiles them in parallel), then evaluate them in order.
      const modules = files.map((file) => this.link(file, generation, fresh));
      let timersLeft = new Map<string, number>();
      if (option !== false && !startup) {
        ({ timersLeft, thrownAt: this.thrownAt } = await this.preflight.check(
          modules,
          this.generations.get(generation) ?? [],
          (file) => this.compiled.get(file),
          (module, error) => this.fail(module, error),
          (running) => this.newerSave(running),
        ));
      }
      for (const module of modules) {
        // Top-level code that never finishes here (it finished in the worker) must not hold up the reloader.
        const settled = this.settle(undefined, module);
        const done = settled.then(() => 'settled' as const);
        for (let until = performance.now() + limitMs; ; ) {
          const saved = this.newerSaved.promise.then(() => 'saved' as const);
          const waitMs = Math.max(1, Math.ceil(until - performance.now()));
          const waited = await withinLimit(Promise.race([done, saved]), waitMs, true);
          if (waited === 'settled') break;
          if (waited === 'saved') {
            if (this.givenUp(module)) break;
            continue; // a file it does not wait for: wait on, until the same time
          }
          const left = this.stalled(module, limitMs, startup);
          if (left === 0) break;
          until = performance.now() + left;
        }
        const { notice, precompiled } =
          (await this.compiled.get(module.file)?.result.catch(() => undefined)) ?? ({} as Partial<TransformedModule>);
        results.push(
          module.status === 'evaluated'
            ? {
                file: module.file,
                ok: true,
                exports: module.namespace,
                ...(timersLeft.has(module.file) && { timersLeft: timersLeft.get(module.file) }),
                ...(notice && { notices: [notice] }),
                ...(precompiled && this.given?.[module.file] && { precompiled }),
              }
            : { file: module.file, ok: false, error: module.error ?? unfinished(module.file) },
        );
      }
      // What these modules import, the preflight worker imports ahead once it starts (see startupDone).
      if (startup) this.startupExternals.push(...externalsOf(this.generations.get(generation) ?? modules));
    } finally {
      this.tsconfigs = undefined;
      this.externals = undefined;
      this.given = undefined;
      this.commit(generation);
      this.thrownAt = NO_SITES;
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
    this.store?.delete(files);
  }

  /**
   * Take the local import graph of `entry`, imported by Node already (a first
   * run without the runner), as its current versions: each file's static
   * imports are read (es-module-lexer) and its namespace is Node's instance,
   * kept as it is. A later load of a file evaluates a new version of it; its
   * importers re-evaluated with it link to the new one, every other file
   * keeps Node's instance (and its state). Resolves with the files adopted.
   */
  async adoptNative(entry: string): Promise<string[]> {
    const { init, parse } = await import('es-module-lexer');
    await init;
    const adopted: string[] = [];
    const queue = [entry];
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      if (this.current.has(file)) continue;
      const json = file.endsWith('.json');
      // A file being saved as it is read (empty, half-written) keeps Node's instance; its imports are
      // learned when its edit is loaded. (The edit is seen: it changed after Node imported it.)
      const source = await this.readSource(file).catch(() => '');
      const locals: string[] = [];
      if (!json) {
        for (const entry of importsOf(parse, source)) {
          if (entry.d !== -1 || entry.n === undefined) continue;
          const target = resolveImport(entry.n, file, this.root);
          if (target.kind === 'local') locals.push(target.file);
        }
      }
      const namespace = (await import(pathToFileURL(file).href, json ? JSON_IMPORT : undefined)) as Namespace;
      this.graph.setImports(file, locals);
      this.current.set(file, {
        file,
        generation: 0,
        namespace,
        status: 'evaluated',
        imports: [],
        linked: new Map(),
        ready: Promise.resolve(),
      });
      adopted.push(file);
      queue.push(...locals);
    }
    return adopted;
  }

  /**
   * Start what the start-up's load needs. The compiler (esbuild's service process) only when no compile cache
   * is kept: with one, the modules found at start-up are mostly compiled already, and a miss starts it. The
   * preflight worker when the modules found at start-up are preflighted (`preflight: { atStartup: true }`),
   * importing `@hotmcp/core` as a tool module in the root would; otherwise it starts after the start-up's load
   * (see `startupDone`), which does not wait for it.
   */
  warmUp(): void {
    const option = this.settings.preflight;
    if (option !== false && option?.atStartup === true) {
      this.preflight.warmUp([[`${this.root}index.js`, '@hotmcp/core', false]]);
    }
    if (this.settings.compileCache === false) this.warmUpCompiler();
  }

  /**
   * The start-up is loaded: 300 ms (`BACKGROUND_WARM_UP_DELAY_MS`) later (or at the first reload, if sooner), start
   * the compiler and the preflight worker for the reloads to come, importing ahead what the modules loaded at
   * start-up import (and `@hotmcp/core`), then run the reload path once in the background (see `warmUpModule`).
   */
  startupDone(): void {
    void this.store?.save(); // the next start compiles only what changed
    this.warmUpTimer ??= setTimeout(() => this.warmUpNow(), BACKGROUND_WARM_UP_DELAY_MS);
    this.warmUpTimer.unref();
  }

  /** Start esbuild's service (once). */
  private warmUpCompiler(): void {
    this.transformReady ??= import('./runner-transform.js').then(
      ({ warmUpTransform }) => warmUpTransform(),
      () => {}, // the first load reports it
    );
  }

  /** The background warm-ups of {@link startupDone}, now, when they wait. */
  private warmUpNow(): void {
    if (this.warmUpTimer === undefined) return;
    clearTimeout(this.warmUpTimer);
    this.warmUpTimer = undefined;
    this.warmUpCompiler();
    // One per package and folder: a package resolves alike from every file of a folder.
    const externals = new Map<string, [string, string, boolean]>();
    for (const external of [[`${this.root}index.js`, '@hotmcp/core', false] as const, ...this.startupExternals]) {
      externals.set(`${dirname(external[0])}\0${external[1]}`, [...external]);
    }
    this.startupExternals = [];
    const option = this.settings.preflight;
    if (option === false) return;
    this.preflight.warmUp([...externals.values()]);
    // With `atStartup`, the worker evaluated the start-up's modules: hot already.
    if (option?.atStartup !== true) {
      const module = warmUpModule(this.root, [...externals.values()]);
      this.preflight.warmUpWith(async () => {
        const { transformModule } = await import('./runner-transform.js');
        const { code, imports } = await transformModule(module.file, module.source);
        return { file: module.file, source: module.source, code, imports };
      }, module.externals);
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.warmUpTimer);
    this.warmUpTimer = undefined;
    await Promise.all([this.preflight.close(), this.store?.save()]);
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

  /** Called when a module fails (to compile, link or evaluate), with its error: what it failed with first. */
  protected failed(_file: string, _error: HotMcpError): void {}

  /** Compile `source`, or reuse the last compilation of `file` if its text has not changed. */
  protected transform(file: string, source: string): Promise<TransformedModule> {
    const cached = this.compiled.get(file);
    if (cached?.source === source) return cached.result;
    // Imported on first use: a preflight worker, handed the main thread's compilations, never loads esbuild.
    const cache = this.tsconfigs;
    const given = this.given?.[file];
    const result = import('./runner-transform.js').then(({ transformModule, compilerId }) =>
      transformModule(file, source, cache, this.compileCache(compilerId), given),
    );
    this.compiled.set(file, { source, result });
    return result;
  }

  /** The compilations kept between starts, unless turned off. */
  private compileCache(compilerId: () => string): CompileCache | undefined {
    const dir = this.settings.compileCache ?? defaultCompileCacheDir();
    if (dir === false) return undefined;
    this.store ??= new CompileCache(dir, this.settings.root, compilerId());
    return this.store;
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
        const compiled = compileVersion(file, code, module.namespace);
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
      if (missing) throw missingImport(module, missing.specifier);
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
          if (edge.module.status === 'failed') throw dependencyFailed(module, edge.module);
          module.linked.set(edge.specifier, edge.module.namespace);
        }
      }
      module.bodyAt = performance.now();
      await module.body?.next();
      if (module.status === 'evaluating') module.status = 'evaluated'; // not when it was given up on meanwhile
    } catch (error) {
      if (module.status === 'evaluating') this.fail(module, error);
    } finally {
      module.body = undefined;
      this.traceEvaluation(module.file, true);
    }
  }

  /** `files` changed again: a version of one of them that the load under way waits for is given up if its text changed. */
  superseded(files: readonly string[]): void {
    for (const file of files) this.saved.add(file);
    const { resolve } = this.newerSaved;
    this.newerSaved = signal();
    resolve();
    this.preflight.cutShort(); // what the preflight worker evaluates may be given up too (see newerSave)
  }

  /**
   * Of `running` (what the preflight worker is evaluating), a file saved again
   * since the load began that holds another text than the version checked:
   * no use waiting for that version.
   */
  private newerSave(running: readonly string[]): string | undefined {
    if (this.saved.size === 0) return undefined;
    return running.find((file) => {
      const module = this.saved.has(file) ? (this.pending.get(file) ?? this.current.get(file)) : undefined;
      return module !== undefined && this.editedSince(module);
    });
  }

  /**
   * `module` has not finished evaluating and a file was saved again since the
   * load began: when that file is one of the modules `module` waits for, they
   * fail (the innermost named), and this returns true.
   */
  private givenUp(module: RunnerModule): boolean {
    const chain = waitChain(module);
    const newer = chain.find((at) => this.saved.has(at.file) && this.editedSince(at));
    if (newer === undefined) return false;
    const culprit = (chain.at(-1) as RunnerModule).file;
    this.failUnfinished(chain, (file) => supersededWhileWaiting(file, culprit, newer.file));
    return true;
  }

  /** Whether `module`'s file no longer holds the text it was evaluated from (a change told of it may be no edit). */
  private editedSince(module: RunnerModule): boolean {
    try {
      return readModuleSource(module.file, this.settings.root) !== module.source;
    } catch {
      return true; // gone or unreadable now: not what is being evaluated either
    }
  }

  /**
   * `module` has not finished evaluating: when the innermost module it waits
   * for has run its own top-level code (its imports done) for the whole limit,
   * they fail, innermost named, and this returns 0. Otherwise it returns how
   * long to wait still: what is left of the innermost module's limit (its body
   * started after the wait did), or the whole limit again while it waits for
   * packages still loading (a cold import on a busy machine).
   */
  private stalled(module: RunnerModule, limitMs: number, startup: boolean): number {
    const chain = waitChain(module);
    const innermost = chain.at(-1) as RunnerModule;
    if (innermost.bodyAt === undefined) return limitMs;
    const left = innermost.bodyAt + limitMs - performance.now();
    if (left > 0) return Math.max(1, Math.ceil(left));
    const culprit = innermost.file;
    this.failUnfinished(chain, (file) =>
      startup
        ? startupTimeout(file, culprit, limitMs)
        : mainThreadTimeout(file, culprit, limitMs, this.settings.preflight !== false),
    );
    return 0;
  }

  /** Fail the modules of `chain` that have not finished, each with `error(its file)`. */
  private failUnfinished(chain: readonly RunnerModule[], error: (file: string) => unknown): void {
    for (const waiting of chain) {
      if (waiting.status !== 'failed' && waiting.status !== 'evaluated') this.fail(waiting, error(waiting.file));
    }
  }

  private fail(module: RunnerModule, error: unknown): void {
    module.status = 'failed';
    module.body = undefined;
    module.error = moduleError(error, module.file, this.settings.root, this.thrownAt.get(module.file));
    this.failed(module.file, module.error);
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
    const key = `${dirname(module.file)}\0${target.specifier}\0${target.json}`;
    const shared = this.externals?.get(key);
    if (shared) {
      try {
        return await shared;
      } catch {} // imported again from this module, for an error that names it
    }
    try {
      const imported = this.importerFor(module.file)(target.specifier, target.json ? JSON_IMPORT : undefined);
      if (!shared) this.externals?.set(key, imported);
      return await imported;
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
}
