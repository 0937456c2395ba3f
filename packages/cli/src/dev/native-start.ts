/**
 * The first run of a JavaScript entry under `hotmcp dev`, with nothing of
 * hotmcp's engine loaded: Node imports the entry as `node` would, the SDK's
 * `McpServer` (the instance the entry imports) patched beforehand so the
 * server it connects is seen, advertises `listChanged`, and keeps a log of
 * its registrations. The server answers its client at once; `runDev` takes
 * it over afterwards (see {@link NativeStart}).
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { restarted } from '../supervisor/child-stdio.js';
import { mark } from '../timing.js';
import { listChangedWarning, withListChanged } from './capabilities.js';
import { catchLowLevelConnect, listChangedOnly } from './low-level.js';

type Handler = (...args: unknown[]) => unknown;
type AnyObject = Record<string, unknown>;

/** The McpServer methods that register, and return a handle. */
export const REGISTRATION_METHODS = [
  'registerTool',
  'tool',
  'registerPrompt',
  'prompt',
  'registerResource',
  'resource',
];
const INSTALLERS = ['setToolRequestHandlers', 'setPromptRequestHandlers', 'setResourceRequestHandlers'];
const SDK_MODULES = [
  ['@modelcontextprotocol/sdk/server/mcp.js', '@modelcontextprotocol/sdk/server/index.js', '@modelcontextprotocol/sdk'],
  ['@modelcontextprotocol/server', '@modelcontextprotocol/server', '@modelcontextprotocol/server'],
] as const;

/** One registration the first run made, replayed on a recording server when `runDev` takes over. */
export interface NativeCall {
  readonly method: string;
  readonly args: unknown[];
  /** The stack of the call, for the recording's call site. */
  readonly stack: { stack?: string };
  /** Calls made on the handle it returned before the take-over, replayed too. */
  readonly ops: Array<[string, unknown[]]>;
  /** The recording's handle, once taken over: where the handle given to the entry points from then on. */
  recorded?: object;
}

/** A server the first run constructed. */
interface Built {
  identity: { info: unknown; options: unknown };
  calls: NativeCall[];
  /** Its capabilities before hotmcp dev added listChanged and the lists of an McpServer. */
  before: AnyObject | undefined;
}

/** The entry, running natively and serving, ready to be taken over by `runDev`. */
export interface NativeStart {
  readonly entry: string;
  /** The script Node ran (hotmcp's bin), before the entry took its place in `process.argv`. */
  readonly bin: string;
  /** When the entry's import began: a file of its graph changed after this is evaluated afresh. */
  readonly since: number;
  /** The server the entry connected: the live one. */
  readonly live: AnyObject;
  /**
   * True when `live` is a low-level `Server` the entry built and connected
   * itself (no McpServer): it is served as it is, and edits apply by a restart.
   */
  readonly lowLevel: boolean;
  /** Its name, version and options as the entry gave them. */
  readonly identity: { info: unknown; options: unknown };
  /** Its registrations so far, in order. */
  readonly calls: NativeCall[];
  /** Settles once the entry's top-level code finished (rejects with what it threw). */
  readonly evaluation: Promise<void>;
  /** The guarded stdout's writable (what the transport writes to). */
  readonly stdout: Writable;
  /**
   * Hand the live server over: from now on its registrations go to `route`
   * (the recording `runDev` made of the calls), the handles given so far to
   * their recorded counterparts; servers the first run built and never
   * connected become plain servers. `passThrough()` tells when the engine
   * itself registers on the live server.
   */
  takeOver(route: (method: string, args: unknown[]) => unknown, passThrough: () => boolean): void;
  /** Errors nothing caught since the entry started (said on stderr). */
  readonly uncaught: unknown[];
  /**
   * Settles once the server has answered its client's first requests (its
   * second answer, or 300 ms after its first, or 1 s after it connected):
   * what the take-over loads then does not hold up the client's start.
   */
  readonly answered: Promise<void>;
}

/** True when `entry` can run natively: an ES module in JavaScript (`.mjs`, or `.js` in a `"type": "module"` package). */
export function runsNatively(entry: string): boolean {
  if (entry.endsWith('.mjs')) return true;
  if (!entry.endsWith('.js')) return false;
  for (let dir = dirname(entry); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        return (JSON.parse(readFileSync(manifest, 'utf8')) as { type?: unknown }).type === 'module';
      } catch {
        return false;
      }
    }
    if (dirname(dir) === dir) return false;
  }
}

/** `import()` as seen from `file`: the same instances the entry gets. */
function importerFor(file: string): (specifier: string) => Promise<AnyObject> {
  const module = new Module(file);
  module.filename = file;
  module.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(file));
  (module as unknown as { _compile(code: string, file: string): void })._compile(
    'module.exports = (specifier) => import(specifier);',
    file,
  );
  return module.exports as (specifier: string) => Promise<AnyObject>;
}

/** The SDKs the entry's project has: its package.json names them, else whichever resolve from it. */
function sdksOf(entry: string): Array<(typeof SDK_MODULES)[number]> {
  const require = createRequire(entry);
  const resolves = (specifier: string) => {
    try {
      require.resolve(specifier);
      return true;
    } catch {
      return false;
    }
  };
  // The SDK 1.x package has no main export for require (before 1.1 it exported no ./package.json either), and
  // @modelcontextprotocol/server exports no ./package.json: its low-level Server's module tells.
  const found = SDK_MODULES.filter(([, server, name]) => resolves(`${name}/package.json`) || resolves(server));
  if (found.length < 2) return found;
  for (let dir = dirname(entry); dirname(dir) !== dir; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    try {
      const json = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, Record<string, unknown> | undefined>;
      const named = found.filter(([, , name]) =>
        ['dependencies', 'devDependencies', 'peerDependencies'].some((field) => json[field]?.[name] !== undefined),
      );
      if (named.length > 0) return named;
    } catch {
      // unreadable: keep looking up
    }
  }
  return found;
}

/** The SDKs' `McpServer` and low-level `Server` classes, the instances the entry's project imports. */
export async function sdkClassesOf(entry: string): Promise<Array<{ McpServer: unknown; Server: unknown }>> {
  const importFrom = importerFor(entry);
  return Promise.all(
    sdksOf(entry).map(async ([mcp, server]) => {
      // SDK 1.x before 1.3 has no McpServer (an entry on its low-level Server may still be served).
      const [mcpModule, serverModule] = await Promise.all([
        importFrom(mcp).catch((): AnyObject => ({})),
        importFrom(server),
      ]);
      return { McpServer: mcpModule.McpServer, Server: serverModule.Server };
    }),
  );
}

/**
 * Run `entry` (absolute, real path) natively. Resolves once it connected a
 * server (serving from then on), rejects when its import throws first;
 * `timeout` settles the wait otherwise.
 */
export async function startNative(
  entry: string,
  args: readonly string[],
  /** The stdout guard (its module may still be loading). */
  guard: Promise<() => Writable>,
  warn: (line: string) => void,
  timeout: Promise<'timeout'>,
): Promise<NativeStart | 'timeout'> {
  const since = Date.now();
  const [guardStdout, sdks] = await Promise.all([guard, sdkClassesOf(entry)]);
  mark('SDK imported');

  let phase: 'first run' | 'taken over' = 'first run';
  let route: ((method: string, args: unknown[]) => unknown) | undefined;
  let passThrough = () => false;
  const built = new WeakMap<object, Built>();
  let live: AnyObject | undefined;
  let warned = restarted(); // said by the first process
  const stdout = guardStdout();
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => {
    uncaught.push(error);
    process.stderr.write(`hotmcp: uncaught: ${error instanceof Error ? error.message : String(error)}\n`);
  };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);

  let answeredNow!: () => void;
  const answered = new Promise<void>((resolve) => {
    answeredNow = resolve;
  });
  let connected!: (server: AnyObject) => void;
  const connectedOnce = new Promise<AnyObject>((resolve) => {
    connected = resolve;
  });

  let lowLevel = false;
  catchLowLevelConnect(
    sdks.map(({ Server }) => Server),
    () => live === undefined && phase === 'first run',
    (server, transport) => {
      live = server;
      lowLevel = true;
      mark('entry called connect() of a low-level Server');
      listChangedOnly(server, built.get(server)?.before);
      useRealStdout(transport, stdout);
      watchAnswers(transport as AnyObject, answeredNow);
      connected(server);
    },
  );
  for (const { McpServer, Server } of sdks) {
    if (typeof McpServer !== 'function' || typeof Server !== 'function') continue;
    const serverProto = (Server as { prototype: AnyObject }).prototype;
    // The first handler a low-level Server sets once it has its info and capabilities is in its
    // constructor, before it checks them for `logging`: there, every list gets listChanged.
    const setRequestHandler = serverProto.setRequestHandler as Handler;
    Object.defineProperty(serverProto, 'setRequestHandler', {
      configurable: true,
      writable: true,
      value(this: AnyObject, ...args: unknown[]) {
        // (Protocol's constructor sets its own handlers first, before the Server's fields are there.)
        if (phase === 'first run' && !built.has(this) && Object.hasOwn(this, '_serverInfo')) {
          const info = this._serverInfo;
          const options = this._options;
          built.set(this, { identity: { info, options }, calls: [], before: this._capabilities as AnyObject });
          this._capabilities = withListChanged(this._capabilities, (missing) => {
            if (warned) return;
            warned = true;
            warn(listChangedWarning(missing, 'an edit'));
          });
        }
        return setRequestHandler.apply(this, args);
      },
    });

    const proto = (McpServer as { prototype: AnyObject }).prototype;
    for (const method of REGISTRATION_METHODS) {
      const original = proto[method];
      if (typeof original !== 'function') continue;
      Object.defineProperty(proto, method, {
        configurable: true,
        writable: true,
        value(this: AnyObject, ...args: unknown[]) {
          const server = built.get(this.server as object);
          if (!server || passThrough()) return original.apply(this, args);
          if (phase === 'taken over') return this === live && route ? route(method, args) : original.apply(this, args);
          const stack: { stack?: string } = {};
          const limit = Error.stackTraceLimit;
          Error.stackTraceLimit = 64;
          Error.captureStackTrace(stack);
          Error.stackTraceLimit = limit;
          const handle = original.apply(this, args);
          const call: NativeCall = { method, args, stack, ops: [] };
          server.calls.push(call);
          return typeof handle === 'object' && handle !== null ? handleFor(handle, call) : handle;
        },
      });
    }
    const connect = proto.connect as Handler;
    Object.defineProperty(proto, 'connect', {
      configurable: true,
      writable: true,
      value(this: AnyObject, transport: AnyObject) {
        if (live !== undefined || phase !== 'first run' || !built.has(this.server as object)) {
          return connect.call(this, transport);
        }
        live = this;
        mark('entry called connect()');
        // Handlers of every list now, while they may be installed: an edit may add a prompt to a server with none.
        for (const install of INSTALLERS) {
          if (typeof this[install] !== 'function') continue;
          try {
            (this[install] as Handler).call(this);
          } catch {
            // a handler the entry installed itself: leave it
          }
        }
        useRealStdout(transport, stdout);
        watchAnswers(transport, answeredNow);
        connected(this);
        return connect.call(this, transport);
      },
    });
  }

  const bin = process.argv[1] as string;
  process.argv = [process.argv[0] as string, entry, ...args];
  mark('evaluating the entry');
  const evaluation = import(pathToFileURL(entry).href).then(() => undefined);
  const first = await Promise.race([connectedOnce, timeout, evaluation.then(() => new Promise<never>(() => {}))]);
  if (first === 'timeout') return 'timeout';
  const server = first;
  const own = built.get((lowLevel ? server : server.server) as object) ?? {
    identity: { info: undefined, options: undefined },
    calls: [],
  };
  evaluation.catch(() => {}); // told by runDev
  return {
    entry,
    bin,
    since,
    live: server,
    lowLevel,
    identity: own.identity,
    calls: own.calls,
    evaluation,
    stdout,
    uncaught,
    answered,
    takeOver(routeTo, through) {
      route = routeTo;
      passThrough = through;
      phase = 'taken over';
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUncaught);
    },
  };
}

/** Call `done` once `transport` sent its second answer, 300 ms after its first, or 1 s from now. */
function watchAnswers(transport: AnyObject | undefined, done: () => void): void {
  const timers = [setTimeout(done, 1000)];
  const send = transport?.send;
  if (!transport || typeof send !== 'function') return;
  let answers = 0;
  transport.send = function (this: unknown, message: AnyObject, ...rest: unknown[]) {
    const sent = (send as Handler).call(this, message, ...rest);
    if (message && 'id' in message && ('result' in message || 'error' in message)) {
      answers++;
      if (answers === 1) timers.push(setTimeout(done, 300));
      if (answers >= 2) {
        transport.send = send;
        for (const timer of timers) clearTimeout(timer);
        // after this answer's write has been handed to the stream
        setImmediate(done);
      }
    }
    return sent;
  };
  for (const timer of timers) timer.unref();
}

/** The handle given to the entry: the SDK's until the take-over (its calls kept), the recording's after. */
function handleFor(handle: object, call: NativeCall): object {
  return new Proxy(handle, {
    get(target, property) {
      const current = (call.recorded ?? target) as AnyObject;
      const value = Reflect.get(current, property);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (!call.recorded && typeof property === 'string') call.ops.push([property, args]);
        return (value as Handler).apply(current, args);
      };
    },
  });
}

/** The real path of `entry` (relative to `cwd`), or undefined when it is no file. */
export function entryPath(entry: string, cwd: string): string | undefined {
  const path = resolve(cwd, entry);
  if (!existsSync(path) || !statSync(path).isFile()) return undefined;
  return realpathSync(path);
}

/**
 * stdout is guarded (what is written there goes to stderr): the stdio transport a server is connected to writes to
 * `stdout`, the real one, instead. The transport is the SDK's `StdioServerTransport`, or, under SDK 2.x's
 * `serveStdio()`, a channel whose `_wire` is one (created before the entry's server, already on process.stdout).
 */
export function useRealStdout(transport: unknown, stdout: unknown): void {
  if (typeof transport !== 'object' || transport === null) return;
  const holder = transport as { _stdout?: unknown; _wire?: { _stdout?: unknown } };
  const stdio = '_stdout' in holder ? holder : holder._wire;
  if (stdio && stdio._stdout === process.stdout) stdio._stdout = stdout;
}
