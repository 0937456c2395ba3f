import { createHash } from 'node:crypto';
import { type FSWatcher, readdirSync, readFileSync, statSync, watch } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import type picomatchType from 'picomatch';

// Loaded when the watch starts, after the supervisor spawned the server: not on its start-up path.
const loadPicomatch = () => createRequire(import.meta.url)('picomatch') as typeof picomatchType;

/** Files whose change needs a fresh process: environment, manifest, lockfiles. */
export const DEFAULT_RESTART_ON: readonly string[] = [
  '.env',
  '.env.*',
  'package.json',
  'package-lock.json',
  'npm-shrinkwrap.json',
  'pnpm-lock.yaml',
  'yarn.lock',
  'bun.lock',
  'bun.lockb',
];

const EMPTY = 'empty';
const EMPTY_SETTLE_MS = 50;

/**
 * Watch the files matching `globs` (relative to `cwd`) and call `onChange`
 * with the file when its content really changed (a save of the same bytes,
 * or a touch, restarts nothing). Only the folders the globs name are
 * watched, each without recursion, so a large tree costs nothing. The events
 * of one save arrive together and are read as one after `settleMs` (default
 * 0: the next turn of the event loop, no fixed wait). A file read empty is
 * read again 50 ms later (a save that truncates, then writes); any other
 * save that lands in parts restarts once per part seen. A matching file
 * modified after `changedSince` (ms since the epoch), before the watch
 * began, counts as changed once.
 */
export function watchRestartFiles(
  cwd: string,
  globs: readonly string[],
  onChange: (file: string) => void,
  onError: (error: Error) => void,
  settleMs = 0,
  changedSince?: number,
): () => void {
  const root = resolve(cwd);
  const picomatch = loadPicomatch();
  const matchers = globs.map((glob) => picomatch(glob, { dot: true }));
  const matches = (file: string) => matchers.some((match) => match(relative(root, file)));
  const folders = new Set(globs.map((glob) => resolve(root, picomatch.scan(glob).base || '.')));
  const digests = new Map<string, string | undefined>();
  // The file's digest; `empty` for an empty file (often one in mid-save: truncated, not yet written).
  const digest = (file: string): string | undefined => {
    try {
      const bytes = readFileSync(file);
      return bytes.length === 0 ? EMPTY : createHash('sha1').update(bytes).digest('hex');
    } catch {
      return undefined;
    }
  };
  const timers = new Map<string, NodeJS.Timeout>();
  const watchers: FSWatcher[] = [];
  for (const folder of folders) {
    try {
      const watcher = watch(folder, { persistent: false }, (_event, name) => {
        if (!name) return;
        const file = join(folder, name.toString());
        if (!matches(file)) return;
        clearTimeout(timers.get(file));
        const settle = (ms: number, again: boolean) =>
          timers.set(
            file,
            setTimeout(() => {
              timers.delete(file);
              const now = digest(file);
              if (digests.get(file) === now) return;
              // Read empty: look once more a little later, so a save in two steps restarts once.
              if (now === EMPTY && again) return settle(EMPTY_SETTLE_MS, false);
              digests.set(file, now);
              onChange(file);
            }, ms).unref(),
          );
        settle(settleMs, true);
      });
      watcher.on('error', (error) => onError(error));
      watchers.push(watcher);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') onError(error as Error);
    }
  }
  // Baseline: what the files hold now, so only a real change restarts.
  for (const folder of folders) {
    let names: string[] = [];
    try {
      names = readdirSync(folder);
    } catch {
      continue;
    }
    for (const name of names) {
      const file = join(folder, name);
      if (!matches(file)) continue;
      digests.set(file, digest(file));
      if (changedSince !== undefined && modifiedAfter(file, changedSince)) queueMicrotask(() => onChange(file));
    }
  }
  return () => {
    for (const watcher of watchers) watcher.close();
    for (const timer of timers.values()) clearTimeout(timer);
  };
}

/** Modified between `time` and now (a time ahead of the clock, from an archive say, says nothing). */
export function modifiedAfter(file: string, time: number): boolean {
  try {
    const { mtimeMs } = statSync(file);
    return mtimeMs > time && mtimeMs <= Date.now();
  } catch {
    return false;
  }
}
