import 'reflect-metadata';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DependencyContainer } from 'tsyringe';
import { assertAdapter } from './adapter-contract.js';
import { WinstonAuditSink, type WinstonAuditSinkOptions } from './audit/winston-audit-sink.js';
import { createContainer, registerClass, registerValue, resolveToken } from './container.js';
import { ReloadEngine } from './engine/reload-engine.js';
import type { ReloaderStatus } from './engine/status.js';
import { HotMcpError } from './errors.js';
import { NativeEsmModuleLoader } from './loader/native-esm-module-loader.js';
import type { AuditSink } from './ports/audit-sink.js';
import type { ChangeSource } from './ports/change-source.js';
import type { ModuleLoader } from './ports/module-loader.js';
import type { ToolRegistryAdapter } from './ports/tool-registry-adapter.js';
import { type ReloaderSettings, TOKENS, type Token } from './tokens.js';

/** Options of {@link createReloader}. */
export interface CreateReloaderOptions {
  /** The live MCP server (`McpServer` of `@modelcontextprotocol/sdk` 1.x); its adapter is picked for you. */
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
  /** Use this change source instead of polling. */
  changeSource?: ChangeSource;
  /** Use this module loader instead of the native-ESM one. */
  loader?: ModuleLoader;
  /** An audit sink, options for the default winston sink, or `false` for none. */
  audit?: AuditSink | WinstonAuditSinkOptions | false;
  /** Polling interval of the default change source, in ms. */
  pollIntervalMs?: number;
  /** Parent container; the reloader always works in a child of it. */
  container?: DependencyContainer;
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
  status(): ReloaderStatus;
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

async function defaultAdapter(server: unknown): Promise<ToolRegistryAdapter> {
  if (server === undefined) {
    throw badOption("createReloader: pass 'server' (your McpServer) or an 'adapter'");
  }
  const { createSdkV1Adapter } = await importOptional<{ createSdkV1Adapter(server: unknown): ToolRegistryAdapter }>(
    '@hotmcp/adapter-sdk-v1',
    'An McpServer of @modelcontextprotocol/sdk 1.x',
  );
  return createSdkV1Adapter(server);
}

async function defaultChangeSource(settings: ReloaderSettings, intervalMs?: number): Promise<ChangeSource> {
  const { createPollChangeSource } = await importOptional<{
    createPollChangeSource(options: ReloaderSettings & { intervalMs?: number }): ChangeSource;
  }>('@hotmcp/watcher-poll', 'Watching files');
  return createPollChangeSource({ ...settings, ...(intervalMs !== undefined && { intervalMs }) });
}

function isAuditSink(value: unknown): value is AuditSink {
  return typeof (value as AuditSink | undefined)?.record === 'function';
}

const NO_AUDIT: AuditSink = { record() {}, close: async () => {} };

function warnIfNotModule(root: string, audit: AuditSink): void {
  for (let dir = root; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { type?: string };
      if (pkg.type === 'module') return;
      break;
    } catch {}
    if (dirname(dir) === dir) break;
  }
  const message = `tool modules under ${root} are not ES modules: add "type": "module" to the nearest package.json (or use .mts files)`;
  process.stderr.write(`hotmcp: ${message}\n`);
  audit.record('loader.warning', { message });
}

/**
 * Build a reloader for one server: a child container with the settings, the
 * change source, the module loader, the registry adapter and the audit sink
 * registered under their tokens, and the reload engine on top. Options are
 * checked before anything starts.
 */
export async function createReloader(options: CreateReloaderOptions): Promise<Reloader> {
  const settings = resolveSettings(options);
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
  if (options.loader) registerValue(container, TOKENS.moduleLoader, options.loader);
  else if (!has(TOKENS.moduleLoader)) registerClass(container, TOKENS.moduleLoader, NativeEsmModuleLoader);
  const changeSource = options.changeSource ?? (await defaultChangeSource(settings, options.pollIntervalMs));
  registerValue(container, TOKENS.changeSource, changeSource);
  const adapter = options.adapter ?? (await defaultAdapter(options.server));
  assertAdapter(adapter);
  registerValue(container, TOKENS.registryAdapter, adapter);
  warnIfNotModule(settings.root, audit);
  return createReloaderFromContainer(container);
}

/**
 * Build a reloader from a container that already has every port registered
 * (settings, change source, module loader, registry adapter, audit sink):
 * the way to compose your own.
 */
export function createReloaderFromContainer(container: DependencyContainer): Reloader {
  registerClass(container, ENGINE, ReloadEngine);
  const engine = resolveToken(container, ENGINE);
  let stopped = false;
  return {
    container,
    start: () => engine.start(),
    async stop() {
      if (stopped) return;
      stopped = true;
      await engine.stop();
      await resolveToken(container, TOKENS.auditSink).close();
    },
    idle: () => engine.idle(),
    status: () => engine.status(),
  };
}
