import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inject, injectable } from 'tsyringe';
import type { AuditSink } from '../ports/audit-sink.js';
import type { LoadResult, ModuleLoader } from '../ports/module-loader.js';
import { type ReloaderSettings, TOKENS } from '../tokens.js';
import { VERSION_PARAM } from './esm-hooks.js';
import { type HookChannel, openHookChannel } from './hook-channel.js';
import { ImportGraph } from './import-graph.js';
import { toLoadError } from './load-error.js';
import { readModuleSource } from './module-source.js';

// One counter for the process: a file deleted and re-created never reuses a cached URL.
let nextVersion = 0;

/** Settings the native loader reads besides the shared ones. */
export interface NativeEsmLoaderSettings extends ReloaderSettings {
  /** Estimated heap held by replaced versions past which one warning is audited. Default 64 MiB. */
  leakBudgetBytes?: number;
}

export const DEFAULT_LEAK_BUDGET_BYTES = 64 * 1024 * 1024;
/**
 * What a replaced version keeps on the heap, measured by
 * bench/loader-memory.mjs on Node 20 (its source text, compiled code and
 * module records stay reachable from Node's module map): about 20 KB plus 6
 * bytes per byte of source (333 KB for a 50 KB module, 31 KB for a 2 KB one).
 */
export const RETAINED_BYTES_PER_VERSION = 20 * 1024;
export const RETAINED_BYTES_PER_SOURCE_BYTE = 6;

/**
 * The exact-ESM loader: native ESM, with every file inside the root imported
 * under a versioned URL. Node cannot evict an ES module, so every loaded
 * version stays in memory: the loader estimates what replaced versions hold
 * and audits `loader.leak_budget_exceeded` once past `leakBudgetBytes`.
 */
@injectable()
export class NativeEsmModuleLoader implements ModuleLoader {
  private readonly graph = new ImportGraph();
  private readonly versions = new Map<string, number>();
  private readonly edgeVersions = new Map<string, number>();
  private channel: HookChannel | undefined;
  /** Files evaluated at least once: every later version leaves the earlier one behind. */
  private readonly evaluated = new Set<string>();
  private reloads = 0;
  private retainedBytes = 0;
  private warned = false;

  constructor(
    @inject(TOKENS.settings) private readonly settings: NativeEsmLoaderSettings,
    @inject(TOKENS.auditSink) private readonly audit: AuditSink,
  ) {}

  async load(files: readonly string[]): Promise<LoadResult[]> {
    if (!this.channel) {
      this.warnIfNotModule();
      this.channel = await openHookChannel(this.settings.root);
    }
    const bumped: Array<[string, number]> = files.map((file) => [file, ++nextVersion]);
    for (const [file, version] of bumped) this.versions.set(file, version);
    // Edges seen since the last load (dynamic imports at run time) count too.
    this.recordEdges((await this.channel.sync({ versions: bumped })).edges);
    const results = await Promise.all(
      bumped.map(async ([file, version]): Promise<LoadResult> => {
        try {
          // Node reads the file again; this refuses what it would take silently (outside the root, empty, not UTF-8).
          readModuleSource(file, this.settings.root);
          const url = `${pathToFileURL(file).href}?${VERSION_PARAM}=${version}`;
          const exports = (await import(url)) as Record<string, unknown>;
          return { file, ok: true, exports };
        } catch (error) {
          return { file, ok: false, error: toLoadError(error, file, this.settings.root) };
        }
      }),
    );
    this.recordEdges((await this.channel.sync({})).edges);
    this.countRetained(files);
    return results;
  }

  /**
   * Node loads `.ts` under the root as CommonJS unless the nearest
   * package.json says `"type": "module"`, and versioned imports of such files
   * fail: say so once, when the loader first runs.
   */
  private warnIfNotModule(): void {
    const root = this.settings.root;
    for (let dir = root; ; dir = dirname(dir)) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { type?: string };
        if (pkg.type === 'module') return;
        break;
      } catch {}
      if (dirname(dir) === dir) break;
    }
    const message = `tool modules under ${root} are not ES modules: add "type": "module" to the nearest package.json (or use .mts files), or use the runner loader`;
    process.stderr.write(`hotmcp: ${message}\n`);
    this.audit.record('loader.warning', { message });
  }

  /** What Node now holds that a restart would free: one more version of each file loaded before. */
  private countRetained(files: readonly string[]): void {
    for (const file of files) {
      if (!this.evaluated.has(file)) {
        this.evaluated.add(file);
        continue;
      }
      this.reloads++;
      try {
        this.retainedBytes += RETAINED_BYTES_PER_VERSION + statSync(file).size * RETAINED_BYTES_PER_SOURCE_BYTE;
      } catch {}
    }
    const budget = this.settings.leakBudgetBytes ?? DEFAULT_LEAK_BUDGET_BYTES;
    if (this.warned || this.retainedBytes <= budget) return;
    this.warned = true;
    const advice =
      "Node cannot unload an ES module, so every reload keeps the replaced version in memory. Use the bounded-memory loader (createReloader({ loader: 'runner' })) or restart the server now and then.";
    this.audit.record('loader.leak_budget_exceeded', {
      reloads: this.reloads,
      estimatedRetainedBytes: this.retainedBytes,
      budgetBytes: budget,
      advice,
    });
    process.stderr.write(
      `hotmcp: about ${Math.round(this.retainedBytes / 1048576)} MB held by ${this.reloads} replaced module versions. ${advice}\n`,
    );
  }

  importersOf(files: Iterable<string>): Set<string> {
    return this.graph.importersOf(files);
  }

  forget(files: Iterable<string>): void {
    for (const file of files) {
      this.graph.forget(file);
      this.versions.delete(file);
      this.edgeVersions.delete(file);
    }
  }

  private recordEdges(edges: Array<[string, string[]]>): void {
    for (const [parentUrl, children] of edges) {
      const [base, query] = parentUrl.split('?');
      const version = Number(new URLSearchParams(query).get(VERSION_PARAM));
      const parent = fileURLToPath(base as string);
      // Edges seen under an older URL of the parent are stale; the first report
      // for the current version replaces its edges, later ones (dynamic imports) add.
      if (this.versions.get(parent) !== version) continue;
      this.graph.setImports(parent, children, this.edgeVersions.get(parent) === version);
      this.edgeVersions.set(parent, version);
    }
  }
}
