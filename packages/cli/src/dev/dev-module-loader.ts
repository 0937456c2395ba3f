import { statSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type AnyDefinition, clientPath, HotMcpError, type LoadResult, RunnerModuleLoader } from '@hotmcp/core';
import type { DevSession } from './dev-session.js';
import { HotContexts } from './hot-context.js';
import { digestOf } from './low-level.js';
import { isRefusedExit, refuseExits } from './refuse-exits.js';

/** The SDK modules whose `McpServer` the entry's modules see intercepted. */
const SDK_SERVER_MODULES = new Set([
  '@modelcontextprotocol/sdk/server/mcp.js',
  '@modelcontextprotocol/sdk/server/mcp',
  '@modelcontextprotocol/server',
]);

/** SDK 2.x's stdio module, whose `serveStdio()` the entry's modules see intercepted. */
const SDK_STDIO_MODULES = new Set(['@modelcontextprotocol/server/stdio']);

type Namespace = Record<string, unknown>;

/**
 * The runner loader as `hotmcp dev` uses it: the whole project's import graph
 * from the entry is evaluated by it, with `import.meta.hot` in every module
 * and the SDK's `McpServer` intercepted. To the engine it shows one module
 * that offers definitions: the entry, whose definitions are what the server
 * its evaluation built registered. Every other file loads as a module that
 * offers none.
 */
export class DevModuleLoader extends RunnerModuleLoader {
  readonly hot = new HotContexts();
  /** Every file read so far, with its stamp when read: the entry's import graph as far as it was followed. */
  private readonly stamps = new Map<string, string>();
  /** A digest of the text of every file read, as this process runs it: what a save must differ from to be an edit. */
  private readonly digests = new Map<string, string>();
  private readonly views = new WeakMap<object, Namespace>();
  /**
   * Set while the next load of the entry hands the engine the live
   * recorder's definitions without evaluating anything: at start (the first
   * evaluation is under way), and when the live recorder changed by itself.
   */
  private snapshot: 'initial' | 'refresh' | undefined = 'initial';
  /** The entry's stamp when it was last evaluated: a refresh never hides an edit of it. */
  private entryStamp: string;
  /** Contexts of the versions the last successful evaluation replaced, disposed once it is committed. */
  private stale: Array<() => Promise<void>> = [];
  /** The modules that failed in the re-evaluation under way, first first. */
  private failures: HotMcpError[] = [];

  constructor(
    private readonly projectRoot: string,
    private readonly entry: string,
    private readonly session: DevSession,
  ) {
    // No preflight: evaluating the entry in a worker thread would connect a second server to stdin.
    super({ root: projectRoot, include: [], exclude: [], deny: [], denyFiles: [], preflight: false });
    this.entryStamp = stampOf(entry);
  }

  protected override failed(_file: string, error: HotMcpError): void {
    this.failures.push(error);
  }

  /** Evaluate the entry the first time: it builds, registers and connects the live server. */
  evaluateEntry(): Promise<LoadResult | undefined> {
    return super.load([this.entry]).then((results) => results[0]);
  }

  /** When the native first run started (epoch ms), once its graph is adopted. */
  private nativeSince: number | undefined;
  /** The adopted files still running Node's own instance: none of their edits was loaded yet. */
  private readonly nativeInstances = new Set<string>();

  /**
   * Adopt the entry's import graph as a native first run (started at
   * `since`, epoch ms) evaluated it: those instances stay until their files
   * are edited. A file changed since is reported by {@link editedSinceRead}.
   */
  async adoptFirstRun(since: number): Promise<void> {
    this.nativeSince = since;
    for (const file of await this.adoptNative(this.entry)) this.nativeInstances.add(file);
  }

  /** The next load of the entry alone hands the engine what the live recorder holds now, unless it was edited. */
  requestSnapshot(): void {
    this.snapshot ??= 'refresh';
  }

  /**
   * Run the `import.meta.hot.dispose` callbacks of the versions the last
   * applied evaluation replaced. Resolves with what threw.
   */
  async disposeReplaced(): Promise<unknown[]> {
    const stale = this.stale;
    this.stale = [];
    const errors: unknown[] = [];
    for (const dispose of stale) await dispose().catch((error: unknown) => errors.push(error));
    return errors;
  }

  override async load(files: readonly string[]): Promise<LoadResult[]> {
    const inGraph = files.filter((file) => file === this.entry || this.importersOf([file]).has(this.entry));
    const results: LoadResult[] = files
      .filter((file) => file !== this.entry)
      .map((file) => ({ file, ok: true, exports: {} }));
    if (!inGraph.includes(this.entry)) return results;
    const snapshot = this.snapshot;
    this.snapshot = undefined;
    if (
      snapshot === 'initial' ||
      (snapshot === 'refresh' && inGraph.length === 1 && stampOf(this.entry) === this.entryStamp)
    ) {
      results.push({ file: this.entry, ok: true, exports: exportsOf(this.session.definitions()) });
      return results;
    }
    results.push(await this.reevaluate(inGraph));
    return results;
  }

  private async reevaluate(files: readonly string[]): Promise<LoadResult> {
    this.entryStamp = stampOf(this.entry);
    this.session.beginEvaluation();
    this.failures = [];
    const exits = refuseExits(this.projectRoot);
    let loaded: LoadResult | undefined;
    try {
      for (const file of files) this.nativeInstances.delete(file); // this edit is loaded, or its failure told
      loaded = (await super.load([...files].sort())).find((result) => result.file === this.entry);
      await nextTurn(); // a `main().catch(...)` entry connects after its top level ran
    } finally {
      exits.restore();
    }
    const outcome = this.session.endEvaluation(this.entry);
    // A restart applies what this version asked for, even when the entry caught that and then called process.exit().
    if (this.session.restartAsked) return { file: this.entry, ok: false, error: this.session.restartAsked };
    // A refused exit fails the evaluation even when the module caught what process.exit threw; when a module failed
    // first (the entry's `main().catch(() => process.exit(1))` of an import that failed), that failure is the news.
    const [refused] = exits.refused;
    const failure = this.failures.find((error) => !causedByExit(error));
    if (refused && failure) {
      const exit = `${clientPath(this.projectRoot, refused.file ?? this.entry)}${refused.line ? `:${refused.line}` : ''}`;
      const error = new HotMcpError(
        failure.code,
        `${failure.message}; then ${exit} called ${refused.details?.call}, refused: the last good version keeps serving`,
        {
          ...(failure.file !== undefined && { file: failure.file }),
          ...(failure.line !== undefined && { line: failure.line }),
          ...(failure.column !== undefined && { column: failure.column }),
          details: { ...failure.details, exit: refused.details },
          cause: failure,
        },
      );
      return { file: this.entry, ok: false, error };
    }
    if (refused) return { file: this.entry, ok: false, error: refused };
    if (!loaded?.ok) {
      return (
        loaded ?? {
          file: this.entry,
          ok: false,
          error: new HotMcpError('HOTMCP_ERR_LOAD_FAILED', `${this.entry}: not loaded`, { file: this.entry }),
        }
      );
    }
    if (!outcome.ok) return { file: this.entry, ok: false, error: outcome.error };
    this.session.adopt(outcome.server);
    this.stale.push(...this.hot.takeReplaced());
    return { file: this.entry, ok: true, exports: exportsOf(outcome.definitions) };
  }

  /** The files of the entry's import graph read so far. */
  files(): Iterable<string> {
    return this.stamps.keys();
  }

  /**
   * Files read whose stamp changed since, and files adopted from the native
   * first run that changed after it started and still run Node's instance:
   * an edit saved while the graph was being adopted may have been read (its
   * stamp taken) after Node had imported the file's previous text.
   */
  editedSinceRead(): string[] {
    const since = this.nativeSince ?? Number.POSITIVE_INFINITY;
    return [...this.stamps]
      .filter(([file, stamp]) => stampOf(file) !== stamp || (this.nativeInstances.has(file) && mtimeOf(file) >= since))
      .map(([file]) => file);
  }

  protected override async readSource(file: string): Promise<string> {
    const stamp = stampOf(file);
    this.stamps.set(file, stamp);
    const changedAt = Number.parseFloat(stamp); // a stamp begins with the file's mtime (NaN: none)
    const source = await super.readSource(file);
    // Adopted from a native first run: what was read is what Node imported only if unchanged since it started.
    if (this.nativeSince === undefined || changedAt < this.nativeSince) this.digests.set(file, digestOf(source));
    else this.digests.delete(file);
    return source;
  }

  /** A digest of the text last read of `file` (see {@link digestOf}), if it was read. */
  digestRead(file: string): string | undefined {
    return this.digests.get(file);
  }

  protected override meta(file: string): object {
    return { ...super.meta(file), hot: this.hot.create(file) };
  }

  protected override external(file: string, specifier: string, namespace: Namespace): Namespace {
    const server = SDK_SERVER_MODULES.has(specifier) && typeof namespace.McpServer === 'function';
    const stdio = SDK_STDIO_MODULES.has(specifier) && typeof namespace.serveStdio === 'function';
    if (!server && !stdio) return super.external(file, specifier, namespace);
    let view = this.views.get(namespace);
    if (!view) {
      view = Object.create(null) as Namespace;
      Object.defineProperty(view, Symbol.toStringTag, { value: 'Module' });
      Object.assign(
        view,
        namespace,
        server
          ? { McpServer: this.session.classFor(namespace.McpServer as never) }
          : { serveStdio: this.session.serveStdioFor(namespace.serveStdio as never) },
      );
      this.views.set(namespace, view);
    }
    return view;
  }
}

function mtimeOf(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function stampOf(file: string): string {
  try {
    const stats = statSync(file);
    return `${stats.mtimeMs}:${stats.size}:${stats.ino}`;
  } catch {
    return '';
  }
}

/** Definitions as the exports the engine reads them from. */
function exportsOf(definitions: AnyDefinition[]): Record<string, unknown> {
  return Object.fromEntries(definitions.map((definition, index) => [`${definition.kind}${index}`, definition]));
}

/** Whether `error`, or what it was caused by, is what a refused exit threw. */
function causedByExit(error: unknown): boolean {
  for (let at = error, depth = 0; at instanceof Error && depth < 20; at = at.cause, depth++) {
    if (isRefusedExit(at)) return true;
  }
  return false;
}
