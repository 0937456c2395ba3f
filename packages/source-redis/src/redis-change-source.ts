/**
 * A ChangeSource fed by a Redis Stream: each entry is one batch of files,
 * written into this replica's tools folder and emitted as one ChangeBatch.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type AuditSink,
  type ChangeBatch,
  type ChangeSource,
  type ChangeSourceStatus,
  clientMessage,
  clientPath,
  type FileListing,
  HotMcpError,
  isHotMcpError,
  type ReloaderStatus,
} from '@hotmcp/core';
import { createPathFilter, currentStamp, listFiles, type PathFilter } from '@hotmcp/core/watching';
import { Redis } from 'ioredis';
import { createSelector, listFolder, writeBatch } from './fleet-folder.js';
import {
  compareIds,
  DEFAULT_STREAM,
  decodeCompiled,
  decodeFiles,
  type EntryOutcome,
  type FileChange,
  type FleetKeys,
  fieldsOf,
  fleetKeys,
  type ReplicaError,
  type ReplicaReport,
  ZERO_ID,
} from './fleet-protocol.js';

/** Options of {@link createRedisChangeSource}. */
export interface RedisChangeSourceOptions {
  /** Absolute path of this replica's tools folder (the reloader's root). */
  root: string;
  /** A Redis URL (`redis://127.0.0.1:6379/0`), or an ioredis client to duplicate. */
  redis: string | Redis;
  /** The stream's key. Default `hotmcp:fleet`. */
  stream?: string;
  /** This replica's name in reports; keep it across restarts. Default `<hostname>-<pid>`. */
  replica?: string;
  /** Where the last applied entry id is kept. Default `<root>/.hotmcp-fleet.json`. */
  stateFile?: string;
  /** Globs relative to root of the files reported to the engine. Default: the reloader's, `**\/*.{ts,mts,js,mjs}`. */
  include?: readonly string[];
  /** Globs relative to root never reported. Default: declaration files and tests. */
  exclude?: readonly string[];
  /** Where `fleet.*` events go. */
  audit?: AuditSink;
  /** How often the replica says it is alive, in ms. Default 2000. */
  heartbeatMs?: number;
  /** How long `start` waits for Redis before serving the folder as it is (and saying it is behind). Default 10,000. */
  startTimeoutMs?: number;
}

/** What the source reads of the reloader to report each batch's outcome (a `Reloader` is one). */
export interface ObservedReloader {
  /** Resolves when every batch emitted so far is applied. */
  idle(): Promise<void>;
  /** The current errors, read after each batch. */
  status(): ReloaderStatus;
}

interface SavedState {
  stream: string;
  id: string;
  /** The entry's number (`seq`); undefined when it carried none. */
  seq?: number;
  files: Record<string, string>;
}

const DEFAULT_INCLUDE = ['**/*.{ts,mts,js,mjs}'];
const DEFAULT_EXCLUDE = ['**/*.d.ts', '**/*.d.mts', '**/*.test.*', '**/*.spec.*'];
const NO_AUDIT: AuditSink = { record() {}, close: async () => {} };

/**
 * Consistency: entries are applied one at a time, in stream order, each
 * exactly once (the id is saved before the batch is emitted; a crash in
 * between re-writes the same content, which changes nothing). An entry whose
 * `prev` is not the last applied id means entries were trimmed away: the
 * replica restores the snapshot instead, as one batch. `start` applies what
 * was missed before resolving, so the engine's first load, and every session
 * after it, sees the fleet's newest catalog.
 */
export class RedisChangeSource implements ChangeSource {
  readonly replica: string;
  private readonly keys: FleetKeys;
  private readonly stateFile: string;
  private readonly selected: (relative: string) => boolean;
  private readonly filter: PathFilter;
  private readonly audit: AuditSink;
  private readonly heartbeatMs: number;
  private client?: Redis;
  private reader?: Redis;
  private state: SavedState;
  private known: Map<string, string>;
  private emit?: (batch: ChangeBatch) => void;
  private onError: (error: Error) => void = () => {};
  private target?: ObservedReloader;
  private running = false;
  private loop?: Promise<void>;
  private heartbeat?: NodeJS.Timeout;
  private outage = false;
  /** When the current outage began (epoch ms). */
  private outageSince = 0;
  /** The newest entry id seen in the stream (read, or the head the heartbeat reads). */
  private newest: string;
  private lastOutcome: EntryOutcome = 'written';
  private lastErrors: ReplicaError[] = [];
  private phase: ReplicaReport['state'] = 'catching-up';

  constructor(private readonly options: RedisChangeSourceOptions) {
    if (typeof options?.root !== 'string' || !path.isAbsolute(options.root)) {
      throw new HotMcpError('HOTMCP_ERR_BAD_OPTION', "createRedisChangeSource: 'root' must be an absolute path");
    }
    if (typeof options.redis !== 'string' && !(options.redis instanceof Redis)) {
      throw new HotMcpError(
        'HOTMCP_ERR_BAD_OPTION',
        "createRedisChangeSource: 'redis' must be a URL or an ioredis client",
      );
    }
    this.keys = fleetKeys(options.stream ?? DEFAULT_STREAM);
    this.replica = options.replica ?? `${os.hostname()}-${process.pid}`;
    this.stateFile = options.stateFile ?? path.join(options.root, '.hotmcp-fleet.json');
    this.selected = createSelector({
      include: options.include ?? DEFAULT_INCLUDE,
      exclude: options.exclude ?? DEFAULT_EXCLUDE,
    });
    this.filter = createPathFilter({
      root: options.root,
      include: options.include ?? DEFAULT_INCLUDE,
      exclude: options.exclude ?? DEFAULT_EXCLUDE,
    });
    this.audit = options.audit ?? NO_AUDIT;
    this.heartbeatMs = options.heartbeatMs ?? 2000;
    this.state = this.readState();
    this.known = new Map(Object.entries(this.state.files));
    this.newest = this.state.id;
  }

  /** The id of the last entry applied here (`0-0`: none). */
  get lastId(): string {
    return this.state.id;
  }

  /**
   * Whether this replica may serve a stale catalog: Redis unreachable (what
   * was published meanwhile is not known), still catching up with the
   * stream, or entries seen and not applied yet (a write this replica keeps
   * failing, say). Shown by `hotmcp_status` as `source`.
   */
  status(): ChangeSourceStatus {
    const details = {
      replica: this.replica,
      stream: this.keys.stream,
      lastApplied: this.state.id,
      newestSeen: this.newest,
      state: this.phase,
      outcome: this.lastOutcome,
    };
    const behind = (reason: string): ChangeSourceStatus => ({ behind: true, reason, details });
    if (!this.running) return { behind: false, details };
    if (this.outage) {
      const since = new Date(this.outageSince).toISOString();
      return behind(`Redis unreachable since ${since}: entries published since then are not applied here`);
    }
    if (this.phase === 'catching-up') return behind(`catching up with the stream from entry ${this.state.id}`);
    if (compareIds(this.newest, this.state.id) > 0) {
      return behind(`entries up to ${this.newest} are not applied yet (last applied ${this.state.id})`);
    }
    return { behind: false, details };
  }

  /** Report each batch's outcome from this reloader's status (call before `start`). */
  observe(reloader: ObservedReloader): void {
    this.target = reloader;
  }

  async start(onBatch: (batch: ChangeBatch) => void, onError?: (error: Error) => void): Promise<readonly string[]> {
    if (this.running) throw new HotMcpError('HOTMCP_ERR_BAD_OPTION', 'RedisChangeSource: already started');
    this.running = true;
    if (onError) this.onError = onError;
    const connect = (name: string) => {
      const options = { maxRetriesPerRequest: null, connectionName: `hotmcp-${name}:${this.replica}` };
      const client =
        typeof this.options.redis === 'string'
          ? new Redis(this.options.redis, options)
          : this.options.redis.duplicate(options);
      client.on('error', () => {}); // outages are reported once each, below
      client.on('reconnecting', () => this.running && this.lost(new Error('connection lost, reconnecting')));
      client.on('ready', () => this.recovered());
      return client;
    };
    this.client = connect('report');
    // Live from the moment it can say so, not from its first report (after its first load) or heartbeat: a
    // publish waiting for the fleet then waits for this replica too.
    this.client.once('ready', () => void this.beat());
    this.reader = connect('read');
    this.heartbeat = setInterval(() => void this.beat(), this.heartbeatMs).unref();

    // Apply what was missed before the engine's first load; past the timeout, serve the folder as it is.
    const caughtUp = this.catchUp();
    this.loop = caughtUp.then(() => this.read());
    const timeout = this.options.startTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      caughtUp.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeout);
      }),
    ]);
    clearTimeout(timer);
    if (late)
      this.fail(
        new HotMcpError(
          'HOTMCP_ERR_FLEET_UNAVAILABLE',
          `fleet: Redis not reachable within ${timeout} ms; serving the folder as it is`,
        ),
      );
    // Synchronous from here: any entry applied later is emitted, any applied before is in the baseline.
    this.emit = onBatch;
    const baseline = listFolder(this.options.root, this.selected);
    caughtUp.then(() => this.settled('serving', baseline)).catch(() => {}); // fails only once stopped
    return baseline;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.heartbeat);
    this.phase = 'stopped';
    this.reader?.disconnect();
    await this.loop?.catch(() => {});
    await Promise.race([this.report(), new Promise((resolve) => setTimeout(resolve, 500))]).catch(() => {});
    this.client?.disconnect();
  }

  /** List the folder now, emitting nothing (the engine's rescan): what the fleet wrote and anything else selected. */
  rescan(): FileListing {
    return listFiles(this.filter, (error) => this.fail(error));
  }

  /** The stamp of `file` now, or '' when it is not a regular file that can be read. */
  stamp(file: string): string {
    return currentStamp(file);
  }

  /** Entries after the last applied one, read page by page; a gap restores the snapshot. */
  private async catchUp(): Promise<void> {
    const client = this.client as Redis;
    for (;;) {
      if (!this.running) return;
      const page = (await this.retry(() =>
        client.xrange(this.keys.stream, `(${this.state.id}`, '+', 'COUNT', 200),
      )) as Array<[string, string[]]>;
      if (page.length === 0) {
        // Nothing after our id: still, a stream reset or trimmed to nothing shows in the head.
        const head = await this.retry(() => client.get(this.keys.head));
        if (head !== null && head !== this.state.id) await this.restore();
        else this.newest = this.state.id;
        return;
      }
      this.saw(page.at(-1)?.[0]);
      for (const entry of page) if (!(await this.apply(entry))) break;
    }
  }

  /** Block on the stream for new entries, forever, across outages. */
  private async read(): Promise<void> {
    const reader = this.reader as Redis;
    while (this.running) {
      let reply: Array<[string, Array<[string, string[]]>]> | null;
      try {
        reply = (await reader.xread(
          'COUNT',
          100,
          'BLOCK',
          5000,
          'STREAMS',
          this.keys.stream,
          this.state.id,
        )) as typeof reply;
        this.recovered();
      } catch (error) {
        if (!this.running) return;
        this.lost(error);
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      const entries = reply?.[0]?.[1] ?? [];
      this.saw(entries.at(-1)?.[0]);
      for (const entry of entries) if (!(await this.apply(entry))) break;
    }
  }

  /** Apply one entry; false to read again from the last applied id (after a gap sent us to the snapshot, or a failed write). */
  private async apply([id, flat]: [string, string[]]): Promise<boolean> {
    const fields = fieldsOf(flat);
    if ((fields.prev ?? ZERO_ID) !== this.state.id) {
      this.audit.record('fleet.gap', { replica: this.replica, lastId: this.state.id, next: id, prev: fields.prev });
      await this.restore();
      return false;
    }
    let changes: FileChange[];
    let written: ReturnType<typeof writeBatch>;
    try {
      changes = decodeFiles(fields.files);
      written = writeBatch(this.options.root, changes, this.known);
    } catch (error) {
      if (!isRefusal(error)) {
        // This replica's own trouble (disk full, permissions): say so, keep the entry, try it again.
        const failure = asError(error);
        this.audit.record('fleet.entry_failed', { replica: this.replica, id, error: describe(failure) });
        this.fail(failure);
        this.lastOutcome = 'failed';
        this.lastErrors = [errorOf(failure)];
        await this.report().catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 1000));
        return false;
      }
      // Refused everywhere alike: skip it, say so, go on with the next.
      const refusal = asError(error);
      this.audit.record('fleet.entry_refused', { replica: this.replica, id, error: describe(refusal) });
      this.fail(refusal);
      this.saveState(id, seqOf(fields.seq));
      this.lastOutcome = 'refused';
      this.lastErrors = [errorOf(refusal)];
      await this.report();
      return true;
    }
    this.saveState(id, seqOf(fields.seq));
    this.audit.record('fleet.entry_written', { replica: this.replica, id, files: changes.length });
    await this.deliver(written, this.compiledOf(id, fields.compiled, changes));
    return true;
  }

  /** Replace the folder by the snapshot (files the fleet wrote and no longer has are deleted), as one batch. */
  private async restore(): Promise<void> {
    const client = this.client as Redis;
    const results = await this.retry(() =>
      client.multi().get(this.keys.head).hgetall(this.keys.hashes).hgetall(this.keys.files).get(this.keys.seq).exec(),
    );
    const [head, hashes, files, seq] = (results ?? []).map(([, value]) => value) as [
      string | null,
      Record<string, string>,
      Record<string, string>,
      string | null,
    ];
    if (head === null) return; // nothing published since Redis lost its data: keep the folder, wait for entries
    this.newest = head; // the snapshot's head is the newest entry (lower than what was seen when the stream was reset)
    const changes: FileChange[] = [];
    for (const [file, hash] of Object.entries(hashes)) {
      const content = files[file];
      if (content !== undefined && this.known.get(file) !== hash) changes.push({ path: file, hash, content });
    }
    for (const file of this.known.keys()) if (!(file in hashes)) changes.push({ path: file, deleted: true });
    this.audit.record('fleet.snapshot_restored', {
      replica: this.replica,
      from: this.state.id,
      to: head,
      files: changes.length,
    });
    let written: ReturnType<typeof writeBatch>;
    try {
      written = writeBatch(this.options.root, changes, this.known);
    } catch (error) {
      this.fail(asError(error));
      this.lastErrors = [errorOf(asError(error))];
      if (!isRefusal(error)) {
        this.lastOutcome = 'failed'; // this replica's own trouble: try again from the same id
        await this.report().catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 1000));
        return;
      }
      this.lastOutcome = 'refused';
      this.saveState(head, seqOf(seq));
      await this.report();
      return;
    }
    this.saveState(head, seqOf(seq));
    await this.deliver(written);
  }

  /**
   * The publisher's compilations of the files an entry wrote, handed to the
   * loader with the batch (it checks each against its own compiler and the
   * file's text). A field that cannot be read is left out, and audited.
   */
  private compiledOf(id: string, raw: string | undefined, changes: FileChange[]): ChangeBatch['compiled'] {
    const written = new Set(changes.flatMap((change) => ('deleted' in change ? [] : [change.path])));
    const compiled = decodeCompiled(raw, this.options.root, written);
    if (compiled === undefined) {
      this.audit.record('fleet.compiled_ignored', { replica: this.replica, id, reason: 'not a JSON object' });
    }
    return compiled;
  }

  /** Emit what was written (when started) and report the engine's outcome. */
  private async deliver(
    written: { added: string[]; changed: string[]; removed: string[] },
    compiled: ChangeBatch['compiled'] = {},
  ): Promise<void> {
    const pick = (files: string[]) => files.filter((file) => this.selected(relativeOf(this.options.root, file)));
    const batch: ChangeBatch = {
      added: pick(written.added),
      changed: pick(written.changed),
      removed: pick(written.removed),
    };
    // Only files this entry wrote (a loader checks each against the file it loads).
    if (Object.keys(compiled).length > 0) batch.compiled = compiled;
    const files = [...batch.added, ...batch.changed];
    if (this.emit && files.length + batch.removed.length > 0) this.emit(batch);
    if (!this.emit) return; // before the first load: `settled` reports once the engine has loaded
    await this.settled(this.phase, files);
  }

  /** Wait for the engine, read its errors, report. */
  private async settled(phase: ReplicaReport['state'], files: readonly string[] = []): Promise<void> {
    if (!this.running) return;
    this.phase = phase;
    if (this.target) {
      // After start, the engine queues its first load once `start` has resolved: let it, then wait for it.
      await new Promise((resolve) => setImmediate(resolve));
      await this.target.idle();
      // The batch is live: requests already waiting (clients calling the new version) are read first, the
      // report after them (an immediate set from the check phase runs after the next poll). The next entry
      // waits for this report, so what it reads is this batch's outcome.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      const { errors } = this.target.status();
      // Root-relative, so the same broken file reads the same on every replica.
      const root = this.options.root;
      this.lastErrors = errors.map((error) => ({
        module: clientPath(root, error.module),
        code: error.code,
        message: clientMessage(root, error.message),
      }));
      const failed = errors.some((error) => files.includes(error.module));
      this.lastOutcome = failed ? 'failed' : 'applied';
    } else {
      this.lastOutcome = 'written';
      this.lastErrors = [];
    }
    await this.report();
  }

  private async report(): Promise<void> {
    const client = this.client;
    if (!client) return;
    const fields = {
      id: this.state.id,
      seq: this.state.seq === undefined ? '' : String(this.state.seq),
      outcome: this.lastOutcome,
      errors: JSON.stringify(this.lastErrors),
      at: new Date().toISOString(),
      ...this.alive(),
    };
    try {
      await client.multi().sadd(this.keys.replicas, this.replica).hset(this.keys.replica(this.replica), fields).exec();
    } catch (error) {
      if (this.running) throw error; // stopped meanwhile: the connection is closed, nothing to report to
    }
  }

  /** The fields of this replica's report that say it is alive, and in which phase. */
  private alive(): Record<string, string> {
    return {
      state: this.phase,
      pid: String(process.pid),
      host: os.hostname(),
      seenAt: String(Date.now()),
      heartbeatMs: String(this.heartbeatMs),
    };
  }

  /** Say this replica is alive, and in which phase (its last report's entry and outcome stay as they are). */
  private async beat(): Promise<void> {
    if (!this.running || this.client?.status !== 'ready') return;
    const results = await this.client
      .multi()
      .sadd(this.keys.replicas, this.replica)
      .hset(this.keys.replica(this.replica), this.alive())
      .get(this.keys.head)
      .exec()
      .catch(() => undefined);
    const head = results?.[2]?.[1];
    if (typeof head === 'string') this.saw(head);
  }

  /** Note an entry id seen in the stream (the newest this replica knows of). */
  private saw(id: string | undefined): void {
    if (id !== undefined && compareIds(id, this.newest) > 0) this.newest = id;
  }

  /** Run a command until it succeeds (ioredis queues it while reconnecting); gives up only when stopped. */
  private async retry<T>(command: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        const result = await command();
        this.recovered();
        return result;
      } catch (error) {
        if (!this.running) throw error;
        this.lost(error);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  private lost(error: unknown): void {
    if (this.outage) return;
    this.outage = true;
    this.outageSince = Date.now();
    this.audit.record('fleet.disconnected', { replica: this.replica, error: describe(asError(error)) });
    this.fail(
      new HotMcpError('HOTMCP_ERR_FLEET_UNAVAILABLE', `fleet: Redis unavailable: ${asError(error).message}`, {
        cause: error,
      }),
    );
  }

  private recovered(): void {
    if (!this.outage) return;
    this.outage = false;
    this.audit.record('fleet.reconnected', { replica: this.replica, lastId: this.state.id });
  }

  private fail(error: Error): void {
    try {
      this.onError(error);
    } catch {}
  }

  private readState(): SavedState {
    const empty: SavedState = { stream: this.keys.stream, id: ZERO_ID, seq: 0, files: {} };
    if (!existsSync(this.stateFile)) return empty;
    try {
      const saved = JSON.parse(readFileSync(this.stateFile, 'utf8')) as SavedState;
      // Another stream's progress means nothing here: start over (the snapshot brings the folder up to date).
      return saved.stream === this.keys.stream && typeof saved.id === 'string'
        ? saved
        : { ...empty, files: saved.files ?? {} };
    } catch {
      return empty;
    }
  }

  private saveState(id: string, seq: number | undefined): void {
    this.state = {
      stream: this.keys.stream,
      id,
      ...(seq !== undefined && { seq }),
      files: Object.fromEntries(this.known),
    };
    mkdirSync(path.dirname(this.stateFile), { recursive: true });
    const temp = `${this.stateFile}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(this.state)}\n`);
    renameSync(temp, this.stateFile);
  }
}

/** An entry's `seq` field (or `S:seq`) as a number; undefined when absent or not a whole number. */
function seqOf(raw: string | null | undefined): number | undefined {
  const seq = Number(raw ?? undefined);
  return Number.isSafeInteger(seq) && seq >= 0 ? seq : undefined;
}

function relativeOf(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join('/');
}

/** A refusal every replica makes alike (the entry itself is at fault), as opposed to this replica's own trouble. */
function isRefusal(error: unknown): boolean {
  return isHotMcpError(error) && (error.code === 'HOTMCP_ERR_OUTSIDE_ROOT' || error.code === 'HOTMCP_ERR_FLEET_ENTRY');
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function errorOf(error: Error): ReplicaError {
  const code = isHotMcpError(error) ? error.code : ((error as NodeJS.ErrnoException).code ?? 'ERROR');
  return { code, message: error.message };
}

function describe(error: Error): Record<string, unknown> {
  return isHotMcpError(error) ? error.toJSON() : { message: error.message };
}

/** Make a {@link RedisChangeSource}. */
export function createRedisChangeSource(options: RedisChangeSourceOptions): RedisChangeSource {
  return new RedisChangeSource(options);
}
