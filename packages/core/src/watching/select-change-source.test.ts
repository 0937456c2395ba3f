import { describe, expect, it } from 'vitest';
import { MemoryAuditSink } from '../audit/memory-audit-sink.js';
import { HotMcpError, isHotMcpError } from '../errors.js';
import type { ChangeBatch, ChangeSource, ChangeSourceOptions, FileListing } from '../ports/change-source.js';
import { waitUntil } from '../testing/wait-until.js';
import { watcherDied } from './fallback-change-source.js';
import {
  type NativeWatcherModule,
  type PollWatcherModule,
  selectChangeSource,
  type WatcherKind,
} from './select-change-source.js';

const settings: ChangeSourceOptions = { root: '/srv/tools', include: ['**/*.ts'], exclude: [] };

class Stub implements ChangeSource {
  onError: ((error: Error) => void) | undefined;
  options: unknown;
  constructor(
    readonly kind: string,
    private readonly refuse?: Error,
  ) {}
  async start(_onBatch: (batch: ChangeBatch) => void, onError?: (error: Error) => void): Promise<readonly string[]> {
    if (this.refuse) throw this.refuse;
    this.onError = onError;
    return [];
  }
  async stop(): Promise<void> {}
  rescan(): FileListing {
    return { files: new Map(), unreadable: [] };
  }
  stamp(): string {
    return '';
  }
}

/** A source whose start resolves before it watches: `watching()` resolves once `watch()` is called. */
class LateStub extends Stub {
  #watched = () => {};
  readonly #watching = new Promise<void>((resolve) => {
    this.#watched = resolve;
  });
  watching(): Promise<void> {
    return this.#watching;
  }
  watch(): void {
    this.#watched();
  }
}

function modules(options: { native?: Stub | false; poll?: Stub | false }) {
  const made: Stub[] = [];
  const native: NativeWatcherModule = {
    createNativeChangeSource(given) {
      const stub = options.native as Stub;
      stub.options = given;
      made.push(stub);
      return stub;
    },
  };
  const poll: PollWatcherModule = {
    createPollChangeSource(given) {
      const stub = options.poll as Stub;
      stub.options = given;
      made.push(stub);
      return stub;
    },
  };
  return {
    made,
    modules: {
      native: async () => (options.native ? native : undefined),
      poll: async () => (options.poll ? poll : undefined),
    },
  };
}

async function select(watcher: WatcherKind, options: { native?: Stub | false; poll?: Stub | false }) {
  const audit = new MemoryAuditSink();
  const lines: string[] = [];
  const { made, modules: loaded } = modules(options);
  const source = await selectChangeSource({
    watcher,
    settings,
    pollIntervalMs: 40,
    audit,
    modules: loaded,
    warn: (line) => lines.push(line),
  });
  return { source, audit, lines, made };
}

const eventsOf = (audit: MemoryAuditSink) => audit.events.map(({ event }) => event);

describe('selectChangeSource', () => {
  it("'auto' watches with the native source when it starts", async () => {
    const native = new Stub('native');
    const { source, audit, lines } = await select('auto', { native, poll: new Stub('poll') });
    await source.start(() => {});
    expect(audit.events).toMatchObject([{ event: 'watcher.started', watcher: 'native', root: settings.root }]);
    expect(lines).toEqual([]);
    expect(native.options).toEqual({ ...settings, awaitWatcher: false });
  });

  it("'auto' audits the native source as started once it watches, when its start resolves before", async () => {
    const native = new LateStub('native');
    const { source, audit } = await select('auto', { native, poll: new Stub('poll') });
    await source.start(() => {});
    expect(eventsOf(audit)).toEqual([]);
    native.watch();
    await waitUntil(() => audit.events.length > 0, { timeoutMs: 2000, what: 'watcher.started' });
    expect(audit.events).toMatchObject([{ event: 'watcher.started', watcher: 'native' }]);
    expect(source.watcher).toBe('native');
  });

  it("'auto' polls when the native source fails to begin watching after its start resolved, as a start's fallback", async () => {
    const native = new LateStub('native');
    const poll = new Stub('poll');
    const { source, audit, lines } = await select('auto', { native, poll });
    await source.start(() => {});
    native.onError?.(watcherDied('cannot load @parcel/watcher: No prebuild'));
    native.watch();
    await waitUntil(() => source.current === 'fallback', { timeoutMs: 2000, what: 'polling to take over' });
    expect(lines).toEqual([
      `hotmcp: native file watching is unavailable (cannot load @parcel/watcher: No prebuild); polling ${settings.root} instead\n`,
    ]);
    expect(audit.events).toMatchObject([
      { event: 'watcher.fallback', from: 'native', to: 'poll', phase: 'start' },
      { event: 'watcher.started', watcher: 'poll' },
    ]);
  });

  it("'native' waits for the native source's watcher at start", async () => {
    const native = new Stub('native');
    const { source } = await select('native', { native, poll: new Stub('poll') });
    await source.start(() => {});
    expect(native.options).toEqual(settings);
  });

  it("'auto' polls when the native source cannot start, says so once on stderr and audits it", async () => {
    const native = new Stub('native', new Error('inotify_add_watch failed: No space left on device'));
    const poll = new Stub('poll');
    const { source, audit, lines } = await select('auto', { native, poll });
    await source.start(() => {});
    expect(lines).toEqual([
      `hotmcp: native file watching is unavailable (inotify_add_watch failed: No space left on device); polling ${settings.root} instead\n`,
    ]);
    expect(eventsOf(audit)).toEqual(['watcher.fallback', 'watcher.started']);
    expect(audit.events[0]).toMatchObject({ from: 'native', to: 'poll', phase: 'start' });
    expect(audit.events[1]).toMatchObject({ watcher: 'poll' });
    expect(poll.options).toEqual({ ...settings, intervalMs: 40 });
  });

  it("'auto' replaces a native source that dies while watching with polling", async () => {
    const native = new Stub('native');
    const poll = new Stub('poll');
    const { source, audit, lines } = await select('auto', { native, poll });
    await source.start(() => {});
    native.onError?.(watcherDied('Error reading from inotify: Bad file descriptor'));
    await waitUntil(() => lines.length > 0, { timeoutMs: 2000, what: 'a line on stderr' });
    expect(lines).toEqual([
      `hotmcp: native file watching stopped (Error reading from inotify: Bad file descriptor); polling ${settings.root} instead\n`,
    ]);
    expect(eventsOf(audit)).toEqual(['watcher.started', 'watcher.fallback', 'watcher.started']);
  });

  it("'auto' polls, without a word, when @hotmcp/watcher-native is not installed", async () => {
    const { source, audit, lines } = await select('auto', { native: false, poll: new Stub('poll') });
    await source.start(() => {});
    expect(lines).toEqual([]);
    expect(audit.events).toMatchObject([{ event: 'watcher.started', watcher: 'poll' }]);
  });

  it("'poll' never loads the native watcher", async () => {
    const { source, made } = await select('poll', { native: new Stub('native'), poll: new Stub('poll') });
    await source.start(() => {});
    expect(made.map((stub) => stub.kind)).toEqual(['poll']);
  });

  it("'native' does not fall back: a source that cannot start rejects", async () => {
    const native = new Stub('native', new HotMcpError('HOTMCP_ERR_WATCHER_FAILED', 'cannot load @parcel/watcher'));
    const { source, made } = await select('native', { native, poll: new Stub('poll') });
    await expect(source.start(() => {})).rejects.toThrow('cannot load @parcel/watcher');
    expect(made.map((stub) => stub.kind)).toEqual(['native']);
  });

  it("'native' says on stderr and in the audit log when the native source dies", async () => {
    const native = new Stub('native');
    const { source, audit, lines } = await select('native', { native, poll: new Stub('poll') });
    await source.start(() => {});
    native.onError?.(watcherDied('gone'));
    await waitUntil(() => lines.length > 0, { timeoutMs: 2000, what: 'a line on stderr' });
    expect(lines).toEqual([`hotmcp: native file watching stopped (gone); ${settings.root} is no longer watched\n`]);
    expect(eventsOf(audit)).toEqual(['watcher.started', 'watcher.died']);
  });

  it('names the missing package with its own code and the install command', async () => {
    const codeAndMessage = async (watcher: WatcherKind, options: { native?: Stub | false; poll?: Stub | false }) => {
      try {
        await select(watcher, options);
      } catch (error) {
        return isHotMcpError(error) ? `${error.code}: ${error.message}` : String(error);
      }
      return 'no error';
    };
    expect(await codeAndMessage('native', { poll: new Stub('poll') })).toMatch(
      /^HOTMCP_ERR_WATCHER_MISSING: .*@hotmcp\/watcher-native/,
    );
    expect(await codeAndMessage('poll', { native: new Stub('native') })).toMatch(/@hotmcp\/watcher-poll/);
    expect(await codeAndMessage('auto', {})).toMatch(
      /@hotmcp\/watcher-native or @hotmcp\/watcher-poll; install them next to @hotmcp\/core: \w+ (add|install) @hotmcp\/watcher-native @hotmcp\/watcher-poll$/,
    );
  });
});
