import { createHash } from 'node:crypto';
import { type FSWatcher, readdirSync, readFileSync, watch } from 'node:fs';
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

/**
 * Watch the files matching `globs` (relative to `cwd`) and call `onChange`
 * with the file when its content really changed (a save of the same bytes,
 * or a touch, restarts nothing). Only the folders the globs name are
 * watched, each without recursion, so a large tree costs nothing.
 */
export function watchRestartFiles(
  cwd: string,
  globs: readonly string[],
  onChange: (file: string) => void,
  onError: (error: Error) => void,
  settleMs = 50,
): () => void {
  const root = resolve(cwd);
  const picomatch = loadPicomatch();
  const matchers = globs.map((glob) => picomatch(glob, { dot: true }));
  const matches = (file: string) => matchers.some((match) => match(relative(root, file)));
  const folders = new Set(globs.map((glob) => resolve(root, picomatch.scan(glob).base || '.')));
  const digests = new Map<string, string | undefined>();
  const digest = (file: string): string | undefined => {
    try {
      return createHash('sha1').update(readFileSync(file)).digest('hex');
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
        timers.set(
          file,
          setTimeout(() => {
            timers.delete(file);
            const now = digest(file);
            if (digests.get(file) === now) return;
            digests.set(file, now);
            onChange(file);
          }, settleMs).unref(),
        );
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
      if (matches(file)) digests.set(file, digest(file));
    }
  }
  return () => {
    for (const watcher of watchers) watcher.close();
    for (const timer of timers.values()) clearTimeout(timer);
  };
}
