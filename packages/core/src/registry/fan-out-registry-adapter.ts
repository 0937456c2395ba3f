import { assertAdapter } from '../adapter-contract.js';
import { type AnyDefinition, keyOf } from '../define.js';
import { HotMcpError, isHotMcpError } from '../errors.js';
import type { AuditSink } from '../ports/audit-sink.js';
import type {
  CaptureOptions,
  CaptureResult,
  ClientLogMessage,
  CommitResult,
  ListKind,
  PreparedChange,
  RegisterFunction,
  RegistryChange,
  RegistryEntryRef,
  RegistrySnapshot,
  ToolRegistryAdapter,
} from '../ports/tool-registry-adapter.js';
import { PacedQueue } from './paced-queue.js';

/** An adapter with the port's optional deferred-list_changed capability. */
type DeferredNotifyAdapter = ToolRegistryAdapter &
  Required<Pick<ToolRegistryAdapter, 'commitQuietly' | 'sendListChanged'>>;

function defersNotify(adapter: ToolRegistryAdapter): adapter is DeferredNotifyAdapter {
  return adapter.commitQuietly !== undefined && adapter.sendListChanged !== undefined;
}

/** Whether `adapter` takes the change another adapter prepared (the port's optional shared-plan capability). */
function sharesPlans(adapter: ToolRegistryAdapter, prepared: PreparedChange): boolean {
  return adapter.canCommit?.(prepared) === true;
}

/** Options of {@link createFanOutAdapter}. */
export interface FanOutAdapterOptions {
  /**
   * The adapter of the catalog server: an McpServer built the way every
   * session's is (same static entries), never connected. Each batch is
   * prepared (checked) once, on it, and committed to it first; it is what
   * `list()` shows the engine.
   */
  catalog: ToolRegistryAdapter;
  /** Where failed sessions are audited (`session.commit_failed`, `session.attach_failed`). Default: nowhere. */
  audit?: AuditSink;
  /**
   * Called after each batch reached every session, with what the catalog
   * commit notified: publish list_changed on a shared channel here (SDK 2.x
   * `createMcpHandler`: `handler.notify.toolsChanged()`).
   */
  onCommitted?(result: CommitResult): void;
  /**
   * Called when a session could not take a batch and was detached (its server
   * still holds the previous catalog): close it, so its client reconnects.
   */
  onSessionFailed?(adapter: ToolRegistryAdapter, error: HotMcpError): void;
  /**
   * How many sessions are sent their list_changed per event-loop turn, once a
   * batch is in every session's registry. Each turn's notifications leave
   * the process before the next turn starts, so the first clients hear of a
   * batch while later sessions are still being told. Default 128.
   */
  notifySliceSize?: number;
}

interface Session {
  readonly adapter: ToolRegistryAdapter;
  /** Every batch is committed to it; false while it is brought up to the catalog. */
  synced: boolean;
  /** Catalog entries committed to it, by key. */
  held: Set<string>;
}

/** One batch as the fan-out prepared it: the catalog's prepared change, and one per session that cannot share it. */
class FanOutPreparedChange implements PreparedChange {
  constructor(
    readonly change: RegistryChange,
    /** The fan-out adapter that prepared it: only it can commit it. */
    readonly preparedBy: FanOutRegistryAdapter,
    readonly catalog: PreparedChange,
    readonly perSession: Map<Session, { prepared: PreparedChange } | { refused: HotMcpError }>,
  ) {}
}

function commitError(adapter: ToolRegistryAdapter, error: unknown): HotMcpError {
  if (isHotMcpError(error)) return error;
  return new HotMcpError(
    'HOTMCP_ERR_COMMIT_FAILED',
    `${adapter.adapterName} failed: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}

function refOfKey(key: string): RegistryEntryRef {
  const [kind, name] = key.split(/:(.*)/s) as [RegistryEntryRef['kind'], string];
  return { kind, name };
}

/**
 * A {@link ToolRegistryAdapter} for a server with many live McpServers (one
 * per HTTP session): the reloader keeps one catalog of definitions and this
 * adapter fans each batch out to every attached session.
 *
 * - `prepare` checks the batch once, on the catalog adapter. Session adapters
 *   of the same kind (both SDK adapters) commit that same prepared change, so
 *   a batch costs one check however many sessions are live; any other adapter
 *   prepares its own.
 * - `commit` commits to the catalog first (a failure there throws and touches
 *   no session), then synchronously to every session; each session's server
 *   sends its own one list_changed per list kind. A session whose commit fails
 *   is detached, audited and handed to `onSessionFailed`; the others go on.
 * - `attach` brings a new session up to the current catalog before it follows
 *   batches; `detach` (or the function `attach` returns) forgets it.
 */
export class FanOutRegistryAdapter implements ToolRegistryAdapter {
  readonly contractVersion = 1 as const;
  readonly adapterName: string;
  readonly sdk?: { name: string; range: string; version?: string };

  readonly #catalog: ToolRegistryAdapter;
  readonly #options: FanOutAdapterOptions;
  readonly #sessions = new Map<ToolRegistryAdapter, Session>();
  /** The reloader's definitions as committed, by key: what a new session gets. */
  readonly #definitions = new Map<string, AnyDefinition>();
  /** Bumped by every commit; a session synchronised against an older catalog tries again. */
  #version = 0;
  #snapshot: { version: number; prepared: Promise<PreparedChange> } | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** The list_changed sends of committed batches, one task per session told, a slice of sessions per turn. */
  readonly #sends: PacedQueue;
  /** Sessions whose registry changed and whose client has not been told yet: the lists each batch changed. */
  readonly #unnotified = new Map<Session, Array<readonly ListKind[]>>();
  /** Sessions told since the sends last ran dry. */
  #told = 0;

  constructor(options: FanOutAdapterOptions) {
    assertAdapter(options.catalog);
    this.#sends = new PacedQueue({
      sliceSize: options.notifySliceSize ?? 128,
      option: 'notifySliceSize',
      onError: (error) => options.audit?.record('fanout.notify_failed', { error: String(error) }),
      onIdle: (durationMs) => {
        options.audit?.record('fanout.notified', { sessions: this.#told, durationMs });
        this.#told = 0;
      },
    });
    this.#catalog = options.catalog;
    this.#options = options;
    this.adapterName = `hotmcp fan-out (${options.catalog.adapterName})`;
    if (options.catalog.sdk !== undefined) this.sdk = options.catalog.sdk;
    const catalog = options.catalog;
    if (typeof catalog.capture === 'function')
      this.capture = (register, capture) => catalog.capture!(register, capture);
  }

  /**
   * Capture a module's register function on the catalog adapter, when it can
   * (both SDK adapters can): the definitions then fan out like any other. What
   * a handler does at run time through the server it registered on goes to
   * the catalog server, which is never connected.
   */
  readonly capture?: (register: RegisterFunction, options: CaptureOptions) => Promise<CaptureResult>;

  /** How many sessions are attached (synchronised or being synchronised). */
  get size(): number {
    return this.#sessions.size;
  }

  /** The catalog server's entries, including those registered outside the reloader. */
  list(): RegistrySnapshot {
    return this.#catalog.list();
  }

  /** Check the change once on the catalog, and separately for each session that cannot share that check. */
  async prepare(change: RegistryChange): Promise<PreparedChange> {
    const catalog = await this.#serially(() => this.#catalog.prepare(change));
    const perSession: FanOutPreparedChange['perSession'] = new Map();
    for (const session of [...this.#sessions.values()]) {
      if (!session.synced || sharesPlans(session.adapter, catalog)) continue;
      try {
        perSession.set(session, { prepared: await this.#serially(() => session.adapter.prepare(change)) });
      } catch (error) {
        perSession.set(session, { refused: commitError(session.adapter, error) });
      }
    }
    return new FanOutPreparedChange(change, this, catalog, perSession);
  }

  /**
   * Commit to the catalog, then to every synchronised session, synchronously.
   * Throws (touching no session) when the catalog commit fails.
   */
  commit(prepared: PreparedChange): CommitResult {
    const plan = prepared instanceof FanOutPreparedChange && prepared.preparedBy === this ? prepared : undefined;
    if (plan === undefined) {
      throw new HotMcpError(
        'HOTMCP_ERR_COMMIT_FAILED',
        `${this.adapterName} can only commit a change returned by its own prepare().`,
      );
    }
    const result = this.#catalog.commit(plan.catalog);
    const { change } = prepared;
    for (const ref of change.remove) this.#definitions.delete(keyOf(ref));
    for (const definition of change.upsert) this.#definitions.set(keyOf(definition), definition);
    this.#version++;

    this.#forEachSynced((session) => {
      const own = sharesPlans(session.adapter, plan.catalog)
        ? { prepared: plan.catalog }
        : plan.perSession.get(session);
      if (own === undefined) {
        // Synchronised after this batch was prepared, by an adapter that cannot share it: catch up.
        session.synced = false;
        this.#synchronise(session).catch(() => {}); // a failure detaches and audits it
        return;
      }
      if ('refused' in own) throw own.refused;
      const { adapter } = session;
      if (defersNotify(adapter)) this.#notifyLater(session, adapter, adapter.commitQuietly(own.prepared).notified);
      else adapter.commit(own.prepared);
      for (const ref of change.remove) session.held.delete(keyOf(ref));
      for (const definition of change.upsert) session.held.add(keyOf(definition));
    });
    try {
      this.#options.onCommitted?.(result);
    } catch (error) {
      this.#options.audit?.record('fanout.callback_failed', { error: String(error) });
    }
    return result;
  }

  /**
   * Send a log message to every attached session's client (each server
   * applies its own client's `logging/setLevel`). A session whose send fails
   * stays attached: a lost log line is not a broken registry.
   */
  sendLog(message: ClientLogMessage): void {
    for (const session of this.#sessions.values()) {
      try {
        session.adapter.sendLog?.(message);
      } catch (error) {
        this.#options.audit?.record('fanout.log_failed', { error: String(error) });
      }
    }
  }

  /**
   * Resolves once every list_changed of the batches committed so far has
   * been handed to its session's transport (at once when none is pending).
   */
  idle(): Promise<void> {
    return this.#sends.idle();
  }

  /**
   * Queue telling `session`'s client of `kinds`, after what earlier batches
   * changed; skipped if the session is detached before its turn.
   */
  #notifyLater(session: Session, adapter: DeferredNotifyAdapter, kinds: readonly ListKind[]): void {
    if (kinds.length === 0) return;
    const pending = this.#unnotified.get(session);
    if (pending !== undefined) {
      pending.push(kinds);
      return;
    }
    this.#unnotified.set(session, [kinds]);
    this.#sends.push(() => {
      const batches = this.#unnotified.get(session);
      this.#unnotified.delete(session);
      if (batches === undefined || this.#sessions.get(adapter) !== session) return false;
      this.#told++;
      try {
        for (const batch of batches) adapter.sendListChanged(batch);
      } catch (error) {
        // A lost notification is not a broken registry: the session stays, its client sees the change on its next list.
        this.#options.audit?.record('fanout.notify_failed', { adapter: adapter.adapterName, error: String(error) });
      }
      return true;
    });
  }

  /**
   * Run `step` for every synchronised session. A session whose step throws is
   * detached, audited and handed to `onSessionFailed`; the others go on.
   */
  #forEachSynced(step: (session: Session) => void): void {
    for (const session of [...this.#sessions.values()]) {
      if (!session.synced) continue;
      try {
        step(session);
      } catch (error) {
        this.#fail(session, commitError(session.adapter, error), 'session.commit_failed');
      }
    }
  }

  /**
   * Attach a session's adapter: commit the current catalog to its server,
   * then commit every later batch to it too. Resolves with a function that
   * detaches it (call it when the session closes). Rejects, leaving it
   * detached, when the catalog cannot be committed to it.
   */
  async attach(adapter: ToolRegistryAdapter): Promise<() => void> {
    assertAdapter(adapter);
    if (!this.#sessions.has(adapter)) {
      const session: Session = { adapter, synced: false, held: new Set() };
      this.#sessions.set(adapter, session);
      await this.#synchronise(session);
    }
    return () => this.detach(adapter);
  }

  /**
   * Commit the current catalog to a server that serves one request and
   * follows no later batch (SDK 2.x `createMcpHandler` builds one per
   * request); it is never attached.
   */
  async seed(adapter: ToolRegistryAdapter): Promise<void> {
    await this.attach(adapter);
    this.detach(adapter);
  }

  /** Stop committing batches to this session's adapter (its server keeps what it has). Idempotent. */
  detach(adapter: ToolRegistryAdapter): void {
    const session = this.#sessions.get(adapter);
    if (session !== undefined) this.#unnotified.delete(session);
    this.#sessions.delete(adapter);
  }

  /** Bring a session up to the current catalog, trying again while batches land meanwhile. */
  async #synchronise(session: Session): Promise<void> {
    const { adapter } = session;
    try {
      for (;;) {
        const version = this.#version;
        const snapshot = await this.#snapshotPrepared();
        const prepared = sharesPlans(adapter, snapshot)
          ? snapshot
          : await this.#serially(() => adapter.prepare(this.#catchUp(session)));
        if (this.#sessions.get(adapter) !== session) return; // detached meanwhile
        if (version !== this.#version) continue;
        adapter.commit(prepared);
        session.held = new Set(this.#definitions.keys());
        session.synced = true;
        return;
      }
    } catch (error) {
      const failure = commitError(adapter, error);
      this.#fail(session, failure, 'session.attach_failed');
      throw failure;
    }
  }

  /** The whole catalog as one change prepared on the catalog adapter, once per catalog version. */
  #snapshotPrepared(): Promise<PreparedChange> {
    const version = this.#version;
    if (this.#snapshot?.version !== version) {
      const upsert = [...this.#definitions.values()];
      const prepared = this.#serially(() => this.#catalog.prepare({ upsert, remove: [] }));
      const snapshot = { version, prepared };
      this.#snapshot = snapshot;
      prepared.catch(() => {
        if (this.#snapshot === snapshot) this.#snapshot = undefined; // not kept: the next attach tries again
      });
    }
    return (this.#snapshot as { prepared: Promise<PreparedChange> }).prepared;
  }

  /**
   * Run prepares one at a time: an adapter checks a definition on one private
   * scratch server, which two prepares in flight at once would share.
   */
  #serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** The change that takes a session from what it holds to the catalog. */
  #catchUp(session: Session): RegistryChange {
    const remove = [...session.held].filter((key) => !this.#definitions.has(key)).map(refOfKey);
    return { upsert: [...this.#definitions.values()], remove };
  }

  #fail(session: Session, error: HotMcpError, event: string): void {
    if (this.#sessions.get(session.adapter) !== session) return;
    this.#sessions.delete(session.adapter);
    this.#unnotified.delete(session);
    this.#options.audit?.record(event, { adapter: session.adapter.adapterName, ...error.toJSON() });
    try {
      this.#options.onSessionFailed?.(session.adapter, error);
    } catch {}
  }
}

/** Create a {@link FanOutRegistryAdapter}: hand it to `createReloader({ adapter })`, attach every session. */
export function createFanOutAdapter(options: FanOutAdapterOptions): FanOutRegistryAdapter {
  return new FanOutRegistryAdapter(options);
}
