/** Which local module imports which, to find everything a changed helper reaches. */
export class ImportGraph {
  private readonly imports = new Map<string, Set<string>>();

  /**
   * Record what `file` imports. The first report after a file is loaded
   * replaces its edges; later ones (dynamic imports) add to them.
   */
  setImports(file: string, children: Iterable<string>, merge = false): void {
    const existing = this.imports.get(file);
    if (merge && existing) {
      for (const child of children) existing.add(child);
    } else {
      this.imports.set(file, new Set(children));
    }
  }

  forget(file: string): void {
    this.imports.delete(file);
  }

  /** Every file that reaches one of `files` through imports, excluding the files themselves. */
  importersOf(files: Iterable<string>): Set<string> {
    const targets = new Set(files);
    const found = new Set<string>();
    let grew = true;
    while (grew) {
      grew = false;
      for (const [file, children] of this.imports) {
        if (found.has(file) || targets.has(file)) continue;
        for (const child of children) {
          if (targets.has(child) || found.has(child)) {
            found.add(file);
            grew = true;
            break;
          }
        }
      }
    }
    return found;
  }
}
