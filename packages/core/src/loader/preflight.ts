/**
 * The import preflight: new versions of a batch are evaluated first in a
 * worker thread, where a time limit can stop top-level code that never
 * finishes (an endless loop, a top-level `await` that never settles), before
 * the main thread evaluates them. One worker is kept spawned and warm (the
 * packages the tool modules import are imported ahead, and stay loaded). Each
 * batch gets a runner of its own there. A worker whose batch timed out, or
 * whose modules left something open at import (a port, a timer), is
 * terminated before the main thread goes on, so what they opened is released
 * first, and a fresh one is spawned in the background; otherwise the same
 * warm worker takes the next batch (starting a thread and importing the
 * packages takes hundreds of ms on a busy machine, more than the gap between
 * two saves), up to 1,000 batches.
 */
import { Worker } from 'node:worker_threads';
import { describeThrown, HotMcpError } from '../errors.js';
import { pinYoungGeneration } from './runner-compile.js';

/**
 * Default time limit: 2 s without progress (no module of the batch started or
 * finished evaluating). A normal evaluation in a warm worker takes a few ms;
 * a cold import of a large package in a fresh thread a few hundred on a busy
 * machine. A limit too short rejects a good module; one too long only delays
 * the reload of a module that hangs anyway, while the server keeps answering.
 */
export const DEFAULT_PREFLIGHT_TIMEOUT_MS = 2000;
/** How long a fresh worker may take to start and import the packages it warms up with. */
const READY_LIMIT_MS = 15_000;

/**
 * The `preflight` option: on with a time limit (default), or `false`.
 * `atStartup: true` preflights the modules found at start-up too (by default
 * they are evaluated on the main thread, as a plain server imports them, with
 * the time limit on their top-level `await`).
 */
export type PreflightOption = false | { timeoutMs?: number; atStartup?: boolean };

/** The time limit a `preflight` option sets (undefined: the default). */
export function preflightTimeout(option: PreflightOption | undefined): number {
  return (option === false ? undefined : option?.timeoutMs) ?? DEFAULT_PREFLIGHT_TIMEOUT_MS;
}

/** Check a `preflight` option; throws HOTMCP_ERR_BAD_OPTION. */
export function checkPreflightOption(value: unknown): PreflightOption | undefined {
  if (value === undefined || value === false) return value;
  const bad = () =>
    new HotMcpError(
      'HOTMCP_ERR_BAD_OPTION',
      `createReloader: 'preflight' must be false or { timeoutMs, atStartup } with a whole number of ms from 1 to 2147483647 and true or false, got ${JSON.stringify(value) ?? String(value)}`,
    );
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad();
  const unknown = Object.keys(value).filter((key) => key !== 'timeoutMs' && key !== 'atStartup');
  if (unknown.length > 0) throw bad();
  const { timeoutMs, atStartup } = value as { timeoutMs?: unknown; atStartup?: unknown };
  if (atStartup !== undefined && typeof atStartup !== 'boolean') throw bad();
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 2 ** 31 - 1)
  ) {
    throw bad();
  }
  return { ...(timeoutMs !== undefined && { timeoutMs }), ...(atStartup !== undefined && { atStartup }) };
}

/** A module's text and compilation, as the main thread read and compiled them. */
export interface PreflightSource {
  file: string;
  source: string;
  code: string;
  imports: string[];
}

/** What one worker evaluates. */
export interface PreflightJob {
  root: string;
  /** The batch, loaded as the main thread loads it. */
  files: string[];
  sources: PreflightSource[];
  /** `[importing file, specifier, json]` of what the modules import from outside the root. */
  externals: Array<[string, string, boolean]>;
  /** A warm-up: the worker forgets the modules once evaluated (they are no files of the root). */
  warmUp?: boolean;
}

/** Where a module's top-level code threw a value that is no Error (file and line in the root). */
export interface ThrowSite {
  file: string;
  line: number;
}

/** Messages from the worker. */
export type PreflightMessage =
  | { type: 'ready' }
  /** The batch's packages are imported (or failed to): its evaluation starts, under the time limit. */
  | { type: 'warmed' }
  /** `job.externals[index]` is imported (or failed to). */
  | { type: 'imported'; index: number }
  | { type: 'trace'; file: string; done: boolean }
  /** A module called what would end the whole process (`process.abort()`, `process.kill(process.pid)`); the thread ends next. */
  | { type: 'ends'; call: string }
  /**
   * `leftOpen`: what the modules opened at import and left active (ports, timers), by type.
   * `thrownAt`: per module, where its evaluation last threw a value that is no Error.
   */
  | { type: 'done'; leftOpen: string[]; timersLeft: Array<[string, number]>; thrownAt: Array<[string, ThrowSite]> };

export type PreflightOutcome =
  /** Every module finished (well or not): the main thread evaluates them. */
  | { kind: 'finished'; leftOpen: string[]; timersLeft: Array<[string, number]>; thrownAt: Array<[string, ThrowSite]> }
  /** Nothing progressed within the limit: `running` were evaluating, innermost last; `finished` got done first. */
  | { kind: 'timeout'; running: string[]; finished: string[] }
  /**
   * The worker ended (exited, ran out of memory, an unhandled error) while
   * `running` were evaluating, innermost last: their failure, never run on the
   * main thread. `finished` got done first.
   */
  | { kind: 'died'; running: string[]; finished: string[]; reason: string }
  /**
   * Cut short (see {@link ImportPreflight.cutShort}): `newer`, one of the files
   * `running` were evaluating, innermost last, was saved again meanwhile.
   */
  | { kind: 'superseded'; running: string[]; finished: string[]; newer: string }
  /** No worker could run the batch: the main thread evaluates it without a limit. */
  | { kind: 'unavailable'; reason: string };

interface Spare {
  worker: Worker;
  ready: Promise<void>;
  /** Batches it evaluated. */
  jobs: number;
  /** Set once the thread has ended: a spare that ended while idle is replaced, not sent a job. */
  ended: boolean;
}

/**
 * Options Node refuses in a worker's `execArgv` (ERR_WORKER_INVALID_EXEC_ARGV): V8's (`--expose-gc`,
 * `--max-old-space-size`, ...) and the per-process ones (`--title`), which apply to every thread of
 * the process anyway. Learnt, by name, from the first refusal.
 */
const refusedInWorkers = new Set<string>();

/** `--name` of `--name=value`. */
const optionName = (arg: string) => arg.split('=', 1)[0] as string;

/**
 * The process's Node options for the worker, less `--input-type` (a server
 * started as `node --input-type=module -e ...` would pass it on, and Node then
 * refuses to start a worker from a file: ERR_INPUT_TYPE_NOT_ALLOWED) and less
 * the options Node refuses in a worker.
 */
function workerExecArgv(): string[] {
  const args: string[] = [];
  const argv = process.execArgv;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    const name = optionName(arg);
    if (name === '--input-type' || refusedInWorkers.has(name)) {
      // `--name value`: the value goes with it.
      if (!arg.includes('=') && argv[index + 1] !== undefined && !argv[index + 1]?.startsWith('-')) index++;
    } else args.push(arg);
  }
  return args;
}

/**
 * Learn the options named by an ERR_WORKER_INVALID_EXEC_ARGV error ("Initiated
 * Worker with invalid execArgv flags: --expose-gc, --no-maglev"); false when
 * there is nothing new to leave out.
 */
function learnRefused(error: unknown): boolean {
  if ((error as { code?: unknown })?.code !== 'ERR_WORKER_INVALID_EXEC_ARGV') return false;
  const listed = /flags: (.*)$/s.exec((error as Error).message)?.[1] ?? '';
  const before = refusedInWorkers.size;
  for (const flag of listed.split(', ')) if (flag.startsWith('-')) refusedInWorkers.add(optionName(flag.trim()));
  return refusedInWorkers.size > before;
}

/** The young generation of a worker, in MB: enough for module evaluation, small resident. */
const WORKER_YOUNG_GENERATION_MB = 4;
/** The most packages a worker imports ahead. */
const MAX_WARM = 200;
/**
 * Batches one worker evaluates before it is replaced, so what modules leave in its globals does not pile up.
 * Rarely: each new thread's isolate resets V8's semi-space growth factor (Node 20), and until the main thread
 * pins it again its young generation may grow, and stay grown.
 */
const MAX_JOBS = 1000;

/** Runs preflight jobs, one fresh worker each, keeping the next one warm. */
export class ImportPreflight {
  private spare: Spare | undefined;
  private readonly warm = new Map<string, [string, string, boolean]>();
  /** The worker evaluating a job now (stopped by close()). */
  private busy: Worker | undefined;
  /** Ends the job running now as superseded, when its `newerSave` names one (see {@link cutShort}). */
  private cut: (() => void) | undefined;
  private closed = false;
  private warned = false;
  /** Why no worker can be started here at all (Node's permission model without --allow-worker, say). */
  private impossible: string | undefined;

  constructor(private readonly timeoutMs: number) {}

  /**
   * Start the spare worker now rather than with the first job, importing
   * `externals` ahead (nothing when one is there or none can start).
   */
  warmUp(externals: ReadonlyArray<[string, string, boolean]> = []): void {
    for (const external of externals) {
      if (this.warm.size >= MAX_WARM) break;
      this.warm.set(`${external[0]}\0${external[1]}`, external);
    }
    if (this.spare === undefined && !this.closed) this.spare = this.trySpawn();
  }

  /**
   * Evaluate `job` in the warm worker. `background`: a warm-up, which neither
   * keeps the process alive nor says the preflight is unavailable.
   * `newerSave`, given the files the worker is evaluating (innermost last),
   * names one saved again with another text than the version being checked:
   * asked as each module starts and at {@link cutShort}; when it names one, the
   * job ends at once as `superseded` (its worker replaced) rather than at the
   * time limit, since what runs there is being replaced anyway.
   */
  async run(
    job: PreflightJob,
    background = false,
    newerSave?: (running: readonly string[]) => string | undefined,
  ): Promise<PreflightOutcome> {
    if (background && this.closed) return { kind: 'unavailable', reason: 'the preflight is closed' };
    for (const external of job.externals) {
      if (this.warm.size >= MAX_WARM) break;
      this.warm.set(`${external[0]}\0${external[1]}`, external);
    }
    const spare = this.spare && !this.spare.ended ? this.spare : this.trySpawn();
    this.spare = undefined;
    if (spare === undefined) return this.unavailable(this.impossible as string);
    let outcome: PreflightOutcome;
    if (!background) spare.worker.ref(); // the process waits for the answer
    this.busy = spare.worker;
    try {
      await withLimit(spare.ready, READY_LIMIT_MS, 'the worker did not start', background);
      outcome = await this.evaluate(spare.worker, job, background, newerSave);
    } catch (error) {
      outcome = { kind: 'unavailable', reason: error instanceof Error ? error.message : String(error) };
    } finally {
      this.busy = undefined;
    }
    spare.jobs++;
    if (outcome.kind === 'finished' && outcome.leftOpen.length === 0 && spare.jobs < MAX_JOBS && !this.closed) {
      this.spare = spare; // nothing of the batch is left running there: the warm worker serves the next batch
      spare.worker.unref(); // an idle worker never keeps the process alive
    } else {
      // Stopped, or its modules left something open (a port they listen on, a timer): the main thread
      // waits for the worker to be gone before evaluating them itself, and a fresh one is started.
      await spare.worker.terminate();
      if (!this.closed) this.spare = this.trySpawn();
    }
    return outcome.kind === 'unavailable' && !background && !this.closed ? this.unavailable(outcome.reason) : outcome;
  }

  /**
   * A file changed while a job runs: ask the job's `newerSave` (see
   * {@link run}) again now, rather than only when a module starts evaluating.
   */
  cutShort(): void {
    this.cut?.();
  }

  /** Said once on stderr: modules are then evaluated on the main thread without a time limit. */
  private unavailable(reason: string): PreflightOutcome {
    if (!this.warned) {
      this.warned = true;
      process.stderr.write(
        `hotmcp: import preflight unavailable (${reason}); modules are evaluated without a time limit\n`,
      );
    }
    return { kind: 'unavailable', reason };
  }

  /** A new spare worker, or undefined (for good) when this process may not start worker threads. */
  private trySpawn(): Spare | undefined {
    if (this.impossible !== undefined) return undefined;
    try {
      return this.spawn();
    } catch (error) {
      this.impossible = error instanceof Error ? error.message : String(error);
      return undefined;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const spare = this.spare;
    this.spare = undefined;
    await Promise.all([spare?.worker.terminate(), this.busy?.terminate()]);
  }

  private spawn(): Spare {
    const start = () =>
      new Worker(new URL('./preflight-worker.js', import.meta.url), {
        workerData: { warm: [...this.warm.values()] },
        execArgv: workerExecArgv(),
        // A worker evaluates a batch or two and waits: a young generation grown to V8's default
        // maximum (48 MB on Node 24) would stay resident in every worker for nothing.
        resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      });
    let worker: Worker;
    for (;;) {
      try {
        worker = start();
        break;
      } catch (error) {
        if (!learnRefused(error)) throw error; // started with the options a worker takes, or never
      }
    }
    worker.on('error', () => {}); // reported through `ready` or the running job
    worker.once('online', pinYoungGeneration); // Node 20 resets the young generation's growth factor
    const spare: Spare = { worker, ready: Promise.resolve(), jobs: 0, ended: false };
    worker.once('exit', () => {
      spare.ended = true;
    });
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (message: PreflightMessage) => {
        if (message.type === 'ready') resolve();
      });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the worker exited with code ${code}`)));
    });
    ready.catch(() => {});
    worker.unref(); // after the listeners, which take a reference
    spare.ready = ready;
    return spare;
  }

  private evaluate(
    worker: Worker,
    job: PreflightJob,
    background: boolean,
    newerSave: ((running: readonly string[]) => string | undefined) | undefined,
  ): Promise<PreflightOutcome> {
    return new Promise((resolve) => {
      const running: string[] = [];
      const finished: string[] = [];
      const batch = new Set(job.files);
      let ends: string | undefined;
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const settle = (outcome: PreflightOutcome) => {
        settled = true;
        clearTimeout(timer);
        if (this.cut === cut) this.cut = undefined;
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        resolve(outcome);
      };
      // While the packages are imported ahead, what hangs is a package: the modules importing it are running.
      let warming = true;
      const importing = new Map(job.externals.map(([file], index) => [index, file]));
      const active = () => (warming ? [...new Set(importing.values())] : [...running]);
      const cut = () => {
        const hung = active();
        const newer = newerSave?.(hung);
        if (newer !== undefined) settle({ kind: 'superseded', running: hung, finished: [...finished], newer });
      };
      if (newerSave) this.cut = cut;
      const arm = (ms: number) => {
        clearTimeout(timer);
        timer = setTimeout(() => settle({ kind: 'timeout', running: active(), finished: [...finished] }), ms);
        if (background) timer.unref();
      };
      const onMessage = (message: PreflightMessage) => {
        if (message.type === 'imported') return void importing.delete(message.index);
        if (message.type === 'warmed') {
          warming = false;
          return arm(this.timeoutMs);
        }
        if (message.type === 'done') {
          const { leftOpen, timersLeft, thrownAt } = message;
          return settle({ kind: 'finished', leftOpen, timersLeft, thrownAt });
        }
        if (message.type === 'ends') ends = message.call;
        if (message.type !== 'trace') return;
        if (!message.done) {
          running.push(message.file);
          cut(); // saved again before it started
          if (settled) return;
        } else {
          const at = running.lastIndexOf(message.file);
          if (at !== -1) running.splice(at, 1);
          if (batch.has(message.file)) finished.push(message.file);
        }
        arm(this.timeoutMs);
      };
      // Ended while a module was evaluating (or a package it imports was imported ahead): that module ended it.
      const ended = (reason: string) => {
        const hung = active();
        settle(
          hung.length > 0
            ? { kind: 'died', running: hung, finished: [...finished], reason: ends ?? reason }
            : { kind: 'unavailable', reason },
        );
      };
      // An uncaught error reaches this thread on the worker's internal port, which may be read before the
      // trace messages still queued on the public one: what was running is known only once the worker has
      // exited (Node drains both ports before 'exit'), so the error is kept until then.
      let thrown: string | undefined;
      const onError = (error: Error) => {
        thrown ??= describeThrown(error);
      };
      const onExit = (code: number) => ended(thrown ?? `the worker exited with code ${code}`);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage(job);
      // The packages the batch imports are imported first, as a fresh worker imports them ahead: a cold
      // import of a large package on a busy machine is no hang. The limit applies once they are in.
      arm(READY_LIMIT_MS);
    });
  }
}

function withLimit<T>(promise: Promise<T>, ms: number, what: string, unref = false): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    if (unref) timer.unref();
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}
