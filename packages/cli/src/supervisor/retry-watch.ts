import type { ChangeSource } from '@hotmcp/core';
import { EXCLUDE, INCLUDE, WATCHER_MODULES, watcherOf } from '../dev/watched-files.js';
import { modifiedAfter } from './restart-watch.js';

/**
 * Watch for a change that may end a crash loop: call `onChange` with the file when one of the project's
 * files changes, or changed after `since` (ms since the epoch: when the process ended) before the watch
 * began; `onWatching` once it watches. Returns a function that stops watching (its promise, if it returns one, settles
 * once the watcher has let go: the supervisor waits for it before it closes).
 */
export type RetryWatch = (
  onChange: (file: string) => void,
  since: number,
  onWatching?: () => void,
) => () => void | Promise<void>;

/**
 * A {@link RetryWatch} on the files `hotmcp dev` watches under `root`, with the watcher it would use
 * (`watcher`, else HOTMCP_WATCHER, else OS events with polling where they fail). @hotmcp/core and the
 * watcher are loaded only when a crash loop waits: the supervisor's start loads neither. A watch that cannot start says nothing: the loop's timer
 * still retries.
 */
export function watchProjectForRetry(root: string, watcher?: 'auto' | 'native' | 'poll'): RetryWatch {
  return (onChange, since, onWatching) =>
    watchProject(root, watcher, (files) => onChange(files[0] as string), since, onWatching);
}

/**
 * Watch the files `hotmcp dev` watches under `root`: `onChange` gets the files of each change (and, once it
 * watches, those modified after `since`, epoch ms). Returns a function that stops watching, resolving once the
 * watcher has let go (a process that exits while its native watcher still subscribes is aborted by Node).
 */
export function watchProject(
  root: string,
  watcher: 'auto' | 'native' | 'poll' | undefined,
  onChange: (files: string[]) => void,
  since: number,
  onWatching?: () => void,
): () => Promise<void> {
  let stopped = false;
  let source: ChangeSource | undefined;
  const changed = (files: string[]) => {
    if (!stopped && files.length > 0) onChange(files);
  };
  const started = (async () => {
    const { resolveSettings, selectChangeSource } = await import('@hotmcp/core');
    if (stopped) return;
    source = await selectChangeSource({
      watcher: watcherOf(watcher),
      settings: resolveSettings({ root, include: INCLUDE, exclude: EXCLUDE }),
      audit: { record() {}, close: async () => {} },
      modules: WATCHER_MODULES,
      warn: () => {},
    });
    if (stopped) return;
    const files = await source.start(({ added, changed: edited, removed }) =>
      changed([...edited, ...added, ...removed]),
    );
    await source.watching?.();
    // Saved between the end and the watch: its time says so.
    changed(files.filter((file) => modifiedAfter(file, since)));
    if (!stopped) onWatching?.();
  })().catch(() => {});
  return async () => {
    stopped = true;
    await started;
    await source?.stop().catch(() => {});
  };
}
