/**
 * The command line of `hotmcp dev`, read the same way by the CLI (before it
 * starts the supervisor) and by the server process the supervisor runs.
 */
import { parseArgs } from 'node:util';
import type { DevOptions } from './run-dev.js';

export const USAGE = 'Usage: hotmcp dev [options] <entry> [-- args...]   (hotmcp dev --help)';

/** What `hotmcp dev <rest>` asks for: help, a mistake (said as `message`), or a server to run. */
export type DevArgs =
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string }
  | {
      readonly kind: 'run';
      readonly options: DevOptions;
      readonly supervisor: boolean;
      readonly restartOn: string[] | undefined;
      /** The audit log file the supervisor writes to, unless `--no-audit`. */
      readonly audit: { path: string | undefined } | undefined;
    };

const WATCHERS = ['auto', 'native', 'poll'];

/** Read the arguments of `hotmcp dev` (what follows `dev`). */
export function parseDevArgs(rest: readonly string[]): DevArgs {
  const split = rest.indexOf('--');
  const own = split === -1 ? rest : rest.slice(0, split);
  const passed = split === -1 ? [] : rest.slice(split + 1);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse([...own]);
  } catch (error) {
    return { kind: 'error', message: `hotmcp: ${(error as Error).message}\n${USAGE}\n` };
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  const [entry, ...extra] = positionals;
  if (entry === undefined) return { kind: 'error', message: `hotmcp: dev needs an entry file\n${USAGE}\n` };
  const watcher = values.watcher;
  if (watcher !== undefined && !WATCHERS.includes(watcher)) {
    return { kind: 'error', message: `hotmcp: --watcher must be auto, native or poll, got ${watcher}\n` };
  }
  // As createReloader checks it: a kind misspelt in a client's config is said, not replaced by auto.
  const fromEnv = process.env.HOTMCP_WATCHER;
  if (watcher === undefined && fromEnv !== undefined && !WATCHERS.includes(fromEnv)) {
    return {
      kind: 'error',
      message: `hotmcp: the HOTMCP_WATCHER environment variable must be auto, native or poll, got ${JSON.stringify(fromEnv)}\n`,
    };
  }
  const timeout = values['connect-timeout'] === undefined ? undefined : Number(values['connect-timeout']);
  if (timeout !== undefined && !(timeout > 0)) {
    return { kind: 'error', message: 'hotmcp: --connect-timeout must be a positive number of milliseconds\n' };
  }
  return {
    kind: 'run',
    options: {
      entry,
      args: [...extra, ...passed],
      ...(values.dispatcher && { dispatcher: true }),
      ...(values['no-audit'] ? { audit: false as const } : values.audit ? { audit: values.audit } : {}),
      ...(watcher && { watcher: watcher as 'auto' | 'native' | 'poll' }),
      ...(timeout !== undefined && { connectTimeoutMs: timeout }),
    },
    supervisor: !values['no-supervisor'],
    restartOn: values['restart-on'],
    audit: values['no-audit'] ? undefined : { path: values.audit ?? process.env.HOTMCP_AUDIT_LOG },
  };
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      dispatcher: { type: 'boolean' },
      watcher: { type: 'string' },
      audit: { type: 'string' },
      'no-audit': { type: 'boolean' },
      'connect-timeout': { type: 'string' },
      'restart-on': { type: 'string', multiple: true },
      'no-supervisor': { type: 'boolean' },
    },
  });
}
