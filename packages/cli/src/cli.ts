import { createRequire } from 'node:module';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { DevOptions, DevRun } from './dev/run-dev.js';
import { type EarlyServer, serverArgs } from './early-server.js';
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
client's handshake, so the client sees one list_changed and nothing else.

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

const USAGE = 'Usage: hotmcp dev [options] <entry> [-- args...]   (hotmcp dev --help)';

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
      args: serverArgs(rest),
      ...(early && { first: early.process }),
      ...(values['restart-on'] && { restartOn: values['restart-on'] }),
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
  const devOptions: DevOptions = {
    entry,
    args: [...extra, ...passed],
    ...(values.dispatcher && { dispatcher: true }),
    ...(values['no-audit'] ? { audit: false as const } : values.audit ? { audit: values.audit } : {}),
    ...(watcher && { watcher: watcher as 'auto' | 'native' | 'poll' }),
    ...(timeout !== undefined && { connectTimeoutMs: timeout }),
  };
  // A JavaScript entry runs natively first (see runNativeFirst).
  const native = await import('./dev/native-start.js');
  const path = native.entryPath(entry, process.cwd());
  if (path !== undefined && native.runsNatively(path)) return runNativeFirst(native, path, devOptions);
  // The runner compiles every local module with esbuild: its service process starts now, while
  // this process is small (a cheaper fork) and goes on loading the rest meanwhile.
  startEsbuild();
  mark('esbuild started');
  // Only the process that runs the server loads hotmcp's core, the SDK adapters and the entry.
  const [{ guardStdout }, { runDev }] = await Promise.all([import('@hotmcp/core'), import('./dev/run-dev.js')]);
  mark('core and dev runtime imported');
  guardStdout(); // stdout is the MCP channel: anything else written there goes to stderr
  let run: DevRun | undefined;
  exitWhenDone(() => run);
  try {
    run = await runDev(devOptions);
    mark('serving (runDev resolved)');
  } catch (error) {
    return fail(error);
  }
  // Serving until the client goes away (stdin ends) or a signal: then stop watching and exit.
  return new Promise<number>(() => {});
}

/**
 * A JavaScript entry runs natively first, as `node` would run it, with none
 * of hotmcp's engine loaded: the server answers its client at once. The
 * engine takes it over once the first requests are answered.
 */
async function runNativeFirst(
  native: typeof import('./dev/native-start.js'),
  entry: string,
  options: DevOptions,
): Promise<number> {
  const guard = (await import(new URL('./stdio/guard-stdout.js', import.meta.resolve('@hotmcp/core')).href)) as {
    guardStdout: () => Writable;
  };
  let run: DevRun | undefined;
  exitWhenDone(() => run);
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  let start: Awaited<ReturnType<typeof native.startNative>>;
  try {
    start = await native.startNative(
      entry,
      options.args ?? [],
      guard.guardStdout,
      (line) => process.stderr.write(`hotmcp: ${line}\n`),
      timeout,
    );
  } catch (error) {
    return fail(await loadFailed(error, entry));
  } finally {
    clearTimeout(timer);
  }
  if (start === 'timeout') return fail((await import('./dev/run-dev.js')).noServer(entry, timeoutMs));
  mark('serving (first run)');
  await start.answered;
  try {
    const { takeOverNative } = await import('./dev/run-dev.js');
    run = await takeOverNative(start, options);
    mark('taken over');
  } catch (error) {
    return fail(error);
  }
  return new Promise<number>(() => {});
}

/** The error of an entry whose first, native evaluation threw: a typed error at its file and line. */
async function loadFailed(error: unknown, entry: string): Promise<unknown> {
  const [{ HotMcpError }, { callSite }, { projectRootOf }] = await Promise.all([
    import('@hotmcp/core'),
    import('./dev/call-site.js'),
    import('./dev/project-root.js'),
  ]);
  const message = error instanceof Error ? error.message : String(error);
  const site = callSite(error instanceof Error ? error.stack : undefined, projectRootOf(entry));
  const at = site.file ? `${site.file}${site.line ? `:${site.line}` : ''}` : entry;
  return new HotMcpError('HOTMCP_ERR_LOAD_FAILED', `Failed to load ${at}: ${message}`, {
    file: site.file ?? entry,
    ...(site.line !== undefined && { line: site.line }),
    cause: error,
  });
}

/** Say why the server cannot start, then exit 1 (once the line is out: the entry may hold the event loop open). */
async function fail(error: unknown): Promise<number> {
  const { clientMessage, isHotMcpError } = await import('@hotmcp/core');
  const message = error instanceof Error ? error.message : String(error);
  const code = isHotMcpError(error) ? `${error.code}: ` : '';
  process.stderr.write(`hotmcp: ${code}${clientMessage(process.cwd(), message)}\n`, () => process.exit(1));
  return new Promise<number>(() => {});
}

/** End with the client (stdin ends), the supervisor or a signal: stop watching (`run`, once there is one) and exit. */
function exitWhenDone(run: () => DevRun | undefined): void {
  let exiting = false;
  const exit = () => {
    if (exiting) return;
    exiting = true;
    const stopped = (run()?.stop() ?? Promise.resolve()).catch(() => undefined);
    const late = new Promise((resolve) => setTimeout(resolve, 1000).unref());
    void Promise.race([stopped, late]).then(() => process.exit(0));
  };
  process.stdin.once('end', exit);
  // Under a supervisor: end with it, even when it was killed without a word.
  if (process.connected) process.once('disconnect', exit);
  process.once('SIGINT', exit);
  process.once('SIGTERM', exit);
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
