import type { ChangeBatch, ChangeSource, FileListing } from '@hotmcp/core';
import { currentStamp, listFiles, type PathFilter } from '@hotmcp/core/watching';

/**
 * The change source of `hotmcp dev`: its baseline is the entry's import
 * graph as the first evaluation found it, known at once, so the live server
 * connects without waiting for the watcher's first scan of the project; the
 * watcher (made by `create` once `after` settles, so loading it does not
 * hold up the server's first answers) reports every later change (and, once
 * it is up, the files edited before it was).
 */
export class GraphChangeSource implements ChangeSource {
  private inner: ChangeSource | undefined;
  private starting: Promise<void> | undefined;
  private creating = false;
  private stopped = false;

  constructor(
    private readonly create: () => Promise<ChangeSource>,
    private readonly baseline: () => Iterable<string>,
    /** Files of the baseline edited since they were read: told once the watcher is up, since it did not see them. */
    private readonly editedSinceRead: () => string[],
    /** What is watched: lists the root while the watcher is not up yet. */
    private readonly filter: PathFilter,
    /** The watcher is made once this settles. */
    private readonly after: Promise<unknown> = Promise.resolve(),
    /**
     * Where the files edited before the watcher was up go: straight to the
     * engine (a coalescing wrapper hashed them at start, after the edit, and
     * would take them for unchanged). Default: the batch callback.
     */
    private readonly missed?: (files: string[]) => void,
  ) {}

  private onError: ((error: Error) => void) | undefined;

  async start(onBatch: (batch: ChangeBatch) => void, onError?: (error: Error) => void): Promise<readonly string[]> {
    this.onError = onError;
    this.starting ??= this.after
      .then(() => {
        if (this.stopped) return undefined;
        this.creating = true;
        return this.create();
      })
      .then(async (inner) => {
        if (!inner) return;
        this.inner = inner;
        await inner.start(onBatch, onError);
        const missed = this.editedSinceRead();
        if (missed.length === 0) return;
        if (this.missed) this.missed(missed);
        else onBatch({ added: [], changed: missed, removed: [] });
      })
      .catch((error: unknown) => onError?.(error instanceof Error ? error : new Error(String(error))));
    return [...this.baseline()].sort();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.inner === undefined && !this.creating) return; // never started watching: nothing to stop
    await this.starting;
    await this.inner?.stop();
  }

  rescan(): FileListing {
    return this.inner ? this.inner.rescan() : listFiles(this.filter, this.onError);
  }

  stamp(file: string): string {
    return this.inner ? this.inner.stamp(file) : currentStamp(file);
  }
}
