import { resolve } from 'node:path';
import { parseDevArgs, USAGE } from './dev/dev-args.js';
import { type EarlyServer, serverArgs } from './early-server.js';
import { mark, enabled as timingEnabled } from './timing.js';

mark('cli imported');

export const HELP = `Usage: hotmcp dev [options] <entry> [-- args...]

Run an MCP stdio server entry (.ts or .js, @modelcontextprotocol/sdk 1.x or
@modelcontextprotocol/server 2.x) unchanged, hot-reloaded in-process: edit any
local module it imports and the running server picks the change up, with one
list_changed, without a restart. Nothing but JSON-RPC is written to stdout.

Options:
  --dispatcher          also register hotmcp_call { name, arguments }, which calls
                        any current tool by name (for clients that ignore list_changed)
  --watcher <kind>      auto (default), native or poll
  --audit <file>        audit log file (default: HOTMCP_AUDIT_LOG, else hotmcp's default)
  --no-audit            no audit log
  --connect-timeout <ms>  how long the entry may take to connect its server (default 10000)
  --restart-on <glob>   restart the server process when a matching file changes
                        (repeatable; default .env, .env.*, package.json and lockfiles)
  --no-supervisor       run the server in this process, with no supervisor: an edit
                        that cannot be applied in place is reported, never restarted
  -h, --help            show this help

By default a thin supervisor owns the client's connection and runs the server
in a child process. It restarts the child only when it must — an edit that
cannot be applied in place, a crash, a --restart-on file — replaying the
client's handshake, so the client sees one list_changed and nothing else. An
entry built on the low-level Server (its own tools/list and tools/call
handlers, no McpServer) is restarted so on each edit of a module it imports. A
server that keeps crashing at start is retried with a growing delay (up to
30 s), and at once when a file of the project changes. The child serves the
client's stdin and stdout itself (no message crosses the supervisor);
HOTMCP_SUPERVISOR_MODE=relay makes the supervisor relay them.

Modules keep state across reloads with import.meta.hot (absent under plain node):
  const cache = (import.meta.hot?.data.cache as Map<string, string>) ?? new Map();
  if (import.meta.hot) import.meta.hot.data.cache = cache;
  import.meta.hot?.dispose(() => clearInterval(timer));
A JavaScript entry (.mjs, or .js in a "type": "module" package) starts as node
runs it, so it answers as fast: its modules have import.meta.hot from their
first edit on (what the version node ran kept is not handed over).

A fleet of HTTP replicas fed by a Redis Stream (needs @hotmcp/source-redis):
  hotmcp publish <dir> --redis <url> [--stream <name>] [--wait]
  hotmcp fleet status --redis <url> [--stream <name>] [--json]
`;

/**
 * Run the CLI with `argv` (without node and the script); resolves with the exit code, or never while serving.
 * `early` is the server process the bin spawned already for `hotmcp dev` (see `spawnEarlyServer`).
 */
export async function main(argv: string[], early?: EarlyServer): Promise<number> {
  const code = await run(argv, early);
  early?.discard(); // not handed to a supervisor: the command line did not need it
  return code;
}

async function run(argv: string[], early: EarlyServer | undefined): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '-h' || command === '--help' || command === 'help') {
    process.stderr.write(HELP);
    return 0;
  }
  // Fleet commands: their module, and @hotmcp/source-redis with its Redis client, are loaded only for them.
  if (command === 'publish' || command === 'fleet') return (await import('./fleet-command.js')).runFleetCommand(argv);
  if (command !== 'dev') {
    process.stderr.write(
      `hotmcp: ${command === undefined ? 'no command' : `unknown command '${command}'`}\n${USAGE}\n`,
    );
    return 2;
  }
  const args = parseDevArgs(rest);
  if (args.kind === 'help') {
    process.stderr.write(HELP);
    return 0;
  }
  if (args.kind === 'error') {
    process.stderr.write(args.message);
    return 2;
  }
  if (args.supervisor) {
    // The supervisor owns stdin/stdout; the server runs in a child that reports over IPC. This
    // process loads the supervisor only (no core, no SDK): it spawns the child as its first act.
    const [{ startSupervisor }, { watchProjectForRetry }, { projectRootOf }] = await Promise.all([
      import('./supervisor/stdio-supervisor.js'),
      import('./supervisor/retry-watch.js'),
      import('./dev/project-root.js'),
    ]);
    mark('supervisor imported');
    const supervisor = startSupervisor({
      command: process.execPath,
      args: serverArgs(rest),
      ...(early && { first: early.process, firstSpawnedAt: early.spawnedAt }),
      ...(args.restartOn && { restartOn: args.restartOn }),
      // A crash loop (the server ends at start) waits for a fix: an edit starts it again at once.
      retryOnChange: watchProjectForRetry(projectRootOf(resolve(args.options.entry)), args.options.watcher),
      direct: process.env.HOTMCP_SUPERVISOR_MODE !== 'relay',
      ...(args.audit && { audit: lazyAudit(args.audit.path) }),
      ...(timingEnabled && { onEvent: (event) => mark(`supervisor ${JSON.stringify(event)}`) }),
    });
    early?.release();
    early = undefined;
    mark('supervisor started');
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => void supervisor.close().then(() => process.exit(0)));
    }
    await supervisor.closed;
    // stdin may still be open (the client stays, but the server could not start): end here.
    process.exit(supervisor.exitCode);
  }
  // --no-supervisor: the server runs in this process.
  return (await import('./dev/serve.js')).serve(args.options);
}

/** The supervisor's audit sink: @hotmcp/core's, loaded only when there is something to record (a crash). */
function lazyAudit(path: string | undefined) {
  let sink: Promise<{ record(event: string, fields?: object): void; close(): Promise<void> }> | undefined;
  return {
    record(event: string, fields?: Record<string, unknown>) {
      sink ??= import('@hotmcp/core').then(({ WinstonAuditSink }) => new WinstonAuditSink(path ? { path } : {}));
      void sink.then((audit) => audit.record(event, fields)).catch(() => {});
    },
    close: async () => {
      await (await sink)?.close();
    },
  };
}
