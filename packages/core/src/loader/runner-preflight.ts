import {
  ImportPreflight,
  type PreflightOption,
  type PreflightSource,
  preflightTimeout,
  type ThrowSite,
} from './preflight.js';
import { importTimeout, supersededWhileWaiting, threadEnded } from './runner-errors.js';
import { type RunnerModule, reachesFailed } from './runner-module.js';
import type { TransformedModule } from './runner-transform.js';

/** A module's text and its compilation, as the runner keeps them. */
export interface CompiledSource {
  source: string;
  result: Promise<TransformedModule>;
}

/** Packages and files outside the root that the modules import: the next worker imports them ahead. */
export function externalsOf(modules: RunnerModule[]): Array<[string, string, boolean]> {
  return modules.flatMap((module) =>
    module.imports.flatMap(
      ({ target }): Array<[string, string, boolean]> =>
        target.kind === 'external' ? [[module.file, target.specifier, target.json]] : [],
    ),
  );
}

/** Every module the batch reaches through local imports, once each is compiled and linked. */
async function closureOf(batch: RunnerModule[]): Promise<RunnerModule[]> {
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

/** What the worker learnt of a batch's modules, for the main thread. */
export interface PreflightFindings {
  /** Timers each module started at import and left running. */
  timersLeft: Map<string, number>;
  /** Where each module's evaluation threw a value that is no Error (which carries no line of its own). */
  thrownAt: Map<string, ThrowSite>;
}

/**
 * The runner's preflight: the new versions of a batch are evaluated in a
 * worker thread first, with the texts and compilations the main thread read,
 * under a time limit.
 */
export class RunnerPreflight {
  private preflight: ImportPreflight | undefined;
  /** The warm-up job in the worker, which a batch waits for rather than starting a cold worker of its own. */
  private warming: Promise<unknown> = Promise.resolve();
  private warmingUp = false;

  constructor(
    private readonly root: string,
    private readonly option: PreflightOption | undefined,
  ) {}

  /** Start the worker now and have it import `externals` ahead. */
  warmUp(externals: Array<[string, string, boolean]>): void {
    this.preflight ??= new ImportPreflight(preflightTimeout(this.option));
    this.preflight.warmUp(externals);
  }

  /**
   * Have the warm worker evaluate a module that is no file of the root (`compile`
   * gives its text and compilation) in the background, as it evaluates a batch:
   * its runner, inspector and the packages' code are then hot for the first
   * batch, which waits for this rather than taking a cold worker of its own.
   */
  warmUpWith(compile: () => Promise<PreflightSource>, externals: Array<[string, string, boolean]>): void {
    const preflight = this.preflight;
    if (preflight === undefined) return;
    this.warmingUp = true;
    this.warming = this.warming
      .then(async () => {
        const module = await compile();
        await preflight.run(
          { root: this.root, files: [module.file], sources: [module], externals, warmUp: true },
          true,
        );
      })
      .catch(() => {}) // a warm-up that fails leaves the first batch as it was without one
      .finally(() => {
        this.warmingUp = false;
      });
  }

  /**
   * Check `batch` in the worker: a module whose top-level code does not finish
   * there is failed (through `fail`) with HOTMCP_ERR_IMPORT_TIMEOUT and is
   * never evaluated on the main thread. Modules the worker did not reach (it
   * was stopped before them) are checked again in a fresh worker. `fresh` are
   * the versions this load created; `compiled` gives a file's compilation;
   * `newerSave` cuts a job short (see `ImportPreflight.run`).
   */
  async check(
    batch: RunnerModule[],
    fresh: readonly RunnerModule[],
    compiled: (file: string) => CompiledSource | undefined,
    fail: (module: RunnerModule, error: unknown) => void,
    newerSave?: (running: readonly string[]) => string | undefined,
  ): Promise<PreflightFindings> {
    const findings: PreflightFindings = { timersLeft: new Map(), thrownAt: new Map() };
    const timeoutMs = preflightTimeout(this.option);
    if (this.warmingUp) {
      // The warm-up keeps nothing alive; a batch waiting for it does, as its own job would.
      const alive = setInterval(() => {}, 60_000);
      await this.warming.finally(() => clearInterval(alive));
    }
    const closure = await closureOf(batch);
    // A module that imports one that already failed (a syntax error, a missing import) fails here, naming
    // that one: the worker, given no compilation of it, would compile it itself, loading esbuild there,
    // which on a busy machine takes longer than the limit and passes for a hang of the importer.
    let pending = batch.filter((module) => module.status !== 'failed' && !reachesFailed(module));
    while (pending.length > 0) {
      this.preflight ??= new ImportPreflight(timeoutMs);
      const outcome = await this.preflight.run(
        {
          root: this.root,
          files: pending.map((module) => module.file),
          sources: await sourcesOf(closure, compiled),
          externals: externalsOf(closure),
        },
        false,
        newerSave,
      );
      if (outcome.kind === 'finished') {
        for (const [file, count] of outcome.timersLeft) findings.timersLeft.set(file, count);
        for (const [file, site] of outcome.thrownAt) findings.thrownAt.set(file, site);
      }
      if (outcome.kind !== 'timeout' && outcome.kind !== 'died' && outcome.kind !== 'superseded') return findings;
      const hung = new Set(outcome.running);
      const culprit = outcome.running.at(-1) as string;
      const failure = (file: string) =>
        outcome.kind === 'timeout'
          ? importTimeout(file, culprit, timeoutMs)
          : outcome.kind === 'died'
            ? threadEnded(file, culprit, outcome.reason)
            : supersededWhileWaiting(file, culprit, outcome.newer, 'preflight');
      for (const module of fresh) {
        if (module.status !== 'failed' && hung.has(module.file)) fail(module, failure(module.file));
      }
      // Left: what the worker never reached. One that imports a module that timed out fails here on its own.
      const finished = new Set(outcome.finished);
      const next = pending.filter((module) => module.status !== 'failed' && !finished.has(module.file));
      if (next.length === pending.length || hung.size === 0) return findings; // no progress: let this thread decide
      pending = next.filter((module) => !reachesFailed(module));
    }
    return findings;
  }

  /** See {@link ImportPreflight.cutShort}. */
  cutShort(): void {
    this.preflight?.cutShort();
  }

  /** Stop the worker. */
  async close(): Promise<void> {
    await this.preflight?.close();
    this.preflight = undefined;
  }
}

/** The texts and compilations of the modules this thread would evaluate, for the worker to use as they are. */
async function sourcesOf(
  modules: RunnerModule[],
  compiledOf: (file: string) => CompiledSource | undefined,
): Promise<PreflightSource[]> {
  const sources: PreflightSource[] = [];
  for (const module of modules) {
    const compiled = compiledOf(module.file);
    if (!compiled) continue;
    const result = await compiled.result.catch(() => undefined);
    if (result)
      sources.push({ file: module.file, source: compiled.source, code: result.code, imports: result.imports });
  }
  return sources;
}
