import 'reflect-metadata';
import { realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DependencyContainer } from 'tsyringe';
import { assertAdapter } from './adapter-contract.js';
import { WinstonAuditSink, type WinstonAuditSinkOptions } from './audit/winston-audit-sink.js';
import { createContainer, registerClass, registerValue, resolveToken } from './container.js';
import { type ControlInfo, clientFailure } from './control/client-view.js';
import { createControlTools } from './control/control-tools.js';
import { createDispatcherTool, inputJsonSchema, type ZodLike } from './control/dispatcher.js';
import type { ToolDefinition } from './define.js';
import { ReloadEngine } from './engine/reload-engine.js';
import type { ReloaderStatus, RescanReport } from './engine/status.js';
import { HotMcpError } from './errors.js';
import { type NativeEsmLoaderSettings, NativeEsmModuleLoader } from './loader/native-esm-module-loader.js';
import { checkPreflightOption, type PreflightOption, preflightTimeout } from './loader/preflight.js';
import { type RunnerLoaderSettings, RunnerModuleLoader } from './loader/runner-module-loader.js';
import type { AuditSink } from './ports/audit-sink.js';
import type { ChangeSource } from './ports/change-source.js';
import type { ModuleLoader } from './ports/module-loader.js';
import type { ToolRegistryAdapter } from './ports/tool-registry-adapter.js';
import { type ReloaderSettings, TOKENS, type Token } from './tokens.js';
import {
  type CoalesceTimings,
  createCoalescingChangeSource,
  resolveCoalesceTimings,
} from './watching/coalescing-change-source.js';
import { selectChangeSource, WATCHER_KINDS, type WatcherKind } from './watching/select-change-source.js';

/** Options of {@link createReloader}. */
export interface CreateReloaderOptions {
  /**
   * The live MCP server: an `McpServer` of `@modelcontextprotocol/sdk` 1.x or of
   * `@modelcontextprotocol/server` 2.x. The matching adapter package is picked for you.
   */
  server?: unknown;
  /** The folder of tool modules to watch. */
  root: string;
  /** Globs relative to root that select modules. Default: `**\/*.{ts,mts,js,mjs}`. */
  include?: string[];
  /** Globs relative to root never watched. Default: declaration files and tests. */
  exclude?: string[];
  /** Globs relative to root that are watched but never loaded. */
  deny?: string[];
  /** Use this registry adapter instead of the one picked from `server`. */
  adapter?: ToolRegistryAdapter;
  /**
   * Use this change source instead of the one `watcher` picks (a change source
   * registered under `TOKENS.changeSource` in `container` is used the same way).
   */
  changeSource?: ChangeSource;
  /**
   * Which watcher to use: `'native'` (OS file events, `@hotmcp/watcher-native`),
   * `'poll'` (`@hotmcp/watcher-poll`), or `'auto'`: native, and polling when the
   * native watcher cannot start or dies (said once on stderr, audited as
   * `watcher.fallback`). Default: the `HOTMCP_WATCHER` environment variable, else `'auto'`.
   */
  watcher?: WatcherKind;
  /**
   * How the change source's batches are coalesced before they reach the engine
   * (whatever the source): `false` for not at all, or timings. Default
   * `{ leadMs: 5, settleMs: 100, maxWaitMs: 1000 }`.
   */
  coalesce?: false | CoalesceTimings;
  /**
   * How tool modules are loaded: `'runner'` (default: evaluated in hotmcp's own
   * module registry, so a replaced version is freed and memory stays bounded),
   * `'native'` (Node's own ESM loader under versioned URLs: exact ESM semantics,
   * but every version stays in memory), or a `ModuleLoader` of your own.
   */
  loader?: LoaderKind | ModuleLoader;
  /**
   * With the native loader: the estimated heap held by replaced module versions
   * past which `loader.leak_budget_exceeded` is audited once. Default 64 MiB.
   */
  leakBudgetBytes?: number;
  /**
   * With the runner loader (the default): evaluate the new versions of every
   * batch first in a worker thread, under a time limit, so a module whose
   * top-level code never finishes (an endless loop, a top-level `await` that
   * never settles) is rejected with HOTMCP_ERR_IMPORT_TIMEOUT instead of
   * freezing the server. The limit is time without progress: no module of the
   * batch starting or finishing. Import-time side effects run twice (once in
   * the worker, which is then terminated, once for real). `false` turns it
   * off. Default `{ timeoutMs: 2000 }`.
   */
  preflight?: PreflightOption;
  /** An audit sink, options for the default winston sink, or `false` for none. */
  audit?: AuditSink | WinstonAuditSinkOptions | false;
  /** Polling interval of the default change source, in ms. */
  pollIntervalMs?: number;
  /** Parent container; the reloader always works in a child of it. */
  container?: DependencyContainer;
  /**
   * Register the control tools `hotmcp_status` and `hotmcp_reload` (for
   * clients that ignore list_changed): owned by the reloader, never replaced
   * by a tool module. Default `false`: a client can trigger a reload only when
   * you opt in.
   */
  controlTools?: boolean;
  /**
   * For clients that ignore list_changed (Claude Desktop, Codex CLI, Continue,
   * the Claude Code desktop app): register `hotmcp_call { name, arguments }`,
   * which calls any tool the reloader serves now by name (arguments checked
   * against that tool's input schema), and `hotmcp_status`, which lists the
   * current tools with their input schemas. A tool added after the client
   * fetched its list is then usable at once. Needs zod (3.25 or later)
   * installed next to the server. Default `false`.
   */
  dispatcher?: boolean;
}

/** zod from core's location or the application's, for the dispatcher. */
async function importZod(): Promise<ZodLike> {
  const module = await importOptional<{ z?: ZodLike } & ZodLike>('zod', 'The dispatcher (hotmcp_call)');
  return module.z ?? module;
}

function toolsOf(engine: ReloadEngine): ToolDefinition<any>[] {
  return engine.definitions().filter((definition): definition is ToolDefinition<any> => definition.kind === 'tool');
}

/** Options of {@link createReloaderFromContainer}. */
export interface ReloaderFromContainerOptions {
  /** Register the control tools `hotmcp_status` and `hotmcp_reload`. Default `false`. */
  controlTools?: boolean;
  /** Register the dispatcher `hotmcp_call` and the status tool (see {@link CreateReloaderOptions.dispatcher}). Default `false`. */
  dispatcher?: boolean;
  /** What the status tool reports as the watcher, loader and adapter in use. */
  info?: ControlInfo;
}

/** A running (or ready) reloader. */
export interface Reloader {
  /** The reloader's own child container, with every port registered. */
  readonly container: DependencyContainer;
  /** Watch, load every module found, register its definitions. Resolves when they are live. */
  start(): Promise<void>;
  /** Stop watching and release the sink; registered tools stay. Idempotent. */
  stop(): Promise<void>;
  /** Resolves when every change seen so far has been applied. */
  idle(): Promise<void>;
  /** What is loaded, the last batch and current errors. */
  status(): ReloaderStatus;
  /**
   * Scan the root now and apply, through the reload queue, whatever the
   * watcher missed (added, changed, removed files). Resolves when applied.
   */
  rescan(): Promise<RescanReport>;
}

const ENGINE = 'hotmcp.engine' as Token<ReloadEngine>;
const DEFAULT_INCLUDE = ['**/*.{ts,mts,js,mjs}'];
const DEFAULT_EXCLUDE = ['**/*.d.ts', '**/*.d.mts', '**/*.test.*', '**/*.spec.*'];

function badOption(message: string): HotMcpError {
  return new HotMcpError('HOTMCP_ERR_BAD_OPTION', message);
}

function checkGlobs(name: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    throw badOption(`createReloader: '${name}' must be an array of glob strings`);
  }
  return value as string[];
}

/** Check the options and work out the settings every port shares. */
export function resolveSettings(options: CreateReloaderOptions): ReloaderSettings {
  if (typeof options !== 'object' || options === null) throw badOption('createReloader needs an options object');
  if (typeof options.root !== 'string' || options.root === '') {
    throw badOption("createReloader: 'root' is required: the folder of tool modules to watch");
  }
  const absolute = resolve(options.root);
  let root: string;
  try {
    root = realpathSync(absolute);
  } catch (cause) {
    throw new HotMcpError('HOTMCP_ERR_BAD_OPTION', `createReloader: root ${absolute} does not exist`, { cause });
  }
  if (!statSync(root).isDirectory()) throw badOption(`createReloader: root ${root} is not a directory`);
  const denyFiles: string[] = [];
  const entry = process.argv[1];
  if (entry) {
    try {
      denyFiles.push(realpathSync(entry));
    } catch {}
  }
  return {
    root,
    include: checkGlobs('include', options.include) ?? DEFAULT_INCLUDE,
    exclude: checkGlobs('exclude', options.exclude) ?? DEFAULT_EXCLUDE,
    deny: checkGlobs('deny', options.deny) ?? [],
    denyFiles,
  };
}

/**
 * Import an optional hotmcp package: from core's own location first, then from
 * the application's (entry module, then working directory), since a package
 * manager may link it only for the application.
 */
async function importOptional<T>(name: string, purpose: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch {}
  for (const base of [process.argv[1], join(process.cwd(), 'index.js')]) {
    if (!base) continue;
    try {
      const path = createRequire(resolve(base)).resolve(name);
      return (await import(pathToFileURL(path).href)) as T;
    } catch {}
  }
  throw new HotMcpError(
    'HOTMCP_ERR_ADAPTER_MISSING',
    `${purpose} needs the package ${name}; install it next to @hotmcp/core (pnpm add ${name})`,
  );
}

/**
 * Which official SDK an `McpServer` comes from, told apart without importing
 * either: 2.x dropped 1.x's deprecated `tool()` / `prompt()` / `resource()`
 * and its `Server` negotiates protocol eras. Undefined for anything else.
 */
function sdkMajorOf(server: unknown): 1 | 2 | undefined {
  if (typeof server !== 'object' || server === null) return undefined;
  const candidate = server as Record<string, unknown>;
  const inner = candidate.server as Record<string, unknown> | undefined;
  if (typeof candidate.registerTool !== 'function' || typeof candidate._registeredTools !== 'object') return undefined;
  if (typeof inner !== 'object' || inner === null) return undefined;
  if (typeof candidate.tool === 'function') return 1;
  if (typeof inner.getNegotiatedProtocolVersion === 'function') return 2;
  return undefined;
}

const SDK_ADAPTERS = {
  1: { adapter: '@hotmcp/adapter-sdk-v1', factory: 'createSdkV1Adapter', sdk: '@modelcontextprotocol/sdk 1.x' },
  2: { adapter: '@hotmcp/adapter-sdk-v2', factory: 'createSdkV2Adapter', sdk: '@modelcontextprotocol/server 2.x' },
} as const;

async function defaultAdapter(server: unknown): Promise<ToolRegistryAdapter> {
  if (server === undefined) {
    throw badOption("createReloader: pass 'server' (your McpServer) or an 'adapter'");
  }
  const major = sdkMajorOf(server);
  if (major === undefined) {
    throw new HotMcpError(
      'HOTMCP_ERR_ADAPTER_INCOMPATIBLE',
      "createReloader: 'server' is not an McpServer of @modelcontextprotocol/sdk 1.x or @modelcontextprotocol/server 2.x; pass an 'adapter' for it (a ToolRegistryAdapter, see examples/custom-adapter)",
    );
  }
  const { adapter, factory, sdk } = SDK_ADAPTERS[major];
  const module = await importOptional<Record<string, (server: unknown) => ToolRegistryAdapter>>(
    adapter,
    `An McpServer of ${sdk}`,
  );
  const create = module[factory];
  if (typeof create !== 'function') {
    throw new HotMcpError('HOTMCP_ERR_ADAPTER_INCOMPATIBLE', `${adapter} does not export ${factory}()`);
  }
  return create(server);
}

/** The module loaders `createReloader` can build. */
export type LoaderKind = 'runner' | 'native';
const DEFAULT_LOADER: LoaderKind = 'runner';

function loaderOption(options: CreateReloaderOptions): LoaderKind | ModuleLoader {
  const { loader } = options;
  if (loader === undefined) return DEFAULT_LOADER;
  if (loader === 'runner' || loader === 'native') return loader;
  if (typeof loader === 'object' && loader !== null && typeof loader.load === 'function') return loader;
  throw badOption("createReloader: 'loader' must be 'runner', 'native' or a ModuleLoader");
}

function leakBudgetOption(options: CreateReloaderOptions): { leakBudgetBytes?: number } {
  const budget = options.leakBudgetBytes;
  if (budget === undefined) return {};
  if (typeof budget !== 'number' || Number.isNaN(budget) || budget <= 0) {
    throw badOption("createReloader: 'leakBudgetBytes' must be a positive number of bytes");
  }
  return { leakBudgetBytes: budget };
}

function booleanOption(options: CreateReloaderOptions, name: 'controlTools' | 'dispatcher'): boolean {
  const value = options[name] ?? false;
  if (typeof value !== 'boolean') throw badOption(`createReloader: '${name}' must be true or false`);
  return value;
}

/** The watcher a change source picked, as its `watcher.*` audit events tell it. */
function watchWatcher(audit: AuditSink): { audit: AuditSink; current: () => string | undefined } {
  let current: string | undefined;
  return {
    current: () => current,
    audit: {
      record(event, fields) {
        if (event === 'watcher.started') current = String(fields?.watcher);
        else if (event === 'watcher.fallback') current = String(fields?.to);
        else if (event === 'watcher.died') current = 'none';
        audit.record(event, fields);
      },
      close: () => audit.close(),
    },
  };
}

function preflightOption(
  options: CreateReloaderOptions,
  loader: LoaderKind | ModuleLoader,
): { preflight?: PreflightOption } {
  const preflight = checkPreflightOption(options.preflight);
  if (preflight === undefined) return {};
  if (preflight !== false && loader !== 'runner') {
    throw badOption("createReloader: 'preflight' works with the runner loader only (the default 'loader')");
  }
  return { preflight };
}

function watcherOption(options: CreateReloaderOptions): WatcherKind {
  const value = options.watcher ?? process.env.HOTMCP_WATCHER ?? 'auto';
  if (!WATCHER_KINDS.includes(value as WatcherKind)) {
    const from = options.watcher === undefined ? 'the HOTMCP_WATCHER environment variable' : "'watcher'";
    throw badOption(`createReloader: ${from} must be one of ${WATCHER_KINDS.join(', ')}, got ${String(value)}`);
  }
  return value as WatcherKind;
}

function coalesceOption(options: CreateReloaderOptions): false | CoalesceTimings {
  const value = options.coalesce ?? {};
  if (value === false) return false;
  if (typeof value !== 'object' || value === null) {
    throw badOption("createReloader: 'coalesce' must be false or an object of timings");
  }
  return resolveCoalesceTimings(value);
}

async function defaultChangeSource(
  settings: ReloaderSettings,
  watcher: WatcherKind,
  audit: AuditSink,
  pollIntervalMs?: number,
): Promise<ChangeSource> {
  const load = async <T>(name: string) => importOptional<T>(name, 'Watching files').catch(() => undefined);
  return selectChangeSource({
    watcher,
    settings,
    audit,
    ...(pollIntervalMs !== undefined && { pollIntervalMs }),
    modules: { native: () => load('@hotmcp/watcher-native'), poll: () => load('@hotmcp/watcher-poll') },
  });
}

function isAuditSink(value: unknown): value is AuditSink {
  return typeof (value as AuditSink | undefined)?.record === 'function';
}

const NO_AUDIT: AuditSink = { record() {}, close: async () => {} };

/**
 * Build a reloader for one server: a child container with the settings, the
 * change source, the module loader, the registry adapter and the audit sink
 * registered under their tokens, and the reload engine on top. Options are
 * checked before anything starts.
 */
export async function createReloader(options: CreateReloaderOptions): Promise<Reloader> {
  const loader = loaderOption(options);
  const preflight = preflightOption(options, loader);
  const settings: NativeEsmLoaderSettings & RunnerLoaderSettings = {
    ...resolveSettings(options),
    ...leakBudgetOption(options),
    ...preflight,
    captureTimeoutMs: preflightTimeout(preflight.preflight),
  };
  const watcher = watcherOption(options);
  const coalesce = coalesceOption(options);
  const controlTools = booleanOption(options, 'controlTools');
  const dispatcher = booleanOption(options, 'dispatcher');
  const container = createContainer(options.container);
  registerValue(container, TOKENS.settings, settings);

  const audit =
    options.audit === false
      ? NO_AUDIT
      : isAuditSink(options.audit)
        ? options.audit
        : new WinstonAuditSink(options.audit ?? {});
  registerValue(container, TOKENS.auditSink, audit);
  const has = (token: Token<unknown>) => container.isRegistered(token, false);
  const loaderName =
    typeof loader === 'object' || (options.loader === undefined && has(TOKENS.moduleLoader)) ? 'custom' : loader;
  if (typeof loader === 'object') registerValue(container, TOKENS.moduleLoader, loader);
  else if (options.loader !== undefined || !has(TOKENS.moduleLoader)) {
    registerClass(container, TOKENS.moduleLoader, loader === 'native' ? NativeEsmModuleLoader : RunnerModuleLoader);
  }
  const watching = watchWatcher(audit);
  const custom = options.changeSource !== undefined || container.isRegistered(TOKENS.changeSource, true);
  const changeSource =
    options.changeSource ??
    (container.isRegistered(TOKENS.changeSource, true)
      ? resolveToken(container, TOKENS.changeSource)
      : await defaultChangeSource(settings, watcher, watching.audit, options.pollIntervalMs));
  registerValue(
    container,
    TOKENS.changeSource,
    coalesce === false
      ? changeSource
      : createCoalescingChangeSource(changeSource, { ...coalesce, root: settings.root }),
  );
  const adapter = options.adapter ?? (await defaultAdapter(options.server));
  assertAdapter(adapter);
  registerValue(container, TOKENS.registryAdapter, adapter);
  return createReloaderFromContainer(container, {
    controlTools,
    dispatcher,
    info: { watcher: custom ? () => 'custom' : watching.current, loader: loaderName, adapter: adapter.adapterName },
  });
}

/**
 * Build a reloader from a container that already has every port registered
 * (settings, change source, module loader, registry adapter, audit sink):
 * the way to compose your own.
 */
export function createReloaderFromContainer(
  container: DependencyContainer,
  options: ReloaderFromContainerOptions = {},
): Reloader {
  registerClass(container, ENGINE, ReloadEngine);
  const engine = resolveToken(container, ENGINE);
  const { root } = resolveToken(container, TOKENS.settings);
  const adapter = resolveToken(container, TOKENS.registryAdapter);
  // A failed reload is told to clients that take log messages (the adapter sends only when the server advertises logging).
  engine.onFailure((failure) =>
    adapter.sendLog?.({ level: 'error', logger: 'hotmcp', data: clientFailure(root, failure) }),
  );
  const info = { adapter: adapter.adapterName, ...options.info };
  // zod, for the dispatcher's own schema and the status tool's JSON Schemas: imported at start, when wanted.
  let zod: ZodLike | undefined;
  const schemas = { inputJsonSchema: (schema: unknown) => inputJsonSchema(schema, zod) };
  const target = { status: () => engine.status(), rescan: () => engine.rescan(), tools: () => toolsOf(engine) };
  const dispatcher = options.dispatcher === true;
  if (options.controlTools === true) engine.addBuiltins(createControlTools(target, info, schemas));
  let started: Promise<void> | undefined;
  const start = async () => {
    if (options.controlTools === true || dispatcher) {
      zod = await importZod().catch((error: unknown) => {
        if (dispatcher) throw error;
        return undefined;
      });
    }
    if (dispatcher && zod) {
      const [status] = createControlTools(target, info, schemas);
      engine.addBuiltins([createDispatcherTool(target, zod), ...(options.controlTools === true ? [] : [status!])]);
    }
  };
  let stopped = false;
  return {
    container,
    async start() {
      started ??= start();
      await started;
      await engine.start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await engine.stop();
      await resolveToken(container, TOKENS.auditSink).close();
    },
    idle: () => engine.idle(),
    status: () => engine.status(),
    rescan: () => engine.rescan(),
  };
}
