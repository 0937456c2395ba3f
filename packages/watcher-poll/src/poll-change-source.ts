import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { type ChangeBatch, type ChangeSource, type ChangeSourceOptions, HotMcpError } from '@hotmcp/core';
import fg from 'fast-glob';

/** Options of {@link PollChangeSource}. */
export interface PollChangeSourceOptions extends ChangeSourceOptions {
  /** Pause between the end of one scan and the start of the next, in milliseconds. Default 25. */
  intervalMs?: number;
}

const DEFAULT_INTERVAL_MS = 25;

/** Folders never reported, whatever the globs say. */
const ALWAYS_EXCLUDED = ['**/node_modules/**', '**/.git/**', '**/dist/**'];

type OnBatch = (batch: ChangeBatch) => void;
type OnError = (error: Error) => void;

/**
 * A `ChangeSource` that rescans the root every `intervalMs` with fast-glob and
 * compares each file's `mtimeMs`, `ctimeMs`, `size` and `ino`. No native code,
 * works on every filesystem (network mounts, containers, WSL) at the cost of a
 * scan per interval.
 *
 * Scans never overlap: the next one is scheduled when the previous finishes.
 * Symlinks are reported only when their real path is inside the root.
 */
export class PollChangeSource implements ChangeSource {
  readonly #root: string;
  readonly #include: string[];
  readonly #ignore: string[];
  readonly #intervalMs: number;

  /** Key per absolute path, from the last successful scan. */
  #known = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<unknown> | undefined;
  /** Bumped by every start and stop; a scan of an older generation emits nothing. */
  #generation = 0;
  #running = false;
  /** True while scans keep failing, so one failure streak is reported once. */
  #failing = false;

  constructor(options: PollChangeSourceOptions) {
    const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    if (!Number.isFinite(intervalMs) || intervalMs < 0) {
      throw new HotMcpError('HOTMCP_ERR_BAD_OPTION', `intervalMs must be a finite number >= 0, got ${intervalMs}`);
    }
    if (typeof options.root !== 'string' || !path.isAbsolute(options.root)) {
      throw new HotMcpError('HOTMCP_ERR_BAD_OPTION', `root must be an absolute path, got ${String(options.root)}`);
    }
    this.#root = path.resolve(options.root);
    this.#include = [...options.include];
    this.#ignore = [...ALWAYS_EXCLUDED, ...options.exclude];
    this.#intervalMs = intervalMs;
  }

  /** Scan once as the baseline, resolve with the files found, then poll until {@link stop}. */
  async start(onBatch: OnBatch, onError?: OnError): Promise<readonly string[]> {
    if (this.#running) {
      throw new HotMcpError('HOTMCP_ERR_WATCHER_FAILED', 'PollChangeSource is already started');
    }
    this.#running = true;
    this.#failing = false;
    const generation = ++this.#generation;
    const baseline = this.#scan();
    const tracked = baseline.catch(() => undefined);
    this.#inFlight = tracked;
    let files: Map<string, string>;
    try {
      files = await baseline;
    } catch (error) {
      if (generation === this.#generation) this.#running = false;
      throw error;
    } finally {
      if (this.#inFlight === tracked) this.#inFlight = undefined;
    }
    const found = [...files.keys()].sort();
    if (generation !== this.#generation) return found;
    this.#known = files;
    this.#schedule(generation, onBatch, onError);
    return found;
  }

  /** Stop polling and wait for a scan in progress. Idempotent. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#generation += 1;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const inFlight = this.#inFlight;
    if (inFlight !== undefined) await inFlight;
  }

  #schedule(generation: number, onBatch: OnBatch, onError: OnError | undefined): void {
    if (generation !== this.#generation) return;
    // Deliberately not unref()'d: a server that hot-reloads must keep polling.
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const tick = this.#tick(generation, onBatch, onError).finally(() => {
        if (this.#inFlight === tick) this.#inFlight = undefined;
        this.#schedule(generation, onBatch, onError);
      });
      this.#inFlight = tick;
    }, this.#intervalMs);
  }

  /** One rescan and at most one batch. Never rejects. */
  async #tick(generation: number, onBatch: OnBatch, onError: OnError | undefined): Promise<void> {
    let next: Map<string, string>;
    try {
      next = await this.#scan();
    } catch (error) {
      if (generation === this.#generation && !this.#failing) {
        this.#failing = true;
        report(onError, error);
      }
      return;
    }
    if (generation !== this.#generation) return;
    this.#failing = false;
    const batch = diff(this.#known, next);
    this.#known = next;
    if (batch.added.length === 0 && batch.changed.length === 0 && batch.removed.length === 0) return;
    try {
      onBatch(batch);
    } catch (error) {
      report(onError, error);
    }
  }

  /** Every file under the root the globs select, with its change key. */
  async #scan(): Promise<Map<string, string>> {
    const root = this.#root;
    try {
      const rootStats = await stat(root);
      if (!rootStats.isDirectory()) throw new Error(`${root} is not a directory`);
    } catch (cause) {
      // fast-glob silently returns nothing for a missing cwd, which would look like "every file removed".
      throw new HotMcpError('HOTMCP_ERR_WATCHER_FAILED', `cannot scan ${root}: ${messageOf(cause)}`, { cause });
    }

    // onlyFiles: false, because with followSymbolicLinks: false fast-glob drops every symlink,
    // including ones that resolve inside the root; files are picked below.
    const entries = await fg(this.#include, {
      cwd: root,
      ignore: this.#ignore,
      followSymbolicLinks: false,
      dot: false,
      onlyFiles: false,
      objectMode: true,
      unique: true,
    });

    const found = await Promise.all(
      entries.map(async (entry): Promise<[string, string] | undefined> => {
        if (entry.dirent.isDirectory()) return undefined;
        const file = path.resolve(root, entry.path);
        // Globs such as `../x/*.ts` match outside the root.
        if (!isInside(root, file)) return undefined;
        try {
          if (entry.dirent.isSymbolicLink() && !isInside(root, await realpath(file))) return undefined;
          const stats = await stat(file);
          if (!stats.isFile()) return undefined;
          return [file, `${stats.mtimeMs}:${stats.ctimeMs}:${stats.size}:${stats.ino}`];
        } catch {
          // Gone since the glob, a broken link or a loop: not there.
          return undefined;
        }
      }),
    );

    const files = new Map<string, string>();
    for (const item of found) if (item !== undefined) files.set(item[0], item[1]);
    return files;
  }
}

/** Make a {@link PollChangeSource}. */
export function createPollChangeSource(options: PollChangeSourceOptions): PollChangeSource {
  return new PollChangeSource(options);
}

function diff(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): ChangeBatch {
  const added: string[] = [];
  const changed: string[] = [];
  const removed: string[] = [];
  for (const [file, key] of after) {
    const old = before.get(file);
    if (old === undefined) added.push(file);
    else if (old !== key) changed.push(file);
  }
  for (const file of before.keys()) if (!after.has(file)) removed.push(file);
  return { added: added.sort(), changed: changed.sort(), removed: removed.sort() };
}

function isInside(root: string, file: string): boolean {
  const relative = path.relative(root, file);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

function report(onError: OnError | undefined, error: unknown): void {
  if (onError === undefined) return;
  try {
    onError(error instanceof Error ? error : new Error(messageOf(error)));
  } catch {
    // An error handler that throws must not stop the polling.
  }
}

function messageOf(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}
