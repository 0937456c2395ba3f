import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The options of `hotmcp dev` that take a value (the next argument is not the entry). */
const VALUED = new Set(['--watcher', '--audit', '--connect-timeout', '--restart-on']);
const EVENTS = ['message', 'error', 'exit', 'close'] as const;

/** A server process started before the supervisor's code was loaded, with what it said meanwhile. */
export interface EarlyServer {
  readonly process: ChildProcess;
  /** Hand the events it emitted so far to the listeners attached since (the supervisor's), then stop holding them. */
  release(): void;
  /** Stop it, unless it was released: the command line turned out not to need it (an option error, say). */
  discard(): void;
}

/** The arguments of the server process the supervisor runs for `hotmcp dev <rest>`. */
export function serverArgs(rest: readonly string[]): string[] {
  return [...process.execArgv, fileURLToPath(new URL('./bin.js', import.meta.url)), 'dev', '--no-supervisor', ...rest];
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
  const child = spawn(process.execPath, serverArgs(rest), { stdio: ['pipe', 'pipe', 'pipe', 'ipc'] });
  const held: Array<[string, unknown[]]> = [];
  const holders = EVENTS.map((name) => {
    const hold = (...args: unknown[]) => held.push([name, args]);
    child.on(name, hold);
    return [name, hold] as const;
  });
  let holding = true;
  const unhold = () => {
    holding = false;
    for (const [name, hold] of holders) child.off(name, hold);
  };
  return {
    process: child,
    release() {
      unhold();
      for (const [name, args] of held.splice(0)) child.emit(name, ...args);
    },
    discard() {
      if (!holding) return; // released to the supervisor, or discarded already
      unhold();
      child.stdin?.destroy();
      child.kill('SIGKILL');
    },
  };
}
