/**
 * Fuzzed edit sequences against the running example server: fast-check
 * generates sequences of steps, each sequence runs from an empty tools
 * folder, and after every step what the real client sees must equal the
 * model. One server serves many sequences; a server that dies is a failure,
 * and the next sequence gets a fresh one.
 */
import fc from 'fast-check';
import { FuzzModel, type Step, sequenceArbitrary } from './fuzz-model.js';
import { HttpStressServer } from './http-stress-server.js';
import { type FuzzTarget, StressServer } from './stress-server.js';

/** Which example the sequences run against. */
export type FuzzTargetKind = 'stdio' | 'http';

/** Options of {@link runFuzz}. */
export interface FuzzOptions {
  /** How many sequences. */
  runs: number;
  /**
   * `stdio` (default): the SDK v1 example, one client over stdio. `http`: the
   * HTTP sessions example, two SDK 1.x and two SDK 2.x clients, and a
   * 2025-era client of the SDK 2.x endpoint.
   */
  target?: FuzzTargetKind;
  /** Longest sequence. Default 12. */
  maxSteps?: number;
  /** fast-check seed; random when absent. */
  seed?: number;
  /** fast-check replay path (with `seed`): runs exactly that counterexample. */
  path?: string;
  /** Shrink a failing sequence to a smaller one (each try runs against the server). Default true. */
  shrink?: boolean;
  /** Progress and failure lines (default: stderr). */
  log?: (line: string) => void;
}

/** What {@link runFuzz} reports. */
export interface FuzzReport {
  seed: number;
  runs: number;
  sequences: number;
  steps: number;
  /** Server processes that died (each one is also a failed sequence). */
  deaths: number;
  durationMs: number;
  failed: boolean;
  /** `pnpm fuzz` arguments that replay the failure. */
  replay?: string;
  /** fast-check's report, with the (shrunk) counterexample and the error. */
  message?: string;
}

/** Run `options.runs` fuzzed sequences; resolves with the report (it does not throw on a failed property). */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const seed = options.seed ?? randomSeed();
  const started = performance.now();
  // Part of the arbitrary: a replay must use the same value.
  const maxSteps = options.maxSteps ?? 12;
  const targetFlag = options.target === 'http' ? '--target=http ' : '';
  let server: FuzzTarget | undefined;
  const start = (): Promise<FuzzTarget> =>
    options.target === 'http' ? HttpStressServer.start() : StressServer.start();
  let sequences = 0;
  let steps = 0;
  let deaths = 0;
  /** Set by a failed sequence: the next one starts on a fresh server, so a failure cannot leak into it. */
  let tainted = false;

  let runIndex = -1;
  let firstFailure = true;
  const property = fc.asyncProperty(sequenceArbitrary(maxSteps), async (sequence: Step[]) => {
    runIndex++;
    if (server && (!server.alive || tainted)) {
      if (!server.alive) deaths++;
      await server.stop();
      server = undefined;
    }
    tainted = false;
    server ??= await start();
    try {
      steps += await runSequence(server, sequence);
    } catch (error) {
      tainted = true;
      if (firstFailure && options.path === undefined) {
        // Before shrinking (which replays against the server and can take minutes): the unshrunk failure.
        firstFailure = false;
        const message = error instanceof Error ? error.message : String(error);
        log(
          `fuzz: sequence ${runIndex + 1} FAILED (replay: pnpm fuzz ${targetFlag}--seed=${seed} --path=${runIndex} --steps=${maxSteps})\n${message}`,
        );
        if (options.shrink !== false) log('fuzz: shrinking (interrupt to keep the failure above)...');
      }
      throw error;
    }
    sequences++;
    if (sequences % 50 === 0) {
      const seconds = ((performance.now() - started) / 1000).toFixed(0);
      log(`fuzz: ${sequences} sequences, ${steps} steps, ${seconds} s`);
    }
  });

  log(
    `fuzz: seed ${seed}${options.path ? ` path ${options.path}` : ''}, ${options.runs} sequences, target ${options.target ?? 'stdio'}`,
  );
  try {
    const details = await fc.check(property, {
      numRuns: options.runs,
      seed,
      ...(options.path !== undefined && { path: options.path }),
      // A replay reports the given counterexample as it is.
      endOnFailure: options.shrink === false || options.path !== undefined,
    });
    const report: FuzzReport = {
      seed,
      runs: options.runs,
      sequences,
      steps,
      deaths: deaths + (server && !server.alive ? 1 : 0),
      durationMs: Math.round(performance.now() - started),
      failed: details.failed,
    };
    if (details.failed) {
      report.replay = `${targetFlag}--seed=${details.seed} --path=${details.counterexamplePath} --steps=${maxSteps}`;
      const error =
        details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
      report.message = `${fc.defaultReportMessage(details) ?? 'failed'}\n\n${error}`;
    }
    return report;
  } finally {
    await server?.stop();
  }
}

/**
 * Run one sequence on `server` from an emptied tools folder: after each step,
 * settle until the client sees what the model says. Resolves with the number
 * of steps; throws with the diff and the steps so far.
 */
export async function runSequence(server: FuzzTarget, sequence: readonly Step[]): Promise<number> {
  await server.reset();
  const model = new FuzzModel();
  const done: string[] = [];
  for (const step of sequence) {
    const { label, actions } = model.apply(step);
    done.push(label);
    await server.perform(actions);
    try {
      await server.settle(model.view(), `step ${done.length} (${label})`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`${message}\nsteps so far:\n${done.map((line, index) => `  ${index + 1}. ${line}`).join('\n')}`);
    }
  }
  if ((await server.currentPid()) !== server.pid) throw new Error('the server restarted during the sequence');
  return done.length;
}

/** A non-negative 31-bit seed, so it reads as a plain command-line value. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}
