import { HotMcpError } from '../errors.js';
import { installCommand } from '../install-command.js';
import type { AuditSink } from '../ports/audit-sink.js';
import type { ChangeSource, ChangeSourceOptions } from '../ports/change-source.js';
import { FallbackChangeSource, type FallbackEvent } from './fallback-change-source.js';

/** Which watcher `createReloader` uses: OS file events, polling, or events with polling as the fallback. */
export type WatcherKind = 'auto' | 'native' | 'poll';

export const WATCHER_KINDS: readonly WatcherKind[] = ['auto', 'native', 'poll'];

/** What `@hotmcp/watcher-native` exports that core uses. */
export interface NativeWatcherModule {
  /**
   * Make an OS-event change source for the options. `awaitWatcher: false` (given when polling can take over):
   * its `start` may resolve after its first scan, before its OS watcher is loaded and watching.
   */
  createNativeChangeSource(options: ChangeSourceOptions & { awaitWatcher?: boolean }): ChangeSource;
}

/** What `@hotmcp/watcher-poll` exports that core uses. */
export interface PollWatcherModule {
  /** Make a polling change source for the options. */
  createPollChangeSource(options: ChangeSourceOptions & { intervalMs?: number }): ChangeSource;
}

/** How to load the watcher packages; each resolves undefined when its package is not installed. */
export interface WatcherModules {
  /** Load `@hotmcp/watcher-native`. */
  native(): Promise<NativeWatcherModule | undefined>;
  /** Load `@hotmcp/watcher-poll`. */
  poll(): Promise<PollWatcherModule | undefined>;
}

/** Input of {@link selectChangeSource}. */
export interface ChangeSourceSelection {
  /** Which watcher was asked for. */
  watcher: WatcherKind;
  /** What to watch. */
  settings: ChangeSourceOptions;
  /** The polling interval (minimum), when polling. */
  pollIntervalMs?: number;
  /** Where a fallback to polling is recorded (`watcher.fallback`). */
  audit: AuditSink;
  /** How to load the watcher packages. */
  modules: WatcherModules;
  /** Where the one-line notice of a fallback goes. Default: stderr (never stdout). */
  warn?: (line: string) => void;
}

const NATIVE = '@hotmcp/watcher-native';
const POLL = '@hotmcp/watcher-poll';

/** A watcher package is not installed: `details.missing` lists what to install. */
function missing(what: string, packages: string[]): HotMcpError {
  return new HotMcpError(
    'HOTMCP_ERR_WATCHER_MISSING',
    `${what} needs ${packages.join(' or ')}; install ${packages.length > 1 ? 'them' : 'it'} next to @hotmcp/core: ${installCommand(packages)}`,
    { details: { missing: packages } },
  );
}

/**
 * Pick the change source for a reloader:
 *
 * - `poll`: `@hotmcp/watcher-poll`.
 * - `native`: `@hotmcp/watcher-native`; if it cannot start, `start` rejects;
 *   if it dies while watching, that is reported (stderr, audit `watcher.died`)
 *   and nothing replaces it.
 * - `auto`: native when the package is installed, with polling as the
 *   fallback: when the native watcher cannot start (its binary does not load,
 *   subscribing fails with ENOSPC, …) or dies while watching, polling takes
 *   over; that is said once on stderr and audited as `watcher.fallback`.
 *   The native source's start does not wait for its OS watcher here (the
 *   first scan is enough to start; the watcher follows, and a failure of it
 *   is the start's fallback).
 *   Without `@hotmcp/watcher-native`, polling.
 *
 * Every choice is audited as `watcher.started` with `watcher: 'native' | 'poll'`;
 * the returned source's `watcher` says which one is watching.
 */
export async function selectChangeSource(selection: ChangeSourceSelection): Promise<FallbackChangeSource> {
  const { watcher, settings, audit } = selection;
  const warn = selection.warn ?? ((line: string) => process.stderr.write(line));
  const options: ChangeSourceOptions = { root: settings.root, include: settings.include, exclude: settings.exclude };
  const pollOptions = {
    ...options,
    ...(selection.pollIntervalMs !== undefined && { intervalMs: selection.pollIntervalMs }),
  };

  const native = watcher === 'poll' ? undefined : await selection.modules.native().catch(() => undefined);
  const poll = watcher === 'native' ? undefined : await selection.modules.poll().catch(() => undefined);
  if (watcher === 'native' && !native) throw missing("watcher: 'native'", [NATIVE]);
  if (watcher === 'poll' && !poll) throw missing("watcher: 'poll'", [POLL]);
  if (!native && !poll) throw missing('Watching files', [NATIVE, POLL]);

  const started = (kind: 'native' | 'poll') => audit.record('watcher.started', { watcher: kind, root: settings.root });
  if (!native) {
    return new FallbackChangeSource({
      primary: (poll as PollWatcherModule).createPollChangeSource(pollOptions),
      names: { primary: 'poll' },
      onStarted: () => started('poll'),
    });
  }
  return new FallbackChangeSource({
    primary: native.createNativeChangeSource(poll ? { ...options, awaitWatcher: false } : options),
    names: { primary: 'native', fallback: 'poll' },
    ...(poll && { fallback: () => poll.createPollChangeSource(pollOptions) }),
    onStarted: (which) => started(which === 'primary' ? 'native' : 'poll'),
    onFallback: (event: FallbackEvent) => {
      const reason = event.reason.message;
      if (event.replaced) {
        warn(
          `hotmcp: native file watching ${event.phase === 'start' ? 'is unavailable' : 'stopped'} (${reason}); polling ${settings.root} instead\n`,
        );
        audit.record('watcher.fallback', { from: 'native', to: 'poll', phase: event.phase, reason });
      } else {
        warn(`hotmcp: native file watching stopped (${reason}); ${settings.root} is no longer watched\n`);
        audit.record('watcher.died', { watcher: 'native', phase: event.phase, reason });
      }
    },
  });
}
