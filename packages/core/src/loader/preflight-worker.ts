/**
 * Entry of an import-preflight worker thread: imports ahead the packages the
 * tool modules use, says it is ready, then evaluates each batch it is sent
 * with the runner the main thread uses (fed the texts and compilations the
 * main thread read), reporting each module as it starts and finishes, and
 * what the batch left open. Like the main thread's, the worker's runner keeps
 * the modules of earlier batches: a batch evaluates fresh versions of its own
 * files only, and shares the unchanged modules they import.
 */
import 'reflect-metadata';
import { findSourceMap, Module } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { exposeGc } from '../memory.js';
import { VERSION_PARAM } from './esm-hooks.js';
import type { PreflightJob, PreflightMessage, PreflightSource, ThrowSite } from './preflight.js';
import { RunnerModuleLoader } from './runner-module-loader.js';
import type { TransformedModule } from './runner-transform.js';

const port = parentPort as NonNullable<typeof parentPort>;
const post = (message: PreflightMessage) => port.postMessage(message);

class PreflightRunnerLoader extends RunnerModuleLoader {
  /** The texts and compilations of the current batch, by file. */
  readonly sources = new Map<string, PreflightSource>();

  constructor(root: string) {
    super({ root, include: [], exclude: [], deny: [], denyFiles: [], preflight: false, compileCache: false });
  }

  protected override readSource(file: string): Promise<string> {
    const given = this.sources.get(file);
    return given ? Promise.resolve(given.source) : super.readSource(file);
  }

  protected override transform(file: string, source: string): Promise<TransformedModule> {
    const given = this.sources.get(file);
    if (given?.source === source) return Promise.resolve({ code: given.code, imports: given.imports });
    return super.transform(file, source);
  }

  /** Per module being evaluated: what was active when it started, and how much was claimed by then. */
  readonly starts = new Map<string, { active: string[]; claimed: number }>();
  /** Timers each module of the batch started at import (those of its imports not counted). */
  readonly timers = new Map<string, number>();
  private claimed = 0;

  /** The modules evaluating now, innermost last: a throw is the innermost one's. */
  readonly evaluating: string[] = [];

  protected override traceEvaluation(file: string, done: boolean): void {
    if (!done) {
      this.evaluating.push(file);
      this.starts.set(file, { active: process.getActiveResourcesInfo(), claimed: this.claimed });
    } else {
      const at = this.evaluating.lastIndexOf(file);
      if (at !== -1) this.evaluating.splice(at, 1);
      const start = this.starts.get(file);
      if (start) {
        const opened = leftOpen(start.active, process.getActiveResourcesInfo()).filter((type) => type === 'Timeout');
        const own = opened.length - (this.claimed - start.claimed);
        if (own > 0) {
          this.timers.set(file, own);
          this.claimed += own;
        }
      }
    }
    post({ type: 'trace', file, done });
  }
}

/** The URL of a compiled version (`file:///…/tool.ts%3Fhotmcp=3`): the file's URL, then the version. */
const VERSIONED_URL = new RegExp(`^(.*)%3F${VERSION_PARAM}=\\d+$`);

/**
 * Where module code in the root threw a value that is no Error (a string, a
 * number, a plain object): such a value carries no stack, so the line is
 * taken from this thread's own inspector, which pauses on every exception
 * while a batch evaluates (the main thread is never paused). Keyed by the
 * module that was evaluating; the main thread adds the line to its failure.
 */
class ThrowSites {
  readonly sites = new Map<string, ThrowSite>();
  private session: import('node:inspector').Session | undefined;
  /** Script id → file URL, for scripts compiled from files in the root (of each file's latest version). */
  private readonly scripts = new Map<string, string>();
  /** File URL without its version → script id of the latest version compiled. */
  private readonly latest = new Map<string, string>();

  /** Connect this thread's inspector, if there is one (not in a Node built without it, nor under the permission model). */
  async start(root: string, evaluating: readonly string[]): Promise<void> {
    if (this.session) return;
    try {
      const { Session } = await import('node:inspector');
      const session = new Session();
      session.connect();
      const prefix = pathToFileURL(root).href;
      session.on('Debugger.scriptParsed', ({ params }) => {
        if (!params.url.startsWith(prefix)) return;
        const versioned = VERSIONED_URL.exec(params.url);
        if (versioned) {
          // A replaced version's code no longer runs: its id goes with it.
          const replaced = this.latest.get(versioned[1] as string);
          if (replaced !== undefined) this.scripts.delete(replaced);
          this.latest.set(versioned[1] as string, params.scriptId);
        }
        this.scripts.set(params.scriptId, params.url);
      });
      session.on('Debugger.paused', ({ params }) => {
        try {
          const module = evaluating.at(-1);
          if (module !== undefined && (params.data as { subtype?: string } | undefined)?.subtype !== 'error') {
            const site = this.siteOf(params.callFrames[0]?.location);
            if (site) this.sites.set(module, site);
          }
        } finally {
          session.post('Debugger.resume');
        }
      });
      // maxScriptsCacheSize 0: the inspector keeps no copy of a script once it is garbage (without a limit
      // it keeps the text of every collected script, a few hundred KB of native memory per reloaded
      // version, for the life of the thread).
      session.post('Debugger.enable', { maxScriptsCacheSize: 0 });
      this.session = session;
    } catch {
      // no inspector here: non-Error throws are reported without a line
    }
  }

  /** Pause on exceptions while a batch evaluates, and only then. */
  watch(on: boolean): void {
    if (on) this.sites.clear();
    this.session?.post('Debugger.setPauseOnExceptions', { state: on ? 'all' : 'none' });
  }

  /** The original file and line of a paused location in a compiled module (through its source map). */
  private siteOf(location: { scriptId: string; lineNumber: number; columnNumber?: number } | undefined) {
    const url = location && this.scripts.get(location.scriptId);
    if (!url) return undefined;
    const entry = findSourceMap(fileURLToPath(url))?.findEntry(location.lineNumber, location.columnNumber ?? 0);
    if (!entry || !('originalSource' in entry)) return undefined;
    const file = fileURLToPath(entry.originalSource);
    return { file, line: entry.originalLine + 1 };
  }
}

/** Import `specifier` as the module at `file` would (the runner's way of importing packages). */
async function importFrom(file: string, specifier: string, json: boolean): Promise<void> {
  const module = new Module(file);
  module.filename = file;
  (module as unknown as { _compile(code: string, filename: string): void })._compile(
    'module.exports = (specifier, options) => import(specifier, options);',
    file,
  );
  await (module.exports as (specifier: string, options?: unknown) => Promise<unknown>)(
    specifier,
    json ? { with: { type: 'json' } } : undefined,
  );
}

/** An operation in flight (a file being closed, a lookup), which ends by itself, as opposed to a handle left open. */
const isRequest = (type: string) => /Req(?:Callback|Promise|Wrap)?$/.test(type);

/**
 * What the batch left open, once the requests it started are done: a file
 * still being closed (CloseReq) must not cost the warm worker, while a lookup
 * that turns into a socket must count (waits at most ~100 ms: on a loaded machine a file read queued behind
 * others in libuv's pool can take tens of ms).
 */
async function leftOpenAfter(idle: string[]): Promise<string[]> {
  for (let turn = 0; turn < 100; turn++) {
    const open = leftOpen(idle, process.getActiveResourcesInfo());
    if (!open.some(isRequest)) return open;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return leftOpen(idle, process.getActiveResourcesInfo());
}

/** What is active now and was not when the thread was idle: what the batch's modules opened (ports, timers, files). */
function leftOpen(before: string[], after: string[]): string[] {
  const rest = [...before];
  return after.filter((resource) => {
    const at = rest.indexOf(resource);
    if (at === -1) return true;
    rest.splice(at, 1);
    return false;
  });
}

// What modules write on stdout here must not reach the MCP channel: the worker's stdout goes to stderr.
process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;

// What would end the whole process from here (a signal to it; abort, which workers refuse with an error
// the main thread would not raise) ends this thread instead, after saying which call it was: the
// module that made it is refused, never run on the main thread.
const endsProcess = (call: string): never => {
  post({ type: 'ends', call });
  process.exit(1);
};
const kill = process.kill.bind(process);
process.kill = (pid: number, signal?: string | number) => {
  if (Number(pid) === process.pid || Number(pid) === 0 || Number(pid) === -process.pid) {
    return endsProcess(`process.kill(${pid}${signal === undefined ? '' : `, ${String(signal)}`})`);
  }
  return kill(pid, signal);
};
process.abort = () => endsProcess('process.abort()');

const { warm } = workerData as { warm: Array<[string, string, boolean]> };
/** `file\0specifier\0json` of every package imported here (they stay loaded in this thread). */
const imported = new Set<string>();
await Promise.all(
  warm.map(([file, specifier, json]) =>
    importFrom(file, specifier, json).then(
      () => imported.add(`${file}\0${specifier}\0${json}`),
      () => {},
    ),
  ),
);

// A top-level await that never settles leaves nothing in the event loop, which would end the
// thread as if the batch were done: keep it alive (the main thread terminates it).
setInterval(() => {}, 60_000);

// V8 lets a heap grow to about four times what it keeps alive before collecting it; here, where each
// batch compiles and evaluates new versions, that is tens of MB of garbage resident between two saves.
const gc = exposeGc();
/** Garbage this thread may hold before it collects it, after a batch (done, so off the main thread's path). */
const GARBAGE_LIMIT = 8 * 1024 * 1024;
/** The heap in use after the last collection. */
let collected = 0;
function collectIfGrown(): void {
  if (gc === undefined || getHeapStatistics().used_heap_size - collected < GARBAGE_LIMIT) return;
  gc();
  collected = getHeapStatistics().used_heap_size;
}

let loader: PreflightRunnerLoader | undefined;
const throwSites = new ThrowSites();
port.on('message', async (job: PreflightJob) => {
  const idle = process.getActiveResourcesInfo();
  loader ??= new PreflightRunnerLoader(job.root);
  await throwSites.start(job.root, loader.evaluating);
  loader.sources.clear();
  loader.starts.clear();
  loader.timers.clear();
  for (const source of job.sources) loader.sources.set(source.file, source);
  // Ahead, untimed by the main thread's limit (it waits for this message): what fails here fails again in the batch.
  // What an earlier batch (or the warm-up) imported from the same file is loaded already: not imported again.
  await Promise.all(
    job.externals.map(async ([file, specifier, json], index) => {
      const key = `${file}\0${specifier}\0${json}`;
      if (imported.has(key)) return;
      await importFrom(file, specifier, json).then(
        () => imported.add(key),
        () => {},
      );
      post({ type: 'imported', index });
    }),
  );
  post({ type: 'warmed' });
  throwSites.watch(true);
  try {
    await loader.load(job.files);
  } finally {
    throwSites.watch(false);
    if (job.warmUp) loader.forget(job.files);
  }
  const open = await leftOpenAfter(idle);
  // Timers still running once the batch is done, handed to the modules that started them.
  let running = open.filter((type) => type === 'Timeout').length;
  const timersLeft: Array<[string, number]> = [];
  for (const [file, count] of loader.timers) {
    const left = Math.min(count, running);
    running -= left;
    if (left > 0) timersLeft.push([file, left]);
  }
  post({ type: 'done', leftOpen: open, timersLeft, thrownAt: [...throwSites.sites] });
  collectIfGrown();
});
post({ type: 'ready' });
collected = getHeapStatistics().used_heap_size;
