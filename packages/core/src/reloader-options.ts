import { realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DependencyContainer } from 'tsyringe';
import type { WinstonAuditSinkOptions } from './audit/winston-audit-sink.js';
import { HotMcpError } from './errors.js';
import type { NativeEsmLoaderSettings } from './loader/native-esm-module-loader.js';
import { checkPreflightOption, type PreflightOption, preflightTimeout } from './loader/preflight.js';
import type { RunnerLoaderSettings } from './loader/runner-module-loader.js';
import type { AuditSink } from './ports/audit-sink.js';
import type { ChangeSource } from './ports/change-source.js';
import type { ModuleLoader } from './ports/module-loader.js';
import type { ToolRegistryAdapter } from './ports/tool-registry-adapter.js';
import type { ReloaderSettings } from './tokens.js';
import { type CoalesceTimings, resolveCoalesceTimings } from './watching/coalescing-change-source.js';
import { WATCHER_KINDS, type WatcherKind } from './watching/select-change-source.js';

/** Options of {@link createReloader}. */
export interface CreateReloaderOptions {
  /**
   * The live MCP server, e.g. an official SDK's `McpServer`: the installed
   * adapter package whose `matches(server)` is true drives it (see
   * `ADAPTER_PACKAGES`).
   */
  server?: unknown;
  /** The folder of tool modules to watch: a path, or a `file:` URL (`new URL('./tools', import.meta.url)`). */
  root: string | URL;
  /**
   * Globs relative to root that select modules, and the JSON files they import
   * (an edited JSON file reloads the modules importing it). Default:
   * `**\/*.{ts,mts,tsx,js,mjs,jsx,json,cts,cjs}` (`.cts` and `.cjs` files are
   * CommonJS: not loaded, said once each).
   */
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
   * off. Default `{ timeoutMs: 2000 }`. The modules found at start-up are
   * evaluated on the main thread without it, as a plain server imports them
   * (their top-level `await` under the same limit); `atStartup: true` checks
   * them in the worker first too.
   */
  preflight?: PreflightOption;
  /**
   * With the runner loader (the default): where its compilations of the tool
   * modules are kept between starts, so a start compiles only the modules
   * changed since the last one. `true` (default): one file per root in
   * `$XDG_CACHE_HOME/hotmcp/compiled` (`~/.cache/hotmcp/compiled`); a folder
   * path (created owner-only; not used when group or others may write to it);
   * `false`: compile every module at every start.
   */
  compileCache?: boolean | string;
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
  /**
   * Say nothing on stderr: by default each module that fails to load gets one
   * line there (`hotmcp: tools/x.ts:8: message`) and start-up names the audit
   * log. Failures are audited and in `status()` either way. Default `false`.
   */
  quiet?: boolean;
}

// `.cjs` and `.cts` are watched only to say, once each, that they are not loaded (CommonJS).
const DEFAULT_INCLUDE = ['**/*.{ts,mts,tsx,js,mjs,jsx,json,cts,cjs}'];
const DEFAULT_EXCLUDE = ['**/*.d.ts', '**/*.d.mts', '**/*.d.cts', '**/*.test.*', '**/*.spec.*'];

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
  const given = options.root instanceof URL ? fileURLToPath(options.root) : options.root;
  if (typeof given !== 'string' || given === '') {
    throw badOption("createReloader: 'root' is required: the folder of tool modules to watch (a path or a file: URL)");
  }
  const absolute = resolve(given);
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

function compileCacheOption(options: CreateReloaderOptions): { compileCache?: string | false } {
  const value = options.compileCache;
  if (value === undefined || value === true) return {};
  if (value === false) return { compileCache: false };
  if (typeof value !== 'string' || value === '') {
    throw badOption("createReloader: 'compileCache' must be true, false or a folder path");
  }
  return { compileCache: resolve(value) };
}

function booleanOption(options: CreateReloaderOptions, name: 'controlTools' | 'dispatcher' | 'quiet'): boolean {
  const value = options[name] ?? false;
  if (typeof value !== 'boolean') throw badOption(`createReloader: '${name}' must be true or false`);
  return value;
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

/** The options of {@link createReloader}, checked, with their defaults applied. */
export interface CheckedOptions {
  /** The settings every port shares, with the loaders' own. */
  settings: NativeEsmLoaderSettings & RunnerLoaderSettings;
  /** The module loader to build, or the one given. */
  loader: LoaderKind | ModuleLoader;
  /** Which watcher to pick when no change source is given. */
  watcher: WatcherKind;
  /** How batches are coalesced. */
  coalesce: false | CoalesceTimings;
  /** Whether to register the control tools. */
  controlTools: boolean;
  /** Whether to register the dispatcher. */
  dispatcher: boolean;
  /** Whether stderr stays silent. */
  quiet: boolean;
}

/**
 * Check every option of {@link createReloader} before anything is built,
 * throwing `HOTMCP_ERR_BAD_OPTION` for the first bad one.
 */
export function checkOptions(options: CreateReloaderOptions): CheckedOptions {
  const loader = loaderOption(options);
  const preflight = preflightOption(options, loader);
  return {
    settings: {
      ...resolveSettings(options),
      ...leakBudgetOption(options),
      ...preflight,
      ...compileCacheOption(options),
      // An asynchronous register(server) gets the same time limit as an import.
      captureTimeoutMs: preflightTimeout(preflight.preflight),
    },
    loader,
    watcher: watcherOption(options),
    coalesce: coalesceOption(options),
    controlTools: booleanOption(options, 'controlTools'),
    dispatcher: booleanOption(options, 'dispatcher'),
    quiet: booleanOption(options, 'quiet'),
  };
}
