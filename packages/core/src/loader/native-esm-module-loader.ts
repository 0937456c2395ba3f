import { fileURLToPath, pathToFileURL } from 'node:url';
import { inject, injectable } from 'tsyringe';
import type { LoadResult, ModuleLoader } from '../ports/module-loader.js';
import { type ReloaderSettings, TOKENS } from '../tokens.js';
import { VERSION_PARAM } from './esm-hooks.js';
import { type HookChannel, openHookChannel } from './hook-channel.js';
import { ImportGraph } from './import-graph.js';
import { toLoadError } from './load-error.js';

// One counter for the process: a file deleted and re-created never reuses a cached URL.
let nextVersion = 0;

/**
 * The default loader: native ESM, with every file inside the root imported
 * under a versioned URL. Exact ESM semantics; Node cannot evict modules, so
 * every loaded version stays in memory.
 */
@injectable()
export class NativeEsmModuleLoader implements ModuleLoader {
  private readonly graph = new ImportGraph();
  private readonly versions = new Map<string, number>();
  private readonly edgeVersions = new Map<string, number>();
  private channel: HookChannel | undefined;

  constructor(@inject(TOKENS.settings) private readonly settings: ReloaderSettings) {}

  async load(files: readonly string[]): Promise<LoadResult[]> {
    this.channel ??= await openHookChannel(this.settings.root);
    const bumped: Array<[string, number]> = files.map((file) => [file, ++nextVersion]);
    for (const [file, version] of bumped) this.versions.set(file, version);
    await this.channel.sync({ versions: bumped });
    const results = await Promise.all(
      bumped.map(async ([file, version]): Promise<LoadResult> => {
        try {
          const url = `${pathToFileURL(file).href}?${VERSION_PARAM}=${version}`;
          const exports = (await import(url)) as Record<string, unknown>;
          return { file, ok: true, exports };
        } catch (error) {
          return { file, ok: false, error: toLoadError(error, file, this.settings.root) };
        }
      }),
    );
    this.recordEdges((await this.channel.sync({})).edges);
    return results;
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
