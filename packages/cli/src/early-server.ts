import { type ChildProcess, spawn } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { childStdio, pipes, SERVING_MESSAGE } from './supervisor/child-stdio.js';

/** The options of `hotmcp dev` that take a value (the next argument is not the entry). */
const VALUED = new Set(['--watcher', '--audit', '--connect-timeout', '--restart-on']);
const EVENTS = ['message', 'error', 'exit', 'close'] as const;
const STREAM_EVENTS = ['data', 'end', 'error', 'close'] as const;
/** How long the supervisor waits at most for the server process to say it serves before it loads. */
const STARTED_WITHIN_MS = 5000;

/** A server process started before the supervisor's code was loaded, with what it said meanwhile. */
export interface EarlyServer {
  readonly process: ChildProcess;
  /** When it was spawned (ms since the epoch). */
  readonly spawnedAt: number;
  /**
   * Settles once the supervisor's code may load without taking the CPU from the server's start:
   * in direct mode (the process serves the client itself) once the process says it has answered
   * its client's first requests, ends, or has had 5 s; at once in relay mode (every message
   * crosses the supervisor).
   */
  readonly started: Promise<void>;
  /**
   * Hand the events it and its output streams emitted so far to the listeners attached since (the
   * supervisor's), in order, then stop holding them.
   */
  release(): void;
  /** Stop it, unless it was released: the command line turned out not to need it (an option error, say). */
  discard(): void;
}

/** The arguments of the server process the supervisor runs for `hotmcp dev <rest>` (see `server-process.ts`). */
export function serverArgs(rest: readonly string[]): string[] {
  return [...process.execArgv, fileURLToPath(new URL('./server-process.cjs', import.meta.url)), ...rest];
}

/**
 * When `argv` runs `hotmcp dev` behind the supervisor (the default), spawn the
 * server process at once: a Node process takes ~100 ms to boot, and the
 * supervisor's own code loads meanwhile. Undefined for anything else. The
 * command line is checked in full afterwards; a process it did not need is
 * discarded.
 */
export function spawnEarlyServer(argv: readonly string[]): EarlyServer | undefined {
  const [command, ...rest] = argv;
  if (command !== 'dev') return undefined;
  const split = rest.indexOf('--');
  const own = split === -1 ? rest : rest.slice(0, split);
  let positional = false;
  for (let i = 0; i < own.length; i++) {
    const arg = own[i] as string;
    if (arg === '--no-supervisor' || arg === '-h' || arg === '--help') return undefined;
    if (VALUED.has(arg)) i++;
    else if (!arg.startsWith('-')) positional = true;
  }
  if (!positional) return undefined;
  // The supervisor's mode, decided as it decides it (see startSupervisor's `direct`).
  const direct = process.env.HOTMCP_SUPERVISOR_MODE !== 'relay' && pipes(0, 1);
  const child = spawn(process.execPath, serverArgs(rest), childStdio(direct, true, process.env));
  const spawnedAt = Date.now();
  // What the process and its output streams (stdout, stderr, the notes channel) emit until the
  // supervisor listens, in order; the streams are read meanwhile, so the process never waits on a full pipe.
  const held: Array<[EventEmitter, string, unknown[]]> = [];
  const holders: Array<[EventEmitter, string, (...args: unknown[]) => void]> = [];
  const hold = (target: EventEmitter, names: readonly string[]) => {
    for (const name of names) {
      const holder = (...args: unknown[]) => held.push([target, name, args]);
      target.on(name, holder);
      holders.push([target, name, holder]);
    }
  };
  hold(child, EVENTS);
  for (const stream of child.stdio.slice(1)) if (stream && 'read' in stream) hold(stream, STREAM_EVENTS);
  let holding = true;
  const unhold = () => {
    holding = false;
    for (const [target, name, holder] of holders) target.off(name, holder);
  };
  let started = Promise.resolve();
  if (direct) {
    started = new Promise<void>((resolve) => {
      const timer = setTimeout(done, STARTED_WITHIN_MS);
      function done() {
        clearTimeout(timer);
        child.off('message', onMessage);
        for (const name of ['error', 'exit'] as const) child.off(name, done);
        resolve();
      }
      function onMessage(message: unknown) {
        if ((message as { type?: unknown } | null)?.type === SERVING_MESSAGE) done();
      }
      child.on('message', onMessage);
      for (const name of ['error', 'exit'] as const) child.on(name, done);
    });
  }
  return {
    process: child,
    spawnedAt,
    started,
    release() {
      unhold();
      for (const [target, name, args] of held.splice(0)) target.emit(name, ...args);
    },
    discard() {
      if (!holding) return; // released to the supervisor, or discarded already
      unhold();
      child.stdin?.destroy();
      child.kill('SIGKILL');
    },
  };
}
