/**
 * Run `hotmcp dev`'s server in this process: the server process behind the
 * supervisor (see `server-process.ts`), or `hotmcp dev --no-supervisor`.
 * What a JavaScript entry's first run needs is imported up front, in one
 * step; hotmcp's engine (core, esbuild, the watchers) only once the server
 * has answered its client's first requests.
 */
import { createRequire } from 'node:module';
import type { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { SERVING_MESSAGE } from '../supervisor/child-stdio.js';
import { mark } from '../timing.js';
import { entryPath, type NativeStart, runsNatively, startNative } from './native-start.js';
import type { DevOptions, DevRun } from './run-dev.js';

// Under a supervisor in direct mode (its environment variable set), this process serves the
// client's stdio itself and tells the supervisor on fd 3: set up as this module is imported.
import './supervised-stdio.js';

/**
 * The dev runtime, from the ES bundle beside this file: this module is also in the server
 * process's CommonJS bundle (server-process.cjs), which must not carry a copy of it (it imports
 * @hotmcp/core, an ES module). A URL computed at run time: bundlers leave this import to Node.
 */
const runDevModule = () =>
  import(new URL('./run-dev.js', import.meta.url).href) as Promise<typeof import('./run-dev.js')>;
/** Where @hotmcp/core's entry is, as this module's package resolves it. */
const coreEntry = () => createRequire(import.meta.url).resolve('@hotmcp/core');

/** Serve `options.entry` until the client goes away; resolves with an exit code only when it cannot start. */
export async function serve(options: DevOptions): Promise<number> {
  // A JavaScript entry runs natively first (see runNativeFirst), unless the client is to call tools through the
  // dispatcher: that is for clients that ignore list_changed, so hotmcp_call must be in the first tools/list, and a
  // native first run adds it only once the engine takes over.
  const path = entryPath(options.entry, options.cwd ?? process.cwd());
  if (path !== undefined && runsNatively(path) && !options.dispatcher) return runNativeFirst(path, options);
  // The runner compiles every local module with esbuild: its service process starts now, while
  // this process is small (a cheaper fork) and goes on loading the rest meanwhile.
  startEsbuild();
  mark('esbuild started');
  // Only the process that runs the server loads hotmcp's core, the SDK adapters and the entry.
  const [{ guardStdout }, { runDev }] = await Promise.all([import('@hotmcp/core'), runDevModule()]);
  mark('core and dev runtime imported');
  guardStdout(); // stdout is the MCP channel: anything else written there goes to stderr
  let run: DevRun | undefined;
  exitWhenDone(() => run);
  try {
    run = await runDev(options);
    mark('serving (runDev resolved)');
    tellServing();
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
async function runNativeFirst(entry: string, options: DevOptions): Promise<number> {
  // The stdout guard alone, not the rest of @hotmcp/core.
  const guard = import(new URL('./stdio/guard-stdout.js', pathToFileURL(coreEntry())).href) as Promise<{
    guardStdout: () => Writable;
  }>;
  let run: DevRun | undefined;
  exitWhenDone(() => run);
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  let start: NativeStart | 'timeout';
  try {
    start = await startNative(
      entry,
      options.args ?? [],
      guard.then((module) => module.guardStdout),
      (line) => process.stderr.write(`hotmcp: ${line}\n`),
      timeout,
    );
  } catch (error) {
    return fail(await loadFailed(error, entry));
  } finally {
    clearTimeout(timer);
  }
  if (start === 'timeout') return fail((await runDevModule()).noServer(entry, timeoutMs));
  mark('serving (first run)');
  await start.answered;
  tellServing();
  try {
    const { takeOverNative } = await runDevModule();
    run = await takeOverNative(start, options);
    mark('taken over');
  } catch (error) {
    return fail(error);
  }
  return new Promise<number>(() => {});
}

/** Tell the supervisor, if there is one, that the server has started (it waits to load until then). */
function tellServing(): void {
  try {
    if (process.connected) process.send?.({ type: SERVING_MESSAGE });
  } catch {
    // the supervisor went away: nothing to tell
  }
}

/** The error of an entry whose first, native evaluation threw: a typed error at its file and line. */
async function loadFailed(error: unknown, entry: string): Promise<unknown> {
  const [{ HotMcpError }, { callSite }, { projectRootOf }] = await Promise.all([
    import('@hotmcp/core'),
    import('./call-site.js'),
    import('./project-root.js'),
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
    const fromCore = createRequire(coreEntry());
    (fromCore('esbuild') as { initialize(options: object): Promise<void> }).initialize({}).catch(() => {});
  } catch {
    // The first compilation starts it.
  }
}
