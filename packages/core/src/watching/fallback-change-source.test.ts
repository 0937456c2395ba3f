import { describe, expect, it } from 'vitest';
import { HotMcpError } from '../errors.js';
import type { ChangeBatch, ChangeSource, FileListing } from '../ports/change-source.js';
import { waitUntil } from '../testing/wait-until.js';
import {
  createFallbackChangeSource,
  type FallbackEvent,
  isFatalWatcherError,
  watcherDied,
} from './fallback-change-source.js';

/** A source driven by hand, with an error channel, that can refuse to start. */
class ScriptedSource implements ChangeSource {
  started = 0;
  stopped = 0;
  onBatch: ((batch: ChangeBatch) => void) | undefined;
  onError: ((error: Error) => void) | undefined;

  constructor(
    private readonly files: string[],
    private readonly refuse?: Error,
  ) {}

  async start(onBatch: (batch: ChangeBatch) => void, onError?: (error: Error) => void): Promise<readonly string[]> {
    if (this.refuse) throw this.refuse;
    this.started++;
    this.onBatch = onBatch;
    this.onError = onError;
    return this.files;
  }

  async stop(): Promise<void> {
    this.stopped++;
  }

  rescan(): FileListing {
    return { files: new Map(this.files.map((file) => [file, `${file}@${this.files.length}`])), unreadable: [] };
  }

  stamp(file: string): string {
    return this.files.includes(file) ? `${file}@${this.files.length}` : '';
  }
}

function collect() {
  const batches: ChangeBatch[] = [];
  const errors: Error[] = [];
  const events: FallbackEvent[] = [];
  const started: string[] = [];
  return {
    batches,
    errors,
    events,
    started,
    onBatch: (batch: ChangeBatch) => batches.push(batch),
    onError: (error: Error) => errors.push(error),
    onFallback: (event: FallbackEvent) => events.push(event),
    onStarted: (which: string) => started.push(which),
  };
}

describe('FallbackChangeSource', () => {
  it('uses the primary when it starts', async () => {
    const primary = new ScriptedSource(['/r/a.ts']);
    const fallback = new ScriptedSource(['/r/a.ts']);
    const seen = collect();
    const source = createFallbackChangeSource({ primary, fallback: () => fallback, ...seen });
    expect(await source.start(seen.onBatch, seen.onError)).toEqual(['/r/a.ts']);
    primary.onBatch?.({ added: ['/r/b.ts'], changed: [], removed: [] });
    expect(seen.batches).toEqual([{ added: ['/r/b.ts'], changed: [], removed: [] }]);
    expect([source.current, fallback.started, seen.events, seen.started]).toEqual(['primary', 0, [], ['primary']]);
  });

  it('starts the fallback when the primary cannot start, and says so once', async () => {
    const refusal = new HotMcpError('HOTMCP_ERR_WATCHER_FAILED', 'inotify_add_watch failed: No space left on device');
    const primary = new ScriptedSource([], refusal);
    const fallback = new ScriptedSource(['/r/a.ts']);
    const seen = collect();
    const source = createFallbackChangeSource({ primary, fallback: () => fallback, ...seen });
    expect(await source.start(seen.onBatch, seen.onError)).toEqual(['/r/a.ts']);
    expect(seen.events).toEqual([{ reason: refusal, phase: 'start', replaced: true }]);
    expect([source.current, seen.started]).toEqual(['fallback', ['fallback']]);
  });

  it('rejects when the primary cannot start and there is no fallback', async () => {
    const primary = new ScriptedSource([], new Error('no binary'));
    const source = createFallbackChangeSource({ primary });
    await expect(source.start(() => {})).rejects.toThrow('no binary');
  });

  it('replaces a primary that dies while watching, and emits what differs from the files known', async () => {
    const primary = new ScriptedSource(['/r/a.ts', '/r/b.ts']);
    const fallback = new ScriptedSource(['/r/a.ts', '/r/c.ts', '/r/d.ts']);
    const seen = collect();
    const source = createFallbackChangeSource({ primary, fallback: () => fallback, ...seen });
    await source.start(seen.onBatch, seen.onError);
    primary.onBatch?.({ added: ['/r/c.ts'], changed: [], removed: [] });
    const death = watcherDied('inotify read failed');
    primary.onError?.(death);
    await waitUntil(() => seen.batches.length === 2, { timeoutMs: 2000 });
    expect(seen.batches[1]).toEqual({ added: ['/r/d.ts'], changed: ['/r/a.ts', '/r/c.ts'], removed: ['/r/b.ts'] });
    expect(seen.errors).toEqual([death]);
    expect(seen.events).toEqual([{ reason: death, phase: 'runtime', replaced: true }]);
    expect([primary.stopped, source.current, seen.started]).toEqual([1, 'fallback', ['primary', 'fallback']]);
    // The dead primary is not listened to any more.
    primary.onBatch?.({ added: ['/r/zombie.ts'], changed: [], removed: [] });
    expect(seen.batches).toHaveLength(2);
    await source.stop();
    expect(fallback.stopped).toBe(1);
  });

  it('answers rescan() and stamp() from the source watching now', async () => {
    const primary = new ScriptedSource(['/r/a.ts']);
    const fallback = new ScriptedSource(['/r/a.ts', '/r/b.ts']);
    const seen = collect();
    const source = createFallbackChangeSource({ primary, fallback: () => fallback, ...seen });
    await source.start(seen.onBatch, seen.onError);
    expect([...source.rescan().files]).toEqual([['/r/a.ts', '/r/a.ts@1']]);
    expect(source.stamp('/r/a.ts')).toBe('/r/a.ts@1');
    primary.onError?.(watcherDied('inotify read failed'));
    await waitUntil(() => source.current === 'fallback', { timeoutMs: 2000 });
    expect([...source.rescan().files.keys()]).toEqual(['/r/a.ts', '/r/b.ts']);
    expect(source.stamp('/r/a.ts')).toBe('/r/a.ts@2');
    await source.stop();
  });

  it('passes errors that are not fatal through and keeps the primary', async () => {
    const primary = new ScriptedSource([]);
    const seen = collect();
    const source = createFallbackChangeSource({ primary, fallback: () => new ScriptedSource([]), ...seen });
    await source.start(seen.onBatch, seen.onError);
    const skipped = new HotMcpError('HOTMCP_ERR_WATCHER_FAILED', 'cannot read /r/locked: EACCES; skipped');
    primary.onError?.(skipped);
    expect(seen.errors).toEqual([skipped]);
    expect([source.current, seen.events]).toEqual(['primary', []]);
  });

  it('says a primary that died was not replaced when there is no fallback', async () => {
    const primary = new ScriptedSource([]);
    const seen = collect();
    const source = createFallbackChangeSource({ primary, ...seen });
    await source.start(seen.onBatch, seen.onError);
    const death = watcherDied('gone');
    primary.onError?.(death);
    await waitUntil(() => seen.events.length === 1, { timeoutMs: 2000 });
    expect(seen.events).toEqual([{ reason: death, phase: 'runtime', replaced: false }]);
    expect(source.current).toBeUndefined();
  });

  it('stops a source that finishes starting after stop()', async () => {
    const primary = new ScriptedSource(['/r/a.ts']);
    const source = createFallbackChangeSource({ primary });
    const starting = source.start(() => {});
    await source.stop();
    await starting;
    expect([primary.started, primary.stopped, source.current]).toEqual([1, 1, undefined]);
  });

  it('names the watching source: the primary, then the fallback that replaced it', async () => {
    const primary = new ScriptedSource(['/r/a.ts']);
    const fallback = new ScriptedSource(['/r/a.ts']);
    const seen = collect();
    const names = { primary: 'native', fallback: 'poll' };
    const source = createFallbackChangeSource({ primary, fallback: () => fallback, names, ...seen });
    expect(source.watcher).toBeUndefined();
    await source.start(seen.onBatch, seen.onError);
    expect(source.watcher).toBe('native');
    primary.onError?.(watcherDied('inotify read failed'));
    await waitUntil(() => seen.started.length === 2, { timeoutMs: 2000 });
    expect(source.watcher).toBe('poll');
    await source.stop();
    expect(source.watcher).toBe('poll');
  });

  it('names the fallback when the primary cannot start, and none once a primary died unreplaced', async () => {
    const names = { primary: 'native', fallback: 'poll' };
    const refused = createFallbackChangeSource({
      primary: new ScriptedSource([], new Error('no binary')),
      fallback: () => new ScriptedSource([]),
      names,
    });
    await refused.start(() => {});
    expect(refused.watcher).toBe('poll');
    const primary = new ScriptedSource([]);
    const seen = collect();
    const alone = createFallbackChangeSource({ primary, names, ...seen });
    await alone.start(seen.onBatch, seen.onError);
    primary.onError?.(watcherDied('gone'));
    await waitUntil(() => seen.events.length === 1, { timeoutMs: 2000 });
    expect(alone.watcher).toBe('none');
  });

  it('recognises fatal watcher errors by code and details, not by class', () => {
    expect(isFatalWatcherError(watcherDied('x'))).toBe(true);
    expect(isFatalWatcherError(new HotMcpError('HOTMCP_ERR_WATCHER_FAILED', 'x'))).toBe(false);
    expect(isFatalWatcherError(new Error('x'))).toBe(false);
  });
});
