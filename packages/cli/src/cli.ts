import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { DevRun } from './dev/run-dev.js';
import { mark } from './timing.js';

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
client's handshake, so the client sees one list_changed and nothing else. The
child serves the client's stdin and stdout itself (no message crosses the
supervisor); HOTMCP_SUPERVISOR_MODE=relay makes the supervisor relay them.

Modules keep state across reloads with import.meta.hot (absent under plain node):
  const cache = (import.meta.hot?.data.cache as Map<string, string>) ?? new Map();
  if (import.meta.hot) import.meta.hot.data.cache = cache;
  import.meta.hot?.dispose(() => clearInterval(timer));

A fleet of HTTP replicas fed by a Redis Stream (needs @hotmcp/source-redis):
  hotmcp publish <dir> --redis <url> [--stream <name>] [--wait]
  hotmcp fleet status --redis <url> [--stream <name>] [--json]
`;

const USAGE = 'Usage: hotmcp dev [options] <entry> [-- args...]   (hotmcp dev --help)';

/** Run the CLI with `argv` (without node and the script); resolves with the exit code, or never while serving. */
export async function main(argv: string[]): Promise<number> {
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
  const split = rest.indexOf('--');
  const own = split === -1 ? rest : rest.slice(0, split);
  const passed = split === -1 ? [] : rest.slice(split + 1);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(own);
  } catch (error) {
    process.stderr.write(`hotmcp: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stderr.write(HELP);
    return 0;
  }
  const [entry, ...extra] = positionals;
  if (entry === undefined) {
    process.stderr.write(`hotmcp: dev needs an entry file\n${USAGE}\n`);
    return 2;
  }
  const watcher = values.watcher;
  if (watcher !== undefined && !['auto', 'native', 'poll'].includes(watcher)) {
    process.stderr.write(`hotmcp: --watcher must be auto, native or poll, got ${watcher}\n`);
    return 2;
  }
  const timeout = values['connect-timeout'] === undefined ? undefined : Number(values['connect-timeout']);
  if (timeout !== undefined && !(timeout > 0)) {
    process.stderr.write('hotmcp: --connect-timeout must be a positive number of milliseconds\n');
    return 2;
  }
  if (!values['no-supervisor']) {
    // The supervisor owns stdin/stdout; the server runs in a child that reports over IPC. This
    // process loads the supervisor only (no core, no SDK): it spawns the child as its first act.
    const { startSupervisor } = await import('./supervisor/stdio-supervisor.js');
    mark('supervisor imported');
    const supervisor = startSupervisor({
      command: process.execPath,
      args: [
        ...process.execArgv,
        fileURLToPath(new URL('./bin.js', import.meta.url)),
        'dev',
        '--no-supervisor',
        ...rest,
      ],
      ...(values['restart-on'] && { restartOn: values['restart-on'] }),
      direct: process.env.HOTMCP_SUPERVISOR_MODE !== 'relay',
      ...(!values['no-audit'] && { audit: lazyAudit(values.audit ?? process.env.HOTMCP_AUDIT_LOG) }),
    });
    mark('supervisor started (child spawned)');
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => void supervisor.close().then(() => process.exit(0)));
    }
    await supervisor.closed;
    // stdin may still be open (the client stays, but the server could not start): end here.
    process.exit(supervisor.exitCode);
  }
  // Under a supervisor in direct mode: this process serves the client's stdio, and tells the supervisor on fd 3.
  if (process.env.HOTMCP_SUPERVISOR_FD) await import('./dev/supervised-stdio.js');
  // The runner compiles every local module with esbuild: its service process starts now, while
  // this process is small (a cheaper fork) and goes on loading the rest meanwhile.
  startEsbuild();
  mark('esbuild started');
  // Only the process that runs the server loads hotmcp's core, the SDK adapters and the entry.
  const [{ clientMessage, guardStdout, isHotMcpError }, { runDev }] = await Promise.all([
    import('@hotmcp/core'),
    import('./dev/run-dev.js'),
  ]);
  mark('core and dev runtime imported');
  guardStdout(); // stdout is the MCP channel: anything else written there goes to stderr
  try {
    const run = await runDev({
      entry,
      args: [...extra, ...passed],
      ...(values.dispatcher && { dispatcher: true }),
      ...(values['no-audit'] ? { audit: false as const } : values.audit ? { audit: values.audit } : {}),
      ...(watcher && { watcher: watcher as 'auto' | 'native' | 'poll' }),
      ...(timeout !== undefined && { connectTimeoutMs: timeout }),
    });
    mark('serving (runDev resolved)');
    exitWhenDone(run);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const code = isHotMcpError(error) ? `${error.code}: ` : '';
    // Exit once the line is out: the entry may hold the event loop open.
    process.stderr.write(`hotmcp: ${code}${clientMessage(process.cwd(), message)}\n`, () => process.exit(1));
    return new Promise<number>(() => {});
  }
  // Serving until the client goes away (stdin ends) or a signal: then stop watching and exit.
  return new Promise<number>(() => {});
}

function exitWhenDone(run: DevRun): void {
  let exiting = false;
  const exit = () => {
    if (exiting) return;
    exiting = true;
    const stopped = run.stop().catch(() => undefined);
    const late = new Promise((resolve) => setTimeout(resolve, 1000).unref());
    void Promise.race([stopped, late]).then(() => process.exit(0));
  };
  process.stdin.once('end', exit);
  // Under a supervisor: end with it, even when it was killed without a word.
  if (process.connected) process.once('disconnect', exit);
  process.once('SIGINT', exit);
  process.once('SIGTERM', exit);
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

function startEsbuild(): void {
  try {
    const fromCore = createRequire(import.meta.resolve('@hotmcp/core'));
    (fromCore('esbuild') as { initialize(options: object): Promise<void> }).initialize({}).catch(() => {});
  } catch {
    // The first compilation starts it.
  }
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
