/**
 * `import.meta.hot` of one version of a module under `hotmcp dev` (absent
 * under plain `node`, so `import.meta.hot?.data` is safe to write anywhere).
 */
export interface HotContext {
  /** One object per file, handed from each version to the next: keep what must survive a reload here. */
  readonly data: Record<string, unknown>;
  /** Run `callback` when this version is replaced by a new one that was applied (close a timer, a socket). */
  dispose(callback: (data: Record<string, unknown>) => void | Promise<void>): void;
}

interface Version {
  readonly context: HotContext;
  readonly callbacks: Array<(data: Record<string, unknown>) => void | Promise<void>>;
}

/** The hot contexts of every evaluated version, per file. */
export class HotContexts {
  private readonly data = new Map<string, Record<string, unknown>>();
  private readonly versions = new Map<string, Version[]>();

  /** A context for a new version of `file`. */
  create(file: string): HotContext {
    let data = this.data.get(file);
    if (!data) {
      data = {};
      this.data.set(file, data);
    }
    const callbacks: Version['callbacks'] = [];
    const context: HotContext = {
      data,
      dispose(callback) {
        if (typeof callback === 'function') callbacks.push(callback);
      },
    };
    const list = this.versions.get(file) ?? [];
    list.push({ context, callbacks });
    this.versions.set(file, list);
    return context;
  }

  /** Every version but the newest of each file, forgotten here: the ones a successful evaluation replaced. */
  takeReplaced(): Array<() => Promise<void>> {
    const replaced: Array<() => Promise<void>> = [];
    for (const [file, list] of this.versions) {
      const data = this.data.get(file) as Record<string, unknown>;
      for (const version of list.splice(0, list.length - 1)) {
        replaced.push(async () => {
          for (const callback of version.callbacks) await callback(data);
        });
      }
    }
    return replaced;
  }
}
