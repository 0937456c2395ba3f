import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { MemoryAuditSink } from '../audit/memory-audit-sink.js';
import { definePrompt, defineTool } from '../define.js';
import type { HotMcpError } from '../errors.js';
import type {
  ClientLogMessage,
  CommitResult,
  ListKind,
  PreparedChange,
  RegistryChange,
  ToolRegistryAdapter,
} from '../ports/tool-registry-adapter.js';
import { FakeRegistryAdapter } from '../testing/fake-registry-adapter.js';
import { createFanOutAdapter } from './fan-out-registry-adapter.js';

const shared = new WeakSet<PreparedChange>();

/** A fake that, like the SDK adapters, commits a change prepared by any adapter of its kind. */
class SharingFakeAdapter extends FakeRegistryAdapter {
  prepares = 0;
  override async prepare(change: RegistryChange): Promise<PreparedChange> {
    this.prepares++;
    const prepared = await super.prepare(change);
    shared.add(prepared);
    return prepared;
  }
  canCommit(prepared: PreparedChange): boolean {
    return shared.has(prepared);
  }
}

/** A sharing fake that, like the SDK adapters, can commit quietly and send its list_changed later. */
class DeferringFakeAdapter extends SharingFakeAdapter {
  /** The kinds of every list_changed sent, one array per send. */
  readonly sent: ListKind[][] = [];
  commitQuietly(prepared: PreparedChange): CommitResult {
    const result = super.commit(prepared);
    this.notifications -= result.notified.length;
    return result;
  }
  sendListChanged(kinds: readonly ListKind[]): void {
    this.sent.push([...kinds]);
    this.notifications += kinds.length;
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

/** A fake that counts prepares and shares nothing. */
class CountingFakeAdapter extends FakeRegistryAdapter {
  prepares = 0;
  override async prepare(change: RegistryChange): Promise<PreparedChange> {
    this.prepares++;
    return super.prepare(change);
  }
}

const tool = (name: string, reply = name) =>
  defineTool({ name, description: name, handler: () => ({ content: [{ type: 'text' as const, text: reply }] }) });

const apply = async (adapter: ToolRegistryAdapter, change: RegistryChange) =>
  adapter.commit(await adapter.prepare(change));

const names = (adapter: FakeRegistryAdapter) => [...adapter.entries.keys()].sort();

describe('FanOutRegistryAdapter', () => {
  it('sends a log message to every attached session, and keeps a session whose send throws', async () => {
    const fanOut = createFanOutAdapter({ catalog: new SharingFakeAdapter() });
    const received: Array<[number, ClientLogMessage]> = [];
    const sessions = [0, 1, 2].map((index) =>
      Object.assign(new SharingFakeAdapter(), {
        sendLog(message: ClientLogMessage) {
          if (index === 1) throw new Error('transport gone');
          received.push([index, message]);
        },
      }),
    );
    for (const session of sessions) await fanOut.attach(session);
    const message: ClientLogMessage = { level: 'error', logger: 'hotmcp', data: { module: 'echo.ts' } };

    fanOut.sendLog(message);

    expect(received).toEqual([
      [0, message],
      [2, message],
    ]);
    expect(fanOut.size).toBe(3);
  });

  it('commits each batch to the catalog and to every attached session', async () => {
    const fanOut = createFanOutAdapter({ catalog: new SharingFakeAdapter() });
    const sessions = [new SharingFakeAdapter(), new SharingFakeAdapter(), new SharingFakeAdapter()];
    for (const session of sessions) await fanOut.attach(session);

    expect(await apply(fanOut, { upsert: [tool('a'), tool('b')], remove: [] })).toEqual({ notified: ['tool'] });
    await apply(fanOut, { upsert: [], remove: [{ kind: 'tool', name: 'a' }] });

    for (const session of sessions) {
      expect(names(session)).toEqual(['tool:b']);
      expect(session.notifications).toBe(2);
    }
  });

  it('prepares a batch once for sessions that share prepared changes, whatever their number', async () => {
    const catalog = new SharingFakeAdapter();
    const fanOut = createFanOutAdapter({ catalog });
    const sessions = Array.from({ length: 50 }, () => new SharingFakeAdapter());
    for (const session of sessions) await fanOut.attach(session);
    const before = catalog.prepares;

    await apply(fanOut, { upsert: [tool('a')], remove: [] });

    expect(catalog.prepares - before).toBe(1);
    expect(sessions.every((session) => session.prepares === 0)).toBe(true);
    expect(sessions.every((session) => session.tool('a') !== undefined)).toBe(true);
  });

  it('prepares separately for a session adapter that cannot share a prepared change', async () => {
    const fanOut = createFanOutAdapter({ catalog: new SharingFakeAdapter() });
    const generic = new CountingFakeAdapter();
    await fanOut.attach(generic);
    const before = generic.prepares;

    await apply(fanOut, { upsert: [tool('a')], remove: [] });

    expect(generic.prepares - before).toBe(1);
    expect(names(generic)).toEqual(['tool:a']);
  });

  it('starts a new session from the current catalog', async () => {
    const fanOut = createFanOutAdapter({ catalog: new SharingFakeAdapter() });
    await apply(fanOut, { upsert: [tool('a'), tool('b')], remove: [] });
    const a2 = tool('a', 'a2');
    await apply(fanOut, { upsert: [a2], remove: [{ kind: 'tool', name: 'b' }] });

    const late = new SharingFakeAdapter();
    const lateGeneric = new CountingFakeAdapter();
    await fanOut.attach(late);
    await fanOut.attach(lateGeneric);

    for (const session of [late, lateGeneric]) {
      expect(names(session)).toEqual(['tool:a']);
      expect(session.tool('a')).toBe(a2);
    }
  });

  it('brings a session that attaches while a batch is in flight up to that batch', async () => {
    for (const Session of [SharingFakeAdapter, CountingFakeAdapter]) {
      const fanOut = createFanOutAdapter({ catalog: new SharingFakeAdapter() });
      await apply(fanOut, { upsert: [tool('a')], remove: [] });
      const prepared = await fanOut.prepare({ upsert: [tool('b')], remove: [{ kind: 'tool', name: 'a' }] });
      const late = new Session();
      await fanOut.attach(late);
      fanOut.commit(prepared);
      await expect.poll(() => names(late)).toEqual(['tool:b']);
    }
  });

  it('shows the engine the catalog server, with entries registered outside the reloader', async () => {
    const catalog = new SharingFakeAdapter().addForeignTool('static');
    const fanOut = createFanOutAdapter({ catalog });
    await apply(fanOut, { upsert: [tool('a')], remove: [] });
    expect(fanOut.list().tools.sort()).toEqual(['a', 'static']);
  });

  it('detaches a session whose commit fails, audits it, and still serves the others', async () => {
    const audit = new MemoryAuditSink();
    const failed: HotMcpError[] = [];
    const fanOut = createFanOutAdapter({
      catalog: new SharingFakeAdapter(),
      audit,
      onSessionFailed: (_adapter, error) => failed.push(error),
    });
    const [broken, healthy] = [new SharingFakeAdapter(), new SharingFakeAdapter()];
    await fanOut.attach(broken);
    await fanOut.attach(healthy);
    broken.failNextCommit = true;

    await apply(fanOut, { upsert: [tool('a')], remove: [] });
    await apply(fanOut, { upsert: [tool('b')], remove: [] });

    expect(names(healthy)).toEqual(['tool:a', 'tool:b']);
    expect(names(broken)).toEqual([]);
    expect(fanOut.size).toBe(1);
    expect(failed.map((error) => error.code)).toEqual(['HOTMCP_ERR_COMMIT_FAILED']);
    expect(audit.events.filter((event) => event.event === 'session.commit_failed')).toHaveLength(1);
  });

  it('detaches a session whose own prepare refuses the batch', async () => {
    const fanOut = createFanOutAdapter({ catalog: new SharingFakeAdapter() });
    const picky = new CountingFakeAdapter();
    picky.refuse.add('b');
    await fanOut.attach(picky);
    await apply(fanOut, { upsert: [tool('b')], remove: [] });
    expect(fanOut.size).toBe(0);
    expect(names(picky)).toEqual([]);
  });

  it('touches no session when the catalog commit fails', async () => {
    const catalog = new SharingFakeAdapter();
    const fanOut = createFanOutAdapter({ catalog });
    const session = new SharingFakeAdapter();
    await fanOut.attach(session);
    catalog.failNextCommit = true;
    const prepared = await fanOut.prepare({ upsert: [tool('a')], remove: [] });
    expect(() => fanOut.commit(prepared)).toThrow(/on purpose/);
    expect(names(session)).toEqual([]);
    expect(fanOut.size).toBe(1);
  });

  it('forgets detached sessions: the count returns to its baseline and they get no more batches', async () => {
    const fanOut = createFanOutAdapter({ catalog: new SharingFakeAdapter() });
    const sessions = Array.from({ length: 10 }, () => new SharingFakeAdapter());
    const detachers = [];
    for (const session of sessions) detachers.push(await fanOut.attach(session));
    expect(fanOut.size).toBe(10);
    for (const detach of detachers) detach();
    detachers[0]?.();
    expect(fanOut.size).toBe(0);
    await apply(fanOut, { upsert: [tool('a')], remove: [] });
    expect(sessions.every((session) => session.entries.size === 0)).toBe(true);
  });

  it('seeds a per-request server with the catalog without attaching it', async () => {
    const fanOut = createFanOutAdapter({ catalog: new SharingFakeAdapter() });
    await apply(fanOut, { upsert: [tool('a')], remove: [] });
    const once = new SharingFakeAdapter();
    await fanOut.seed(once);
    expect(names(once)).toEqual(['tool:a']);
    expect(fanOut.size).toBe(0);
  });

  it('tells the application what each batch notified', async () => {
    const notified: string[][] = [];
    const fanOut = createFanOutAdapter({
      catalog: new SharingFakeAdapter(),
      onCommitted: (result) => notified.push(result.notified),
    });
    await apply(fanOut, { upsert: [tool('a')], remove: [] });
    expect(notified).toEqual([['tool']]);
  });

  it('changes every session at once, then sends list_changed a slice of sessions per event-loop turn', async () => {
    const audit = new MemoryAuditSink();
    const fanOut = createFanOutAdapter({ catalog: new SharingFakeAdapter(), audit, notifySliceSize: 2 });
    const sessions = Array.from({ length: 5 }, () => new DeferringFakeAdapter());
    for (const session of sessions) await fanOut.attach(session);

    await apply(fanOut, { upsert: [tool('a')], remove: [] });

    expect(sessions.every((session) => names(session).join() === 'tool:a')).toBe(true);
    expect(sessions.map((session) => session.sent.length)).toEqual([0, 0, 0, 0, 0]);
    const idle = fanOut.idle();
    await turn();
    expect(sessions.map((session) => session.sent.length)).toEqual([1, 1, 0, 0, 0]);
    await idle;
    expect(sessions.map((session) => session.sent)).toEqual(Array.from({ length: 5 }, () => [['tool']]));
    await fanOut.idle();
    expect(audit.events.filter((event) => event.event === 'fanout.notified')).toEqual([
      expect.objectContaining({ sessions: 5, durationMs: expect.any(Number) }),
    ]);
  });

  it('sends one list_changed per batch in order, and none to a session detached before its turn', async () => {
    const fanOut = createFanOutAdapter({ catalog: new SharingFakeAdapter(), notifySliceSize: 1 });
    const [kept, leaving] = [new DeferringFakeAdapter(), new DeferringFakeAdapter()];
    await fanOut.attach(kept);
    const detach = await fanOut.attach(leaving);
    const prompt = definePrompt({ name: 'p', description: 'p', handler: () => ({ messages: [] }) });

    await apply(fanOut, { upsert: [tool('a')], remove: [] });
    await apply(fanOut, { upsert: [prompt], remove: [] });
    await apply(fanOut, { upsert: [tool('b')], remove: [] });
    detach();
    for (let index = 0; index < 4; index++) await turn();

    expect(kept.sent).toEqual([['tool'], ['prompt'], ['tool']]);
    expect(names(kept)).toEqual(['prompt:p', 'tool:a', 'tool:b']);
    expect(leaving.sent).toEqual([]);
    expect(names(leaving)).toEqual(['prompt:p', 'tool:a', 'tool:b']);
  });

  it('audits a session whose deferred send throws, keeps it, and tells the others', async () => {
    const audit = new MemoryAuditSink();
    const fanOut = createFanOutAdapter({ catalog: new SharingFakeAdapter(), audit });
    const broken = Object.assign(new DeferringFakeAdapter(), {
      sendListChanged() {
        throw new Error('stream gone');
      },
    });
    const healthy = new DeferringFakeAdapter();
    await fanOut.attach(broken);
    await fanOut.attach(healthy);

    await apply(fanOut, { upsert: [tool('a')], remove: [] });
    await fanOut.idle();

    expect(healthy.sent).toEqual([['tool']]);
    expect(fanOut.size).toBe(2);
    expect(audit.events.filter((event) => event.event === 'fanout.notify_failed')).toEqual([
      expect.objectContaining({ error: expect.stringContaining('stream gone') }),
    ]);
  });

  it('refuses a notify slice size that is not a positive integer', () => {
    for (const notifySliceSize of [0, -1, 1.5, Number.NaN]) {
      expect(() => createFanOutAdapter({ catalog: new SharingFakeAdapter(), notifySliceSize })).toThrow(
        expect.objectContaining({ code: 'HOTMCP_ERR_BAD_OPTION' }),
      );
    }
  });

  it('refuses to commit a change it did not prepare', () => {
    const fanOut = createFanOutAdapter({ catalog: new SharingFakeAdapter() });
    expect(() => fanOut.commit({ change: { upsert: [], remove: [] } })).toThrow(/own prepare/);
  });

  it('refuses a change another fan-out prepared: a prepared change carries its own sessions’ plans', async () => {
    const fanOut = createFanOutAdapter({ catalog: new SharingFakeAdapter() });
    const other = createFanOutAdapter({ catalog: new SharingFakeAdapter() });
    const prepared = await other.prepare({ upsert: [tool('a')], remove: [] });
    expect(() => fanOut.commit(prepared)).toThrow(/own prepare/);
    expect(other.commit(prepared)).toEqual({ notified: ['tool'] });
  });
});

describe('FanOutRegistryAdapter memory', () => {
  it('keeps no reference to a detached session, whichever path its batches took', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const fanOut = createFanOutAdapter({ catalog: new SharingFakeAdapter() });
    const refs: Array<WeakRef<object>> = [];
    await (async () => {
      const detachers: Array<() => void> = [];
      for (let index = 0; index < 20; index++) {
        const session = index % 2 === 0 ? new SharingFakeAdapter() : new CountingFakeAdapter();
        refs.push(new WeakRef(session));
        detachers.push(await fanOut.attach(session));
      }
      await apply(fanOut, { upsert: [tool('a')], remove: [] });
      for (const detach of detachers) detach();
    })();
    await apply(fanOut, { upsert: [tool('b')], remove: [] });
    for (let attempt = 0; attempt < 10 && refs.some((ref) => ref.deref() !== undefined); attempt++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    expect(refs.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
    expect(fanOut.size).toBe(0);
  });
});

describe('FanOutRegistryAdapter: capture', () => {
  it('forwards capture() to the catalog adapter, and offers none when the catalog has none', async () => {
    const plain = createFanOutAdapter({ catalog: new FakeRegistryAdapter() });
    expect(plain.capture).toBeUndefined();
    const catalog = new FakeRegistryAdapter();
    const calls: unknown[] = [];
    const definitions = [defineTool({ name: 'captured', handler: () => ({ content: [] }) })];
    Object.assign(catalog, {
      capture: async (register: unknown, options: unknown) => {
        calls.push([register, options]);
        return { definitions };
      },
    });
    const fanOut = createFanOutAdapter({ catalog });
    const register = () => {};
    const options = { file: '/root/a.ts', root: '/root', signal: new AbortController().signal };
    expect(await fanOut.capture?.(register, options)).toEqual({ definitions });
    expect(calls).toEqual([[register, options]]);
  });
});
