import { existsSync, realpathSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import {
  clientMessage,
  clientPath,
  createReloader,
  guardStdout,
  HotMcpError,
  isHotMcpError,
  type ReloadEngine,
  type Reloader,
  resolveSettings,
  selectChangeSource,
  type ToolRegistryAdapter,
  WinstonAuditSink,
} from '@hotmcp/core';
import { createPathFilter } from '@hotmcp/core/watching';
import { restarted } from '../supervisor/child-stdio.js';
import { mark } from '../timing.js';
import { listChangedWarning } from './capabilities.js';
import { DevModuleLoader } from './dev-module-loader.js';
import { DevRegistryAdapter } from './dev-registry-adapter.js';
import { DevSession } from './dev-session.js';
import { GraphChangeSource } from './graph-change-source.js';
import { catchLowLevelConnect, listChangedOnly, restartOnEdit } from './low-level.js';
import { type NativeStart, sdkClassesOf, useRealStdout } from './native-start.js';
import { projectRootOf } from './project-root.js';
import { type Problem, Reporter } from './reporter.js';
import { EXCLUDE, INCLUDE, WATCHER_MODULES, watcherOf } from './watched-files.js';

export { projectRootOf };

type AnyServer = Record<string, unknown>;

/** Options of {@link runDev}. */
export interface DevOptions {
  /** The server's entry module (`.ts` or `.js`), relative to `cwd` or absolute. */
  entry: string;
  /** What the entry sees as its arguments (`process.argv.slice(2)`). */
  args?: string[];
  /** Register the `hotmcp_call` dispatcher tool, for clients that ignore list_changed. */
  dispatcher?: boolean;
  /** Audit log file, or `false` for none. Default: `HOTMCP_AUDIT_LOG`, else hotmcp's default file. */
  audit?: string | false;
  /** `'auto'` (default), `'native'` or `'poll'`. */
  watcher?: 'auto' | 'native' | 'poll';
  /** How long the entry may take to connect its server, in ms. Default 10 000. */
  connectTimeoutMs?: number;
  /** Base of a relative `entry`. Default `process.cwd()`. */
  cwd?: string;
}

/** A running `hotmcp dev`. */
export interface DevRun {
  /** The folder watched: the project of the entry. */
  readonly root: string;
  /**
   * The reloader applying edits to the live server; undefined when the entry
   * serves a low-level `Server` (no McpServer): each edit of its import
   * graph then asks the supervisor for a restart (says on stderr that one is
   * needed, with no supervisor).
   */
  readonly reloader: Reloader | undefined;
  /** Stop watching (the server keeps serving what it has). */
  stop(): Promise<void>;
}

const ENGINE = 'hotmcp.engine';
/** How long after the live server connected the watcher starts (edits meanwhile are found when it does). */
const WATCH_AFTER_MS = 200;

function resolveEntry(entry: string, cwd: string): string {
  const path = resolve(cwd, entry);
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new HotMcpError('HOTMCP_ERR_ENTRY_NOT_FOUND', `hotmcp dev: entry ${path} does not exist or is not a file`, {
      file: path,
    });
  }
  return realpathSync(path);
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

/** The registry adapter for the live server's SDK (1.x has the deprecated `tool()`; 2.x does not). */
async function adapterFor(server: AnyServer): Promise<ToolRegistryAdapter> {
  if (typeof server.tool === 'function') {
    const { createSdkV1Adapter } = await import('@hotmcp/adapter-sdk-v1');
    return createSdkV1Adapter(server as never);
  }
  const { createSdkV2Adapter } = await import('@hotmcp/adapter-sdk-v2');
  return createSdkV2Adapter(server as never);
}

/**
 * Run an unchanged stdio MCP server entry hot-reloaded in-process: the first
 * server it connects stays live; each edit re-evaluates the edited modules and
 * their importers up to the entry and applies what the entry now registers to
 * the live server in one commit. Resolves once the server is connected and
 * serving; rejects (with a `HotMcpError`) when the entry is missing, fails, or
 * connects no server in time.
 */
export async function runDev(options: DevOptions): Promise<DevRun> {
  return run(options, undefined);
}

/**
 * Take over an entry a native first run ({@link startNative}) connected: its
 * local import graph is adopted as Node evaluated it, and what it registered
 * goes under the engine, which applies every later edit. Resolves once the
 * engine holds the live server's entries.
 */
export async function takeOverNative(start: NativeStart, options: DevOptions): Promise<DevRun> {
  return run(options, start);
}

async function run(options: DevOptions, native: NativeStart | undefined): Promise<DevRun> {
  const entry = native?.entry ?? resolveEntry(options.entry, options.cwd ?? process.cwd());
  const root = projectRootOf(entry);
  const reporter = new Reporter(root);
  let engine: ReloadEngine | undefined;
  let loader: DevModuleLoader | undefined;
  let refreshQueued = false;
  const session = new DevSession(
    root,
    (line) => reporter.say(line),
    () => {
      if (refreshQueued || !engine || !loader) return;
      refreshQueued = true;
      queueMicrotask(() => {
        refreshQueued = false;
        loader?.requestSnapshot();
        engine?.enqueue({ added: [], changed: [entry], removed: [] });
      });
    },
  );
  loader = new DevModuleLoader(root, entry, session);
  if (native?.lowLevel) {
    // Served as Node runs it: nothing to take over, the handlers of its first run stay.
    await loader.adoptFirstRun(native.since);
    return servedAsIs(root, entry, loader, native.since, options, reporter);
  }
  const audit = reporter.wrap(
    options.audit === false
      ? { record() {}, close: async () => {} }
      : new WinstonAuditSink({
          ...((options.audit ?? process.env.HOTMCP_AUDIT_LOG)
            ? { path: options.audit || process.env.HOTMCP_AUDIT_LOG }
            : {}),
        }),
  );

  const started = deferred<Reloader>();
  const serving = deferred<void>();
  const bin = native?.bin ?? (process.argv[1] as string);
  const takeOver = async (server: AnyServer) => {
    try {
      const adapter = new DevRegistryAdapter(await adapterFor(server), session, () => {
        void loader?.disposeReplaced().then((errors) => {
          for (const error of errors) reporter.problem(disposeProblem(error, root));
        });
      });
      if (native) {
        // The live server holds what the first run registered, as the SDK took it: the engine's first
        // commit is checked on an empty server of the same SDK and replaces those entries in one step.
        const scratch = new (server.constructor as new (info: unknown, options: unknown) => AnyServer)(
          { name: 'hotmcp-dev', version: '0' },
          {
            capabilities: {
              tools: { listChanged: true },
              prompts: { listChanged: true },
              resources: { listChanged: true },
            },
          },
        );
        adapter.adopting = { scratch: await adapterFor(scratch), drop: () => dropEntries(server) };
      }
      reporter.adapter = adapter;
      mark('adapter imported');
      // The engine never loads the running script (argv[1]): here that would be the entry.
      const argv1 = process.argv[1];
      process.argv[1] = bin;
      let reloader: Reloader;
      try {
        const settings = resolveSettings({ root, include: INCLUDE, exclude: EXCLUDE });
        const changeSource = new GraphChangeSource(
          () =>
            selectChangeSource({
              watcher: watcherOf(options.watcher),
              settings,
              audit,
              modules: WATCHER_MODULES,
            }),
          () => loader?.files() ?? [],
          () => loader?.editedSinceRead() ?? [],
          createPathFilter(settings),
          // Watching starts once the server has answered its first requests: loading the watcher
          // (a native addon in a worker, a scan of the project) then costs the client nothing.
          serving.promise.then(() => new Promise((resolve) => setTimeout(resolve, WATCH_AFTER_MS))),
          (files) => engine?.enqueue({ added: [], changed: files, removed: [] }),
        );
        reloader = await createReloader({
          server,
          root,
          include: INCLUDE,
          exclude: EXCLUDE,
          changeSource,
          loader: loader as DevModuleLoader,
          adapter,
          audit,
          // Failures are told by the reporter (one line each, paths from the project root), not by core too.
          quiet: true,
          ...(options.dispatcher && { dispatcher: true }),
        });
      } finally {
        process.argv[1] = argv1 as string;
      }
      mark('reloader created');
      engine = reloader.container.resolve<ReloadEngine>(ENGINE);
      const start = reloader.start();
      await Promise.race([adapter.firstCommit, start]);
      adapter.adopting = undefined;
      serving.resolve();
      mark('first commit');
      started.resolve(reloader);
    } catch (error) {
      started.reject(error);
      throw error;
    }
  };

  if (native) {
    reporter.installProcessHandlers();
    await loader.adoptFirstRun(native.since);
    mark('import graph adopted');
    session.adoptNative(native);
    void takeOver(native.live as AnyServer).catch(() => {});
    const reloader = await started.promise;
    void native.evaluation.then(
      () => {
        loader?.requestSnapshot();
        engine?.enqueue({ added: [], changed: [entry], removed: [] });
      },
      () => {},
    );
    return { root, reloader, stop: () => reloader.stop() };
  }

  session.onLiveConnect(async (server) => {
    mark('entry called connect()');
    await takeOver(server);
  });
  // An entry that builds and connects a low-level Server itself is served as it is.
  const lowLevel = deferred<'low-level'>();
  /** Set once a server is live, or the start failed: no later connect is taken for this run's. */
  let claimed = false;
  catchLowLevelConnect(
    (await sdkClassesOf(entry)).map(({ Server }) => Server),
    () => session.live === undefined && !claimed,
    (server, transport) => {
      claimed = true;
      mark('entry called connect() of a low-level Server');
      const missing = listChangedOnly(server);
      if (missing.length > 0 && !restarted()) {
        reporter.say(listChangedWarning(missing, 'a restart'));
      }
      useRealStdout(transport, guardStdout());
      lowLevel.resolve('low-level');
    },
  );
  const since = Date.now();

  process.argv = [process.argv[0] as string, entry, ...(options.args ?? [])];
  reporter.installProcessHandlers();
  mark('evaluating the entry');
  session.beginEvaluation();
  const evaluation = loader.evaluateEntry();
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((yes) => {
    timer = setTimeout(() => yes('timeout'), timeoutMs);
  });
  const failed = evaluation.then((result) => (result?.ok === false ? result.error : undefined));
  const first = await Promise.race([
    started.promise,
    lowLevel.promise,
    timeout,
    failed.then((error) => (error ? error : new Promise<never>(() => {}))),
  ]).finally(() => {
    clearTimeout(timer);
    claimed = true;
  });
  if (first === 'timeout') throw noServer(entry, timeoutMs);
  if (first === 'low-level') {
    void evaluation.then(() => session.endFirstEvaluation());
    return servedAsIs(root, entry, loader, since, options, reporter);
  }
  if (isHotMcpError(first) || first instanceof Error) throw first;
  const reloader = first as Reloader;
  // Registrations made after connect() (or once the entry's top level finished) reach the live server too.
  void evaluation.then(() => {
    session.endFirstEvaluation();
    loader?.requestSnapshot();
    engine?.enqueue({ added: [], changed: [entry], removed: [] });
  });
  return {
    root,
    reloader,
    stop: () => reloader.stop(),
  };
}

/**
 * An entry serving a low-level `Server`: it serves as it is, and each edit
 * of its import graph (as `loader` read it) from `since` on asks for a restart.
 */
function servedAsIs(
  root: string,
  entry: string,
  loader: DevModuleLoader,
  since: number,
  options: DevOptions,
  reporter: Reporter,
): DevRun {
  if (!restarted()) {
    reporter.say(
      `${clientPath(root, entry)} serves a low-level Server (no McpServer): its edits cannot be applied in place, so each one restarts it (the client keeps its session)`,
    );
    if (options.dispatcher) reporter.say('--dispatcher is not available for it: the tools are its own handlers');
  }
  let stop: (() => Promise<void>) | undefined;
  // Watching starts just after the connect (loading the watcher then holds up no first request); an edit meanwhile is
  // found by its time.
  const timer = setTimeout(() => {
    stop = restartOnEdit(
      root,
      () => loader.files(),
      (file) => loader.digestRead(file),
      since,
      options.watcher,
      (line) => reporter.say(line),
    );
  }, WATCH_AFTER_MS);
  return {
    root,
    reloader: undefined,
    stop: async () => {
      clearTimeout(timer);
      await stop?.();
    },
  };
}

/** The error of an entry that connected no server in time. */
export function noServer(entry: string, timeoutMs: number): HotMcpError {
  return new HotMcpError(
    'HOTMCP_ERR_NO_SERVER',
    `hotmcp dev: ${relative(process.cwd(), entry) || entry} connected no server within ${timeoutMs} ms; the entry must build an McpServer (or a low-level Server) of @modelcontextprotocol/sdk 1.x or @modelcontextprotocol/server 2.x and call server.connect(transport)`,
    { file: entry },
  );
}

const REGISTRIES = ['_registeredTools', '_registeredPrompts', '_registeredResources', '_registeredResourceTemplates'];

/** Take every entry off the server's registries (sending nothing); returns what puts them back. */
function dropEntries(server: AnyServer): () => void {
  const saved = REGISTRIES.map((name) => {
    const registry = server[name] as Record<string, unknown> | undefined;
    const entries = { ...registry };
    for (const key of Object.keys(entries)) delete registry?.[key];
    return [registry, entries] as const;
  });
  return () => {
    for (const [registry, entries] of saved) if (registry) Object.assign(registry, entries);
  };
}

function disposeProblem(error: unknown, root: string): Problem {
  const message = error instanceof Error ? error.message : String(error);
  return {
    event: 'module.dispose_failed',
    code: 'HOTMCP_ERR_DISPOSE_FAILED',
    message: clientMessage(root, `import.meta.hot.dispose callback threw: ${message}`),
    restart: false,
  };
}
