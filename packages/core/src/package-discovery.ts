import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HotMcpError } from './errors.js';
import { installCommand } from './install-command.js';
import type { AuditSink } from './ports/audit-sink.js';
import type { ToolRegistryAdapter } from './ports/tool-registry-adapter.js';
import type { ReloaderSettings } from './tokens.js';
import type { FallbackChangeSource } from './watching/fallback-change-source.js';
import { selectChangeSource, type WatcherKind } from './watching/select-change-source.js';

/**
 * What an adapter package exports for `createReloader` to find it: a probe
 * and a factory. `createReloader({ server })` imports each installed
 * candidate package and uses the first whose `matches(server)` is true.
 */
export interface AdapterPackage {
  /** Whether this package's adapter drives `server` (an object of its SDK, from any copy of it). */
  matches(server: unknown): boolean;
  /** The adapter for a server `matches` accepted. */
  createAdapter(server: unknown): ToolRegistryAdapter;
}

/** The adapter packages `createReloader` asks, in order, when given a `server` and no `adapter`. */
export const ADAPTER_PACKAGES: readonly string[] = ['@hotmcp/adapter-sdk-v1', '@hotmcp/adapter-sdk-v2'];

/** How a package is imported; resolves undefined when it is not installed. */
export type PackageImporter = (name: string) => Promise<unknown>;

/**
 * Import an optional hotmcp package: from core's own location first, then from
 * the application's (entry module, then working directory), since a package
 * manager may link it only for the application. Undefined when none resolves.
 */
export async function importOptional(name: string): Promise<unknown> {
  try {
    return await import(name);
  } catch {}
  for (const base of [process.argv[1], join(process.cwd(), 'index.js')]) {
    if (!base) continue;
    try {
      const path = createRequire(resolve(base)).resolve(name);
      return await import(pathToFileURL(path).href);
    } catch {}
  }
  return undefined;
}

function isAdapterPackage(module: unknown): module is AdapterPackage {
  const candidate = module as Partial<AdapterPackage> | undefined;
  return typeof candidate?.matches === 'function' && typeof candidate.createAdapter === 'function';
}

/** Options of {@link discoverAdapter}. */
export interface AdapterDiscovery {
  /** Package names to ask, in order. Default {@link ADAPTER_PACKAGES}. */
  candidates?: readonly string[];
  /** How to import one. Default `importOptional`: core's location first, then the application's. */
  importPackage?: PackageImporter;
}

/**
 * The registry adapter for `server`, from the first installed adapter package
 * whose `matches(server)` is true. `HOTMCP_ERR_ADAPTER_MISSING` naming the
 * packages to add when none matches and some are not installed;
 * `HOTMCP_ERR_ADAPTER_INCOMPATIBLE` when every candidate is installed and
 * none recognises the server, or an installed one is not an adapter package.
 */
export async function discoverAdapter(server: unknown, discovery: AdapterDiscovery = {}): Promise<ToolRegistryAdapter> {
  const candidates = discovery.candidates ?? ADAPTER_PACKAGES;
  const importPackage = discovery.importPackage ?? importOptional;
  const missing: string[] = [];
  for (const name of candidates) {
    const module = await importPackage(name).catch(() => undefined);
    if (module === undefined) {
      missing.push(name);
      continue;
    }
    if (!isAdapterPackage(module)) {
      throw new HotMcpError(
        'HOTMCP_ERR_ADAPTER_INCOMPATIBLE',
        `${name} does not export matches() and createAdapter(); install a version of it that matches @hotmcp/core`,
        { details: { package: name } },
      );
    }
    if (module.matches(server)) return module.createAdapter(server);
  }
  const custom = "pass an 'adapter' for it (a ToolRegistryAdapter, see examples/custom-adapter)";
  if (missing.length > 0) {
    throw new HotMcpError(
      'HOTMCP_ERR_ADAPTER_MISSING',
      `createReloader: no installed adapter package recognises 'server'; install the one for its SDK next to @hotmcp/core (${missing.map((name) => installCommand([name])).join(', or ')}), or ${custom}`,
      { details: { packages: missing, missing } },
    );
  }
  throw new HotMcpError(
    'HOTMCP_ERR_ADAPTER_INCOMPATIBLE',
    `createReloader: 'server' is not a server any adapter package recognises (${candidates.join(', ')}); ${custom}`,
  );
}

/** The watcher packages `createReloader` imports for `watcher: 'native' | 'poll' | 'auto'`. */
export const WATCHER_PACKAGES = { native: '@hotmcp/watcher-native', poll: '@hotmcp/watcher-poll' } as const;

/**
 * The default change source: the installed watcher packages, picked by
 * `watcher` (see {@link selectChangeSource}).
 */
export function discoverChangeSource(
  settings: ReloaderSettings,
  watcher: WatcherKind,
  audit: AuditSink,
  pollIntervalMs?: number,
): Promise<FallbackChangeSource> {
  const load = async <T>(name: string) => (await importOptional(name)) as T | undefined;
  return selectChangeSource({
    watcher,
    settings,
    audit,
    ...(pollIntervalMs !== undefined && { pollIntervalMs }),
    modules: { native: () => load(WATCHER_PACKAGES.native), poll: () => load(WATCHER_PACKAGES.poll) },
  });
}
