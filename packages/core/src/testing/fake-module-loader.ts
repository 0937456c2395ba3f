import type { HotMcpError } from '../errors.js';
import { ImportGraph } from '../loader/import-graph.js';
import type { LoadResult, ModuleLoader } from '../ports/module-loader.js';

type ModuleBody = Record<string, unknown> | HotMcpError | (() => Record<string, unknown>);

/**
 * A ModuleLoader over an in-memory map of files: set what a file exports (or
 * the error loading it throws) with `set`, and its imports with `imports`.
 */
export class FakeModuleLoader implements ModuleLoader {
  /** The files of each `load` call, in order. */
  readonly loads: string[][] = [];
  /** When set, `load` waits for it after recording the call: lets a test hold a reload in flight. */
  gate: Promise<void> | undefined;
  private readonly files = new Map<string, ModuleBody>();
  private readonly graph = new ImportGraph();

  /** Set what loading `file` gives: its exports, a function computing them at load, or the error to fail with. */
  set(file: string, body: ModuleBody): this {
    this.files.set(file, body);
    return this;
  }

  /** Set the local modules `file` imports, for the import graph. */
  imports(file: string, children: string[]): this {
    this.graph.setImports(file, children);
    return this;
  }

  async load(files: readonly string[]): Promise<LoadResult[]> {
    this.loads.push([...files]);
    await this.gate;
    return files.map((file): LoadResult => {
      const body = this.files.get(file);
      if (body === undefined) return { file, ok: true, exports: {} };
      if (body instanceof Error) return { file, ok: false, error: body };
      return { file, ok: true, exports: typeof body === 'function' ? body() : { ...body } };
    });
  }

  importersOf(files: Iterable<string>): Set<string> {
    return this.graph.importersOf(files);
  }

  forget(files: Iterable<string>): void {
    for (const file of files) this.graph.forget(file);
  }
}
