import 'reflect-metadata';
import { isAbsolute, relative } from 'node:path';
import type { DependencyContainer } from 'tsyringe';
import { assertAdapter } from './adapter-contract.js';
import { WinstonAuditSink } from './audit/winston-audit-sink.js';
import { createContainer, registerClass, registerValue, resolveToken } from './container.js';
import { type ControlInfo, clientFailure, failureReason } from './control/client-view.js';
import { createControlTools } from './control/control-tools.js';
import { createDispatcherTool, inputJsonSchema, type ZodLike } from './control/dispatcher.js';
import type { ToolDefinition } from './define.js';
import { ReloadEngine } from './engine/reload-engine.js';
import type { ReloaderStatus, ReloadFailure, RescanReport } from './engine/status.js';
import { HotMcpError, isHotMcpError } from './errors.js';
import { installCommand } from './install-command.js';
import { NativeEsmModuleLoader } from './loader/native-esm-module-loader.js';
import { RunnerModuleLoader } from './loader/runner-module-loader.js';
import { discoverAdapter, discoverChangeSource, importOptional } from './package-discovery.js';
import type { AuditSink } from './ports/audit-sink.js';
import type { ToolRegistryAdapter } from './ports/tool-registry-adapter.js';
import { type CheckedOptions, type CreateReloaderOptions, checkOptions } from './reloader-options.js';
import { TOKENS, type Token } from './tokens.js';
import { createCoalescingChangeSource } from './watching/coalescing-change-source.js';
import type { FallbackChangeSource } from './watching/fallback-change-source.js';

/** Options of {@link createReloaderFromContainer}. */
export interface ReloaderFromContainerOptions {
  /** Register the control tools `hotmcp_status` and `hotmcp_reload`. Default `false`. */
  controlTools?: boolean;
  /** Register the dispatcher `hotmcp_call` and the status tool (see {@link CreateReloaderOptions.dispatcher}). Default `false`. */
  dispatcher?: boolean;
  /** What the status tool reports as the watcher, loader and adapter in use. */
  info?: ControlInfo;
  /** Print one line on stderr per failed module (`hotmcp: tools/x.ts:8: message`). Default `false`. */
  printFailures?: boolean;
}

/** A running (or ready) reloader. */
export interface Reloader {
  /** The reloader's own child container, with every port registered. */
  readonly container: DependencyContainer;
  /**
   * Watch, load every module found, register its definitions. Resolves when they are live; in a folder of more
   * than 200 files, once the first 200 are (the rest follows at once, with one list_changed; `idle()` waits for it).
   */
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

/**
 * zod from core's location or the application's, for the dispatcher (which
 * needs it: `HOTMCP_ERR_BAD_OPTION` without) and the status tool's JSON
 * Schemas (which do without).
 */
async function importZod(): Promise<ZodLike | undefined> {
  const module = (await importOptional('zod')) as ({ z?: ZodLike } & ZodLike) | undefined;
  return module?.z ?? module;
}

function toolsOf(engine: ReloadEngine): ToolDefinition<any>[] {
  return engine.definitions().filter((definition): definition is ToolDefinition<any> => definition.kind === 'tool');
}

function defaultAdapter(server: unknown): Promise<ToolRegistryAdapter> {
  if (server === undefined)
    throw new HotMcpError('HOTMCP_ERR_BAD_OPTION', "createReloader: pass 'server' (your McpServer) or an 'adapter'");
  return discoverAdapter(server);
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
  const checked = checkOptions(options);
  const { settings, loader } = checked;
  const container = createContainer(options.container);
  registerValue(container, TOKENS.settings, settings);

  const audit =
    options.audit === false
      ? NO_AUDIT
      : isAuditSink(options.audit)
        ? options.audit
        : new WinstonAuditSink(options.audit ?? {});
  registerValue(container, TOKENS.auditSink, audit);
  // The sink made here writes once the start-up is over (loading winston is no part of it): released when every
  // file found at start-up is loaded, or at stop().
  let startupOver = () => {};
  if (audit instanceof WinstonAuditSink && !isAuditSink(options.audit)) {
    audit.hold(
      new Promise<void>((resolve) => {
        startupOver = resolve;
      }),
    );
  }
  const has = (token: Token<unknown>) => container.isRegistered(token, false);
  const loaderName =
    typeof loader === 'object' || (options.loader === undefined && has(TOKENS.moduleLoader)) ? 'custom' : loader;
  const built = typeof loader !== 'object' && (options.loader !== undefined || !has(TOKENS.moduleLoader));
  if (typeof loader === 'object') registerValue(container, TOKENS.moduleLoader, loader);
  else if (built) {
    registerClass(container, TOKENS.moduleLoader, loader === 'native' ? NativeEsmModuleLoader : RunnerModuleLoader);
  }
  // The loader starts what its first load needs (the import preflight's worker, the compiler) now, while the
  // watcher and the adapter are imported and the watcher starts.
  const moduleLoader = resolveToken(container, TOKENS.moduleLoader);
  try {
    moduleLoader.warmUp?.();
  } catch {} // the first load starts what it needs
  let assembled: Reloader;
  try {
    assembled = await assemble(options, container, checked, audit, loaderName);
  } catch (error) {
    startupOver();
    if (built) await moduleLoader.close?.();
    throw error;
  }
  const reloader: Reloader = {
    ...assembled,
    async start() {
      try {
        await assembled.start();
      } finally {
        void assembled.idle().finally(startupOver);
      }
    },
  };
  if (!built) return reloader;
  // What the warm-up started goes with stop() even when the reloader was never started (closing twice is harmless).
  return {
    ...reloader,
    async stop() {
      startupOver();
      await reloader.stop();
      await moduleLoader.close?.();
    },
  };
}

/** The rest of {@link createReloader}: the change source and the adapter, found, and the reloader on top. */
async function assemble(
  options: CreateReloaderOptions,
  container: DependencyContainer,
  { settings, watcher, coalesce, controlTools, dispatcher, quiet }: CheckedOptions,
  audit: AuditSink,
  loaderName: string,
): Promise<Reloader> {
  const custom =
    options.changeSource ??
    (container.isRegistered(TOKENS.changeSource, true) ? resolveToken(container, TOKENS.changeSource) : undefined);
  // Both looked up before either fails, so one error names every missing package.
  const [watched, adapted] = await Promise.allSettled([
    // The watcher starts loading (a native one in its own thread) while the adapter is found and the compiler loads.
    custom ??
      discoverChangeSource(settings, watcher, audit, options.pollIntervalMs).then((source) => {
        source.warmUp();
        return source;
      }),
    options.adapter ?? Promise.resolve().then(() => defaultAdapter(options.server)),
  ]);
  if (watched.status === 'rejected' || adapted.status === 'rejected') {
    throw missingPackages(watched.status === 'rejected' ? watched.reason : undefined, adapted);
  }
  const changeSource = watched.value;
  registerValue(
    container,
    TOKENS.changeSource,
    coalesce === false
      ? changeSource
      : createCoalescingChangeSource(changeSource, { ...coalesce, root: settings.root }),
  );
  const adapter = adapted.value;
  assertAdapter(adapter);
  registerValue(container, TOKENS.registryAdapter, adapter);
  const reloader = createReloaderFromContainer(container, {
    controlTools,
    dispatcher,
    printFailures: !quiet,
    info: {
      watcher: custom !== undefined ? () => 'custom' : () => (changeSource as FallbackChangeSource).watcher,
      loader: loaderName,
      adapter: adapter.adapterName,
      source: () => {
        try {
          return custom?.status?.();
        } catch {
          return undefined; // a source's status must not break the status tool
        }
      },
    },
  });
  if (quiet || !(audit instanceof WinstonAuditSink)) return reloader;
  return {
    ...reloader,
    async start() {
      await reloader.start();
      process.stderr.write(`hotmcp: hot-reloading ${settings.root}; audit log: ${audit.path}\n`);
    },
  };
}

/**
 * The error for a failed lookup of the watcher and the adapter: when both
 * packages are missing, one error naming all of them, with install commands.
 */
function missingPackages(watcherError: unknown, adapted: PromiseSettledResult<unknown>): unknown {
  const adapterError = adapted.status === 'rejected' ? adapted.reason : undefined;
  const missing = (error: unknown, code: string) =>
    isHotMcpError(error) && error.code === code ? ((error.details?.missing as string[] | undefined) ?? []) : [];
  const watchers = missing(watcherError, 'HOTMCP_ERR_WATCHER_MISSING');
  const adapters = missing(adapterError, 'HOTMCP_ERR_ADAPTER_MISSING');
  if (watchers.length === 0 || adapters.length === 0) return watcherError ?? adapterError;
  const commands = adapters.map((name) => installCommand([...watchers, name])).join(', or ');
  return new HotMcpError(
    'HOTMCP_ERR_WATCHER_MISSING',
    `createReloader: packages missing next to @hotmcp/core: ${watchers.join(' or ')} to watch files, and the adapter package for the server's SDK (${adapters.join(' or ')}); install them: ${commands}`,
    { details: { missing: [...watchers, ...adapters] } },
  );
}

/** A file as the failure line names it: relative to the working folder when inside it. */
function shownPath(file: string): string {
  const shown = relative(process.cwd(), file);
  return shown.startsWith('..') || isAbsolute(shown) ? file : shown;
}

/** `hotmcp: tools/x.ts:8: message (HOTMCP_ERR_SYNTAX)`: the path relative to the working directory when under it. */
function failureLine({ module, error }: ReloadFailure): string {
  const file = error.file ?? module;
  const where = file === undefined ? '' : shownPath(file);
  const at = where === '' ? '' : `${where}${error.line !== undefined ? `:${error.line}` : ''}: `;
  const firstLine = error.message.split('\n').find((line) => line.trim() !== '') ?? '';
  // The loaders' "Failed to load <module> (<file>:<line>): reason", once per importer: the place is already said.
  const message = at === '' ? firstLine : failureReason(firstLine, shownPath);
  return `hotmcp: ${at}${message.length > 500 ? `${message.slice(0, 500)}…` : message} (${error.code})\n`;
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
  if (options.printFailures === true) engine.onFailure((failure) => process.stderr.write(failureLine(failure)));
  const info = { adapter: adapter.adapterName, ...options.info };
  // zod, for the dispatcher's own schema and the status tool's JSON Schemas: imported at start, when wanted.
  let zod: ZodLike | undefined;
  const schemas = { inputJsonSchema: (schema: unknown) => inputJsonSchema(schema, zod) };
  const target = { status: () => engine.status(), rescan: () => engine.rescan(), tools: () => toolsOf(engine) };
  const dispatcher = options.dispatcher === true;
  if (options.controlTools === true) engine.addBuiltins(createControlTools(target, info, schemas));
  let prepared: Promise<void> | undefined;
  const prepare = async () => {
    if (options.controlTools !== true && !dispatcher) return;
    zod = await importZod();
    if (dispatcher && zod === undefined) {
      throw new HotMcpError(
        'HOTMCP_ERR_BAD_OPTION',
        "createReloader: 'dispatcher' needs zod (3.25 or later) installed next to the server (pnpm add zod)",
      );
    }
    if (dispatcher && zod !== undefined) {
      const [status] = createControlTools(target, info, schemas);
      engine.addBuiltins([createDispatcherTool(target, zod), ...(options.controlTools === true ? [] : [status!])]);
    }
  };
  let stopped = false;
  return {
    container,
    async start() {
      prepared ??= prepare();
      await prepared;
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
