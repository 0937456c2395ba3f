import { type ChildProcess, spawn } from 'node:child_process';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { RestartNeededMessage } from '../dev/reporter.js';
import { childStdio, pipes } from './child-stdio.js';
import { ClientSession, handshakeDifferences, SUBSCRIPTION_ID_META_KEY, subscriptionIdOf } from './client-session.js';
import {
  idKey,
  isNotification,
  isRequest,
  isResponse,
  type JsonRpcId,
  type JsonRpcMessage,
  parseLine,
  type ReadMessage,
  readLines,
  readMessages,
  responseIdOf,
  writeMessage,
} from './json-rpc.js';
import { DEFAULT_RESTART_ON, watchRestartFiles } from './restart-watch.js';
import type { RetryWatch } from './retry-watch.js';

/** The JSON-RPC error code a request gets when the process serving it went away. */
export const RESTARTED_ERROR_CODE = -32000;

/** A structured event of the supervisor's, for an audit trail. */
export type SupervisorEvent = { event: string } & Record<string, unknown>;

/** Options of {@link startSupervisor}. */
export interface SupervisorOptions {
  /** The server command to run, and its arguments. */
  command: string;
  args?: readonly string[];
  /**
   * The first server process, already spawned by the caller from `command` and `args` (with the
   * stdio and environment of `childStdio(direct, true, env)`: the mode must match this
   * supervisor's), so it boots while the supervisor's code loads.
   */
  first?: ChildProcess;
  /**
   * With `first`: when it was spawned (ms since the epoch). A `restartOn` file changed since then,
   * before the supervisor began to watch, restarts it.
   */
  firstSpawnedAt?: number;
  /** Its working folder; `--restart-on` globs are relative to it. Default: `process.cwd()`. */
  cwd?: string;
  /** Its environment. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** The client's side: messages in. Default: `process.stdin`. */
  input?: Readable;
  /** The client's side: messages out. Default: `process.stdout`. */
  output?: Writable;
  /** Where the supervisor's own lines and the server's stderr go. Default: `process.stderr`. */
  log?: Writable;
  /** Globs (relative to `cwd`) whose change restarts the server; `false` for none. Default {@link DEFAULT_RESTART_ON}. */
  restartOn?: readonly string[] | false;
  /** Crash back-off: first delay, cap, and how long a process must have served for its crash not to count as a loop. */
  backoff?: { initialMs?: number; maxMs?: number; stableMs?: number };
  /**
   * While a crash loop waits: watch the project (see `watchProjectForRetry`); a file that changes
   * starts the server at once, with the back-off back at its first delay. Default: the wait runs out.
   */
  retryOnChange?: RetryWatch;
  /** How long requests in flight may finish before a planned restart stops the process. Default 5 s. */
  drainMs?: number;
  /** How long a new process may take to answer the replayed handshake. Default 30 s. */
  handshakeTimeoutMs?: number;
  /** Receives every event (`child.started`, `child.crashed`, `restart`, `handshake.differs`, …). */
  onEvent?: (event: SupervisorEvent) => void;
  /** Where each crash is recorded in full (the process's stderr since it started): an audit sink of `@hotmcp/core`. */
  audit?: {
    /** Record one event with its fields; never throws. */
    record(event: string, fields?: Record<string, unknown>): void;
    /** Flush and release the sink. */
    close?(): Promise<void>;
  };
  /**
   * Direct mode: the server process inherits the client's stdin and stdout and serves them
   * itself, so no message crosses the supervisor; it must run hotmcp's supervised stdio
   * (`hotmcp dev`'s runtime does; a Node server can preload `dist/dev/supervised-stdio.js` with
   * `--import`), which tells the supervisor on fd 3 what it needs to take over. Only when the
   * supervisor's own stdin and stdout are pipes or sockets (and `input` and `output` are not
   * given); else the supervisor relays every message.
   */
  direct?: boolean;
}

/** A running supervisor. */
export interface Supervisor {
  /** The pid of the server process serving now, if one runs. */
  readonly childPid: number | undefined;
  /** How many server processes have been started. */
  readonly generation: number;
  /** Whether the server processes serve the client's stdio themselves (`direct`), or the supervisor relays. */
  readonly direct: boolean;
  /** Restart the server as soon as its requests in flight have finished. */
  restart(reason: string): void;
  /** Stop the server and the supervisor. */
  close(): Promise<void>;
  /**
   * 0, or the exit code of a first server process that ended before it
   * answered anything (a missing entry, say): then there is nothing to keep
   * alive, and the supervisor ends with it.
   */
  readonly exitCode: number;
  /** Settles once the supervisor has stopped (the client closed its side, or `close()`). */
  readonly closed: Promise<void>;
}

interface Child {
  readonly generation: number;
  readonly process: ChildProcess;
  readonly stderrTail: string[];
  readonly exited: Promise<void>;
  /** When it first answered (the client's request, or the replayed handshake). */
  readyAt: number | undefined;
  planned: boolean;
  gone: boolean;
  /** Its stderr while it starts beside the old process: shown once it is the one that serves. */
  heldStderr: Buffer[] | undefined;
  /** Its stderr since it started, up to {@link STDERR_AUDIT} characters, for the audit of a crash. */
  stderrAll: string;
  /** Direct mode: it owns the client's stdout (it reads stdin, or did until told to stop). */
  serving: boolean;
  /** Direct mode: the bytes (base64) of a line it read only in part, for the next process. */
  partial: string;
  /** Direct mode: it stopped reading stdin and handed back what it left; the supervisor reads on. */
  handedOver?: boolean;
  /** Direct mode: one of its writes to stdout may have been cut short. */
  writing: boolean;
  /** Direct mode: what it wrote for the client before it served (sent once it does). */
  held: string[];
  /** Direct mode: its notes are read in a batch later; calling this reads them now. */
  notesPaused?: () => void;
  /** Direct mode: called once it noted that it stopped reading stdin (after a `stop`). */
  onStoppedReading?: () => void;
}

/** The part of a pipe's libuv handle that stops and restarts reading. */
interface PipeHandle {
  readStop(): number;
  readStart(): number;
}

/** Direct mode: how often the notes of a process that simply serves are read. */
const NOTES_EVERY_MS = 20;

interface InFlight {
  id: JsonRpcId;
  generation: number;
  /** The client cancelled it: it may never be answered, and is not answered for the process. */
  cancelled?: boolean;
}

/** How long a drain waits for a process to act on a cancellation it was sent (it need not answer). */
const CANCEL_GRACE_MS = 1000;

const STDERR_TAIL = 20;
/** A new process's stderr saying it needed what the old one still holds: a port, a lock, a file in use. */
const HELD_ELSEWHERE = /EADDRINUSE|EBUSY|ELOCKED|already in use|\blocked\b/i;
const STDERR_AUDIT = 64 * 1024;
const PRIVATE_ID_PREFIX = 'hotmcp-supervisor:';

/**
 * Start a thin stdio supervisor: it owns the client's connection and runs
 * the MCP server as a child process. When the server must restart (it asks
 * over IPC, it exits or crashes, a `restartOn` file changes) the client sees
 * nothing but a `list_changed`: the new process is brought to where the
 * client left the old one (`initialize` replayed and its answer swallowed,
 * `notifications/initialized`, logging level, resource subscriptions, listen
 * streams), requests arriving meanwhile wait and go to the new process in
 * order, and a request the old process took with it is answered with a
 * JSON-RPC error saying it may be retried.
 */
export function startSupervisor(options: SupervisorOptions): Supervisor {
  return new StdioSupervisor(options);
}

class StdioSupervisor implements Supervisor {
  readonly #options: SupervisorOptions;
  readonly #input: Readable;
  readonly #output: Writable;
  readonly #log: Writable;
  readonly #session = new ClientSession();
  readonly #inFlight = new Map<string, InFlight>();
  readonly #serverRequests = new Map<string, InFlight>();
  readonly #private = new Map<
    string,
    { generation: number; resolve: (m: JsonRpcMessage) => void; reject: (e: Error) => void }
  >();
  /** Every process not yet gone, by generation: during a restart, the old one and the new one. */
  readonly #children = new Map<number, Child>();
  readonly #drainWaiters = new Set<() => void>();
  readonly #swallowAcks = new Set<string>();
  readonly #queue: ReadMessage[] = [];
  /** Direct mode: whether the server processes serve the client's stdio themselves. */
  readonly #direct: boolean;
  /** Direct mode: the supervisor's own messages, held while a process owns stdout. */
  readonly #outQueue: Array<JsonRpcMessage | Buffer> = [];
  /** Direct mode: the unfinished line (base64) the last process that read stdin left. */
  #prefix = '';
  /** Direct mode: the client's stdin, read by the supervisor only while no process runs (a crash loop's wait). */
  #waitReader: Socket | undefined;
  #waitTake: ((data: Buffer) => void) | undefined;
  readonly #stopInput: () => void;
  readonly #stopWatch: () => void;
  #child: Child | undefined;
  #generation = 0;
  #privateIds = 0;
  #state: 'running' | 'starting' | 'waiting' | 'closed' = 'running';
  #crashes = 0;
  #pendingRestart: string | undefined;
  /** Whether a new process may start beside the old one; off once one could not (it needs what the old one holds). */
  #overlap = true;
  #retryTimer: NodeJS.Timeout | undefined;
  /** Stops the watch of a crash loop's wait ({@link SupervisorOptions.retryOnChange}). */
  #stopRetryWatch: (() => void | Promise<void>) | undefined;
  #answered = false;
  #exitCode = 0;
  #resolveClosed!: () => void;
  readonly closed: Promise<void>;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#input = options.input ?? process.stdin;
    this.#output = options.output ?? process.stdout;
    this.#log = options.log ?? process.stderr;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#direct =
      options.direct === true && options.input === undefined && options.output === undefined && pipes(0, 1);
    this.#child = this.#spawn();
    if (this.#direct) {
      // The processes read stdin; the supervisor writes to stdout only while none owns it.
      this.#output.on('error', () => {});
      this.#stopInput = () => {};
    } else {
      this.#stopInput = readMessages(
        this.#input,
        (read) => this.#fromClient(read),
        (line) => this.#say(`ignored a line from the client that is not JSON-RPC: ${line.slice(0, 200)}`),
      );
      this.#input.once('end', () => void this.close());
      this.#input.once('close', () => void this.close());
    }
    const restartOn = options.restartOn ?? DEFAULT_RESTART_ON;
    this.#stopWatch =
      restartOn === false || restartOn.length === 0
        ? () => {}
        : watchRestartFiles(
            options.cwd ?? process.cwd(),
            restartOn,
            (file) => this.restart(`${file} changed`),
            (error) => this.#say(`cannot watch the restart files: ${error.message}`),
            0,
            options.first ? options.firstSpawnedAt : undefined,
          );
  }

  /** Whether the server processes serve the client's stdio themselves (direct mode). */
  get direct(): boolean {
    return this.#direct;
  }

  get childPid(): number | undefined {
    return this.#child?.gone === false ? this.#child.process.pid : undefined;
  }

  get generation(): number {
    return this.#generation;
  }

  get exitCode(): number {
    return this.#exitCode;
  }

  restart(reason: string): void {
    if (this.#state === 'closed') return;
    // A crash loop's wait: the files that changed may end it.
    if (this.#state === 'waiting') {
      this.#retryNow(reason);
      return;
    }
    if (this.#state !== 'running') {
      this.#pendingRestart ??= reason;
      return;
    }
    void this.#plannedRestart(reason);
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return this.closed;
    this.#state = 'closed';
    this.#readNotesNow();
    clearTimeout(this.#retryTimer);
    // A native watcher still subscribing when the process exits gets it aborted by Node: its stop is awaited.
    const retryWatchStopped = Promise.resolve(this.#stopRetryWatch?.()).catch(() => undefined);
    this.#waitReader?.destroy();
    this.#stopInput();
    this.#stopWatch();
    await Promise.all(
      [...this.#children.values()].map(async (child) => {
        // The client went away: a server ends on its stdin's end; a signal only if it does not.
        if (child.process.stdin) {
          child.process.stdin.end();
          await Promise.race([child.exited, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
        }
        await this.#stop(child);
      }),
    );
    await retryWatchStopped;
    this.#event({ event: 'supervisor.closed' });
    await this.#options.audit?.close?.().catch(() => undefined);
    this.#resolveClosed();
    return this.closed;
  }

  // ── the client's side ────────────────────────────────────────────────

  #fromClient(read: ReadMessage): void {
    if (this.#state === 'closed') return;
    const { message } = read;
    const isListen = this.#session.fromClient(message);
    if (isResponse(message)) {
      this.#answerServer(message);
      return;
    }
    if (isNotification(message) && message.method === 'notifications/cancelled') {
      if (this.#cancel(read)) return;
    }
    if (this.#state !== 'running') {
      this.#queue.push(read);
      return;
    }
    this.#deliver(read, isListen);
  }

  /** Send a client message to the current process. */
  #deliver(
    read: ReadMessage,
    isListen = isRequest(read.message) && this.#session.listens.has(idKey(read.message.id)),
  ): void {
    const child = this.#child;
    if (!child || child.gone) {
      this.#queue.push(read);
      return;
    }
    if (isRequest(read.message) && !isListen) {
      this.#inFlight.set(idKey(read.message.id), { id: read.message.id, generation: child.generation });
    }
    writeMessage(child.process.stdin as Writable, read.line);
  }

  /** A cancellation: drop a queued request, or send it to the process that has the request. */
  #cancel(read: ReadMessage): boolean {
    const requestId = read.message.params?.requestId;
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return false;
    const key = idKey(requestId);
    const queued = this.#queue.findIndex((q) => q.message.id === requestId && isRequest(q.message));
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
      return true;
    }
    const owner = this.#inFlight.get(key);
    const child = owner && this.#children.get(owner.generation);
    if (!child) return false;
    this.#send(child, read.line);
    this.#settled(requestId);
    return true;
  }

  /**
   * A request the client cancelled: its process may answer it or not (the SDKs do not), so no
   * drain waits for it and no crash answers it.
   */
  #settled(requestId: JsonRpcId): void {
    const key = idKey(requestId);
    const request = this.#inFlight.get(key);
    if (!request || request.cancelled) return;
    request.cancelled = true;
    // A moment to act on it (a drain that ended at once would stop the process before it read it).
    setTimeout(() => {
      if (this.#inFlight.get(key) !== request) return;
      this.#inFlight.delete(key);
      for (const check of this.#drainWaiters) check();
    }, CANCEL_GRACE_MS).unref();
  }

  /** The client answers a request of the server's: route it to the process that asked, if it still runs. */
  #answerServer(message: JsonRpcMessage & { id: JsonRpcId }): void {
    const key = idKey(message.id);
    const origin = this.#serverRequests.get(key);
    this.#serverRequests.delete(key);
    const child = origin && this.#children.get(origin.generation);
    if (!origin || !child) return;
    this.#send(child, { ...message, id: origin.id });
  }

  // ── the server's side ────────────────────────────────────────────────

  /**
   * A line from a process. The common case, the answer to one of the client's requests, is
   * forwarded as it came without being parsed; the rest is parsed and looked at.
   */
  #lineFromChild(child: Child, line: Buffer): void {
    const id = responseIdOf(line);
    if (id !== undefined) {
      const key = idKey(id);
      const session = this.#session;
      if (!this.#private.has(key) && !session.listens.has(key) && session.initialize?.id !== id) {
        if (this.#inFlight.delete(key) && this.#drainWaiters.size > 0) for (const check of this.#drainWaiters) check();
        this.#answered = true;
        child.readyAt ??= Date.now();
        writeMessage(this.#output, line);
        return;
      }
    }
    const read = parseLine(line);
    if (read === 'empty') return;
    if (read) this.#fromChild(child, read);
    else {
      const text = line.toString('utf8').replace(/\r?\n$/, '');
      this.#say(`the server wrote a line to stdout that is not JSON-RPC (kept off the wire): ${text}`);
    }
  }

  #fromChild(child: Child, { message, line }: ReadMessage): void {
    if (isResponse(message)) {
      const key = idKey(message.id);
      const waiting = this.#private.get(key);
      if (waiting) {
        this.#private.delete(key);
        waiting.resolve(message);
        return;
      }
      if (this.#inFlight.delete(key) && this.#drainWaiters.size > 0) for (const check of this.#drainWaiters) check();
      this.#session.fromServer(message);
      this.#answered = true;
      child.readyAt ??= Date.now();
      writeMessage(this.#output, line);
      return;
    }
    if (isRequest(message)) {
      const id = `hotmcp:${child.generation}:${String(message.id)}`;
      this.#serverRequests.set(idKey(id), { id: message.id, generation: child.generation });
      writeMessage(this.#output, { ...message, id });
      return;
    }
    if (message.method === 'notifications/subscriptions/acknowledged') {
      const listenId = subscriptionIdOf(message);
      if (listenId !== undefined && this.#swallowAcks.delete(idKey(listenId))) return;
    }
    this.#session.fromServer(message);
    writeMessage(this.#output, line);
  }

  #spawn(): Child {
    const generation = ++this.#generation;
    const options = this.#options;
    const proc =
      (generation === 1 && options.first) ||
      spawn(options.command, [...(options.args ?? [])], {
        cwd: options.cwd,
        ...childStdio(this.#direct, generation === 1, options.env ?? process.env),
      });
    let resolveExited!: () => void;
    const child: Child = {
      generation,
      process: proc,
      stderrTail: [],
      exited: new Promise((resolve) => {
        resolveExited = resolve;
      }),
      readyAt: undefined,
      planned: false,
      gone: false,
      heldStderr: undefined,
      stderrAll: '',
      serving: this.#direct && generation === 1,
      partial: '',
      writing: false,
      held: [],
    };
    this.#children.set(generation, child);
    proc.stdin?.on('error', () => {});
    if (proc.stdout && this.#direct) {
      readLines(proc.stdout, (line) => {
        const text = line.toString('utf8').replace(/\r?\n$/, '');
        this.#say(`the server wrote a line to its fd 1, not the client's stdout (kept off the wire): ${text}`);
      });
    } else if (proc.stdout) readLines(proc.stdout, (line) => this.#lineFromChild(child, line));
    const channel = proc.stdio[3] as Readable | null;
    if (this.#direct && channel) {
      // A process that dies with commands unread resets the channel (ECONNRESET) once its notes are read.
      channel.on('error', () => {});
      readLines(channel, (line) => this.#note(child, line));
      // While it simply serves, the notes are needed only once it ends or a restart begins: read them
      // in batches (every NOTES_EVERY_MS) rather than on each write, so that the supervisor does not
      // wake up, and take a core, for every request the client makes.
      channel.on('data', () => this.#batchNotes(child, channel));
      proc.on('exit', () => this.#readNotesNow());
    }
    let partial = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      if (child.heldStderr) child.heldStderr.push(chunk);
      else this.#log.write(chunk);
      const text = chunk.toString('utf8');
      child.stderrAll = (child.stderrAll + text).slice(-STDERR_AUDIT);
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      child.stderrTail.push(...lines.filter((l) => l.trim() !== ''));
      child.stderrTail.splice(0, Math.max(0, child.stderrTail.length - STDERR_TAIL));
    });
    proc.on('message', (message: unknown) => {
      const m = message as Partial<RestartNeededMessage> | null;
      if (m?.type === 'hotmcp:restart-needed') {
        // Code that is simply broken (a syntax error, say) stays broken in a new process: the
        // child keeps its last good version serving and has said why. Restart only when asked to.
        if (m.code !== undefined && m.code !== 'HOTMCP_ERR_RESTART_NEEDED') return;
        const where = m.file ? ` (${m.file}${m.line ? `:${m.line}` : ''})` : '';
        this.restart(`${m.reason ?? 'the server asked for a restart'}${where}`);
      }
    });
    proc.on('error', (error) => {
      this.#say(`cannot run ${options.command}: ${error.message}`);
      if (proc.pid === undefined) this.#gone(child, null, null);
    });
    proc.on('close', (code, signal) => {
      if (partial.trim() !== '') child.stderrTail.push(partial);
      this.#gone(child, code, signal);
      resolveExited();
    });
    this.#event({ event: 'child.started', generation, pid: proc.pid });
    return child;
  }

  /** A process ended: answer what it took with it, then restart unless that was the plan. */
  #gone(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    if (child.gone) return;
    // From here on, a file that changes is not the ended process's own doing (see retryOnChange).
    const endedAt = Date.now();
    child.gone = true;
    this.#children.delete(child.generation);
    const reason = signal ? `signal ${signal}` : `exit code ${code}`;
    this.#event({ event: 'child.exited', generation: child.generation, pid: child.process.pid, code, signal });
    if (child.serving) {
      // It read stdin: the next process starts after the line it left unfinished (once it handed
      // stdin over, the supervisor reads on into the prefix itself).
      if (!child.handedOver) this.#prefix = child.partial;
      // It may have died in the middle of a line to the client: end that line, so what follows parses.
      if (child.writing) writeMessage(this.#output, Buffer.from('\n'));
      for (const message of this.#outQueue.splice(0)) writeMessage(this.#output, message);
    }
    for (const [key, request] of this.#inFlight) {
      if (request.generation !== child.generation) continue;
      this.#inFlight.delete(key);
      if (request.cancelled) continue;
      this.#emit({
        jsonrpc: '2.0',
        id: request.id,
        error: {
          code: RESTARTED_ERROR_CODE,
          message: `The MCP server restarted while handling this request (${reason}); it may be retried.`,
          data: { hotmcp: 'restarted' },
        },
      });
    }
    for (const [key, origin] of this.#serverRequests) {
      if (origin.generation === child.generation) this.#serverRequests.delete(key);
    }
    for (const check of this.#drainWaiters) check();
    for (const [key, waiting] of this.#private) {
      if (waiting.generation !== child.generation) continue;
      this.#private.delete(key);
      waiting.reject(new Error(`the server process ended (${reason}) during the replayed handshake`));
    }
    if (this.#child === child) this.#child = undefined;
    // A first process that ended on its own before it answered anything (a missing entry): its code is ours.
    if (!this.#answered && !child.planned && code) this.#exitCode = code;
    if (this.#state === 'closed' || child.planned) return;
    if (!this.#answered) {
      // It never served: nothing to keep alive (its stderr said why).
      this.#exitCode = code || 1;
      void this.close();
      return;
    }

    // A process counts as having run well once it served for stableMs; one that never got
    // that far (however slow its start) is part of a crash loop.
    const backoff = this.#options.backoff ?? {};
    const served = child.readyAt !== undefined && Date.now() - child.readyAt >= (backoff.stableMs ?? 10_000);
    this.#crashes = served ? 1 : this.#crashes + 1;
    const delay =
      this.#crashes <= 1
        ? 0
        : Math.min((backoff.initialMs ?? 1000) * 2 ** (this.#crashes - 2), backoff.maxMs ?? 30_000);
    const tail = child.stderrTail.slice(-10);
    this.#say(
      `the server process ended unexpectedly (${reason}); ${delay === 0 ? 'restarting now' : `restarting in ${delay} ms`}`,
    );
    this.#event({ event: 'child.crashed', generation: child.generation, code, signal, delayMs: delay, stderr: tail });
    try {
      this.#options.audit?.record('supervisor.child_crashed', {
        generation: child.generation,
        pid: child.process.pid,
        code,
        signal,
        delayMs: delay,
        stderr: child.stderrAll,
      });
    } catch {
      // An audit sink never stops the supervisor.
    }
    this.#clientLog('error', {
      message: `hotmcp: the server process ended unexpectedly (${reason}) and is being restarted`,
      stderr: tail,
    });
    if (delay > 0) {
      const why = `the server is restarting after repeated crashes (next try in ${delay} ms)`;
      this.#failQueued(why);
      if (this.#direct) this.#readWhileWaiting(why);
    }
    this.#state = 'waiting';
    this.#retryTimer = setTimeout(() => void this.#startNext(), delay);
    // From the end on: what the process wrote itself before it ended must not end the wait (a loop with no delay).
    if (delay > 0) {
      this.#stopRetryWatch = this.#options.retryOnChange?.(
        (file) => this.#retryNow(`${file} changed`),
        endedAt,
        () => this.#event({ event: 'retry.watching' }),
      );
    }
  }

  /** A crash loop waits and something changed that may end it: start the server now, the back-off reset. */
  #retryNow(reason: string): void {
    if (this.#state !== 'waiting') return;
    clearTimeout(this.#retryTimer);
    this.#crashes = 1;
    this.#say(`${reason}: starting the server again now`);
    this.#event({ event: 'retry', reason });
    void this.#startNext();
  }

  /**
   * A planned restart: the new process starts at once, while the old one finishes the requests
   * it has (up to drainMs) and stops; the new one gets the replayed handshake and the requests
   * that waited once the old one is gone, so it starts up in the time the old one drains.
   */
  async #plannedRestart(reason: string): Promise<void> {
    this.#state = 'starting';
    // What the serving process noted since the last batch (the requests it is answering) is read
    // by the loop's next poll for I/O, before the restart decides anything on it: a check phase
    // may come before that poll, so wait for the second one.
    if (this.#readNotesNow()) {
      await new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
    }
    this.#say(`restarting the server: ${reason}`);
    this.#event({ event: 'restart', reason });
    const old = this.#child;
    if (!old || old.gone) {
      await this.#startNext();
      return;
    }
    // The old process's end is part of the plan, whether it drains and stops or crashes meanwhile.
    old.planned = true;
    // Direct mode: it stops reading stdin (what the client sends meanwhile waits in the pipe) and
    // hands back the line it read in part; it goes on answering what it has read.
    const drainMs = this.#options.drainMs ?? 5000;
    let stoppedReading = Promise.resolve();
    if (this.#direct && old.serving) {
      stoppedReading = new Promise((resolve) => {
        old.onStoppedReading = resolve;
      });
      this.#command(old, { stop: 1 });
    }
    // What it has to answer is known once it said it stopped reading: the requests it read are noted before
    // that (a request noted after the check would be taken for answered, and the process stopped under it).
    // Both waits share the one drainMs bound.
    const drained = async () => {
      const deadline = Date.now() + drainMs;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        stoppedReading,
        old.exited,
        new Promise((resolve) => {
          timer = setTimeout(resolve, drainMs);
        }),
      ]);
      clearTimeout(timer);
      await Promise.race([this.#drained(old.generation, Math.max(0, deadline - Date.now())), old.exited]);
    };
    if (!this.#overlap) {
      await drained();
      await this.#stop(old);
      if (this.#isClosed()) return;
      await this.#startNext();
      return;
    }
    const next = this.#spawn();
    // Until the old one is gone the new one's end is the restart's to handle, and its stderr waits.
    next.planned = true;
    next.heldStderr = [];
    this.#child = next;
    await drained();
    // The old process is stopped only once the new one has answered the replayed handshake: a new
    // version that cannot start (it throws at start, it exits) leaves the old one serving.
    let unanswered: string | undefined;
    if (!next.gone) {
      try {
        await this.#replay(next);
      } catch (error) {
        unanswered = (error as Error).message;
      }
    }
    if (this.#isClosed()) return;
    if (next.gone || unanswered !== undefined) {
      await this.#notStarted(old, next, next.gone ? undefined : unanswered);
      return;
    }
    await this.#stop(old);
    if (this.#isClosed()) return;
    next.planned = false;
    for (const chunk of next.heldStderr.splice(0)) this.#log.write(chunk);
    next.heldStderr = undefined;
    if (next.gone) {
      await this.#startNext(); // it ended the moment it was to serve: start it again
      return;
    }
    await this.#bringUp(next, true);
  }

  /**
   * A planned restart's new process ended (or did not answer the replayed handshake, `unanswered`)
   * while the old one still ran. It needed what the old one holds (its stderr names a port or a
   * lock in use; or it waited for one and never answered): it starts again once the old one is
   * gone, and from then on only so. Otherwise the new version is what fails: the old process,
   * still there, serves on until the next change asks again.
   */
  async #notStarted(old: Child, next: Child, unanswered: string | undefined): Promise<void> {
    if (!next.gone) {
      next.process.kill('SIGKILL');
      await next.exited;
    }
    next.planned = false;
    for (const chunk of next.heldStderr?.splice(0) ?? []) this.#log.write(chunk);
    next.heldStderr = undefined;
    if (this.#isClosed()) return;
    const why = [...next.stderrTail].reverse().find((line) => /error/i.test(line)) ?? next.stderrTail.at(-1);
    const held = unanswered !== undefined || next.stderrTail.some((line) => HELD_ELSEWHERE.test(line));
    if (old.gone || held) {
      if (!old.gone) {
        this.#overlap = false;
        this.#say(
          `the new server process ${unanswered === undefined ? 'ended' : `did not answer (${unanswered})`} while the old one still ran${why ? ` (${why.trim()})` : ''}; starting it again, and from now on only once the old one has stopped`,
        );
        await this.#stop(old);
        if (this.#isClosed()) return;
      }
      await this.#startNext();
      return;
    }
    const { exitCode, signalCode } = next.process;
    const ended = signalCode ? `signal ${signalCode}` : `exit code ${exitCode}`;
    this.#say(
      `the new server process ended before it answered (${ended}${why ? `: ${why.trim()}` : ''}); not restarted: the running version (pid ${old.process.pid}) serves until the next change`,
    );
    this.#event({ event: 'restart.failed', generation: next.generation, code: exitCode, signal: signalCode });
    try {
      this.#options.audit?.record('supervisor.restart_failed', {
        generation: next.generation,
        pid: next.process.pid,
        code: exitCode,
        signal: signalCode,
        stderr: next.stderrAll,
      });
    } catch {
      // An audit sink never stops the supervisor.
    }
    // The old process serves again: it reads the client's stdin (direct mode) or gets what waited.
    old.planned = false;
    this.#child = old;
    if (this.#direct) {
      this.#stopReadingWhileWaiting();
      old.handedOver = false;
      this.#handStdinTo(old);
      this.#state = 'running';
    } else {
      this.#state = 'running';
      this.#letQueuedThrough();
    }
    const pending = this.#pendingRestart;
    this.#pendingRestart = undefined;
    if (pending) this.restart(pending);
  }

  /** Resolves once no request the process of `generation` took is open, or after `ms`. */
  #drained(generation: number, ms: number): Promise<void> {
    const busy = () => {
      for (const request of this.#inFlight.values()) if (request.generation === generation) return true;
      return false;
    };
    if (!busy()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#drainWaiters.delete(check);
        resolve();
      };
      const check = () => {
        if (!busy()) done();
      };
      const timer = setTimeout(done, ms);
      this.#drainWaiters.add(check);
    });
  }

  async #startNext(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#stopReadingWhileWaiting();
    this.#stopRetryWatch?.();
    this.#stopRetryWatch = undefined;
    this.#state = 'starting';
    const child = this.#spawn();
    this.#child = child;
    await this.#bringUp(child);
  }

  /** Replay the handshake to a started process (unless `replayed`), then let the waiting requests through to it. */
  async #bringUp(child: Child, replayed = false): Promise<void> {
    try {
      if (!replayed) await this.#replay(child);
    } catch (error) {
      this.#say(`the restarted server did not take the replayed handshake: ${(error as Error).message}`);
      if (!child.gone) child.process.kill('SIGKILL');
      return;
    }
    if (this.#isClosed() || child.gone) return;
    if (this.#direct) {
      // No process owns stdout now: what the new one said while starting, the list_changed, then it serves.
      for (const line of child.held.splice(0)) this.#emit(Buffer.from(line));
      this.#announceLists();
      await new Promise<void>((resolve) => this.#output.write('', () => resolve()));
      if (this.#isClosed() || child.gone) return;
      this.#stopReadingWhileWaiting();
      child.serving = true;
      this.#handStdinTo(child);
      child.readyAt ??= Date.now();
      this.#state = 'running';
    } else {
      child.readyAt ??= Date.now();
      this.#state = 'running';
      this.#letQueuedThrough();
      this.#announceLists();
    }
    const pending = this.#pendingRestart;
    this.#pendingRestart = undefined;
    if (pending) this.restart(pending);
  }

  /**
   * Direct mode: `child` reads the client's stdin from what the supervisor read of it on. The
   * prefix may hold whole lines (read while the old process drained): they are this process's
   * from now on (should it end before it notes them, their requests are answered); what it has
   * read only in part is what follows the last of them.
   */
  #handStdinTo(child: Child): void {
    const prefix = Buffer.from(this.#prefix, 'base64');
    const last = prefix.lastIndexOf(0x0a);
    for (const line of last < 0 ? [] : prefix.subarray(0, last).toString('utf8').split('\n')) {
      const read = parseLine(Buffer.from(line));
      if (read && read !== 'empty' && isRequest(read.message)) {
        this.#inFlight.set(idKey(read.message.id), { id: read.message.id, generation: child.generation });
      }
    }
    child.partial = prefix.subarray(last + 1).toString('base64');
    this.#command(child, { start: this.#prefix });
    this.#prefix = '';
  }

  /** Relay mode: the messages that waited for a process, in order, to the one that serves now. */
  #letQueuedThrough(): void {
    for (const read of this.#queue.splice(0)) {
      if (isResponse(read.message)) this.#answerServer(read.message);
      else this.#deliver(read);
    }
  }

  /** Bring a new process to where the client left the old one. */
  async #replay(child: Child): Promise<void> {
    const session = this.#session;
    if (session.initialize) {
      const answer = await this.#request(child, 'initialize', session.initialize.params ?? {});
      if (answer.error) throw new Error(`initialize failed: ${answer.error.message}`);
      const result = answer.result ?? {};
      if (session.initializeResult) {
        const differences = handshakeDifferences(session.initializeResult, result);
        if (differences.length > 0) {
          const text = `the restarted server differs from what the client was told at initialize: ${differences.join('; ')}; the client keeps the first answer — reconnect it to see the change`;
          this.#say(text);
          this.#event({ event: 'handshake.differs', differences });
          this.#clientLog('warning', { message: `hotmcp: ${text}` });
        }
      } else {
        session.initializeResult = result;
      }
    }
    if (session.initialized) {
      this.#send(child, { jsonrpc: '2.0', method: 'notifications/initialized' });
    }
    if (session.logLevel) {
      await this.#request(child, 'logging/setLevel', { level: session.logLevel }).catch(() => undefined);
    }
    for (const uri of session.resourceSubscriptions) {
      await this.#request(child, 'resources/subscribe', { uri }).catch(() => undefined);
    }
    for (const [key, listen] of session.listens) {
      this.#swallowAcks.add(key);
      this.#send(child, listen);
    }
  }

  /** Tell the client every list may have changed: the new process may serve other tools than the old. */
  #announceLists(): void {
    const session = this.#session;
    const capabilities = (session.initializeResult?.capabilities ?? {}) as Record<string, unknown>;
    const kinds = ['tools', 'prompts', 'resources'] as const;
    if (session.initialize) {
      for (const kind of kinds) {
        if (capabilities[kind]) this.#emit({ jsonrpc: '2.0', method: `notifications/${kind}/list_changed` });
      }
    }
    for (const [key, filter] of session.listenFilters) {
      const listen = session.listens.get(key);
      if (!listen) continue;
      for (const kind of kinds) {
        if (!filter[`${kind}ListChanged`]) continue;
        this.#emit({
          jsonrpc: '2.0',
          method: `notifications/${kind}/list_changed`,
          params: { _meta: { [SUBSCRIPTION_ID_META_KEY]: listen.id } },
        });
      }
    }
  }

  #request(child: Child, method: string, params: Record<string, unknown>): Promise<JsonRpcMessage> {
    const id = `${PRIVATE_ID_PREFIX}${++this.#privateIds}`;
    const timeoutMs = this.#options.handshakeTimeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#private.delete(idKey(id));
        reject(new Error(`no answer to ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#private.set(idKey(id), {
        generation: child.generation,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#send(child, { jsonrpc: '2.0', id, method, params });
    });
  }

  async #stop(child: Child): Promise<void> {
    if (child.gone) return;
    child.process.stdin?.end();
    child.process.kill('SIGTERM');
    const killer = setTimeout(() => {
      if (!child.gone) child.process.kill('SIGKILL');
    }, 3000);
    await child.exited;
    clearTimeout(killer);
  }

  /** Answer the requests waiting for a process (a crash loop may keep them waiting long); keep the rest. */
  #failQueued(why: string): void {
    const keep: ReadMessage[] = [];
    for (const read of this.#queue.splice(0)) {
      const m = read.message;
      if (!isRequest(m) || this.#session.listens.has(idKey(m.id))) {
        keep.push(read);
        continue;
      }
      this.#emit({
        jsonrpc: '2.0',
        id: m.id,
        error: { code: RESTARTED_ERROR_CODE, message: `${why}; it may be retried.`, data: { hotmcp: 'restarting' } },
      });
    }
    this.#queue.push(...keep);
  }

  #clientLog(level: 'error' | 'warning', data: Record<string, unknown>): void {
    const order = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];
    const wanted = this.#session.logLevel;
    if (wanted && order.indexOf(level) < order.indexOf(wanted)) return;
    this.#emit({
      jsonrpc: '2.0',
      method: 'notifications/message',
      params: { level, logger: 'hotmcp', data },
    });
  }

  /** Send a message to a process as if the client sent it. */
  #send(child: Child, message: JsonRpcMessage | string): void {
    if (!this.#direct) {
      writeMessage(child.process.stdin as Writable, message);
      return;
    }
    this.#command(child, { in: typeof message === 'string' ? message : JSON.stringify(message) });
  }

  /**
   * Direct mode: after a chunk of notes from the process that serves, stop reading its channel
   * for NOTES_EVERY_MS (what it writes meanwhile waits in the pipe; its writes block only if
   * the pipe fills). Any other time — a restart, a process starting or ending — notes are read
   * as they come.
   */
  #batchNotes(child: Child, channel: Readable): void {
    if (child.notesPaused || child !== this.#child || !child.serving || this.#state !== 'running') return;
    const handle = (channel as Readable & { _handle?: PipeHandle | null })._handle;
    if (typeof handle?.readStop !== 'function' || typeof handle.readStart !== 'function') return;
    handle.readStop();
    child.notesPaused = () => {
      clearTimeout(timer);
      child.notesPaused = undefined;
      if (!channel.destroyed) handle.readStart();
    };
    const timer = setTimeout(() => child.notesPaused?.(), NOTES_EVERY_MS);
  }

  /** Direct mode: read every process's notes as they come again; true if some were waiting. */
  #readNotesNow(): boolean {
    let paused = false;
    for (const child of this.#children.values()) {
      if (!child.notesPaused) continue;
      paused = true;
      child.notesPaused();
    }
    return paused;
  }

  /** Direct mode: a command on a process's channel. */
  #command(child: Child, command: Record<string, unknown>): void {
    const channel = child.process.stdio[3] as Writable | null;
    if (channel) writeMessage(channel, JSON.stringify(command));
  }

  /**
   * Write a message of the supervisor's own to the client. Direct mode: only while no process
   * owns stdout (two writers could interleave the bytes of their lines); else it waits for that
   * process to end.
   */
  #emit(message: JsonRpcMessage | Buffer): void {
    if (this.#direct && [...this.#children.values()].some((child) => child.serving)) this.#outQueue.push(message);
    else writeMessage(this.#output, message);
  }

  /** Direct mode: a note from a process (see supervised-stdio.ts). */
  #note(child: Child, line: Buffer): void {
    let note: Record<string, unknown>;
    try {
      note = JSON.parse(line.toString('utf8')) as Record<string, unknown>;
    } catch {
      return;
    }
    if (Array.isArray(note.r)) {
      for (const id of note.r as JsonRpcId[]) this.#inFlight.set(idKey(id), { id, generation: child.generation });
    }
    if (Array.isArray(note.k)) {
      for (const message of note.k as JsonRpcMessage[]) {
        // A listen stream stays open for good: it is replayed, never failed.
        if (this.#session.fromClient(message)) this.#inFlight.delete(idKey(message.id as JsonRpcId));
        else if (message.method === 'notifications/cancelled') {
          this.#forwardCancel(child, message);
          const requestId = message.params?.requestId;
          if (typeof requestId === 'string' || typeof requestId === 'number') this.#settled(requestId);
        }
      }
    }
    if (typeof note.p === 'string') child.partial = note.p;
    if (typeof note.pa === 'string') {
      child.partial = Buffer.concat([Buffer.from(child.partial, 'base64'), Buffer.from(note.pa, 'base64')]).toString(
        'base64',
      );
    }
    if (Array.isArray(note.d)) {
      for (const id of note.d as JsonRpcId[]) this.#inFlight.delete(idKey(id));
      this.#answered = true;
      child.readyAt ??= Date.now();
      for (const check of this.#drainWaiters) check();
    }
    if (note.s && typeof note.s === 'object') this.#session.fromServer(note.s as JsonRpcMessage);
    if (note.w !== undefined) child.writing = note.w === 1;
    if (typeof note.o === 'string') this.#heldLine(child, note.o);
    // The client's answer to a request a process sent before a restart: to that process (the
    // others drop it), if it still runs.
    if (typeof note.a === 'string') {
      for (const other of this.#children.values()) if (other !== child && !other.gone) this.#send(other, note.a);
    }
    if (typeof note.left === 'string') {
      child.partial = note.left;
      child.onStoppedReading?.();
      child.onStoppedReading = undefined;
      this.#event({ event: 'child.stopped_reading', generation: child.generation });
      if (child.planned && child.serving && !child.gone && this.#state === 'starting') this.#readWhileDraining(child);
    }
    if (note.eof) void this.close();
  }

  /**
   * Direct mode, while no process runs for a crash loop's wait: read the client's stdin, answer
   * its requests with an error (as in relay mode a request waiting for a process is), keep what it
   * sets up for the next process, and notice when it goes away.
   */
  #readWhileWaiting(why: string): void {
    this.#readLinesWhile((message) => {
      if (!message || this.#session.fromClient(message) || !isRequest(message)) return false;
      writeMessage(this.#output, {
        jsonrpc: '2.0',
        id: message.id,
        error: { code: RESTARTED_ERROR_CODE, message: `${why}; it may be retried.`, data: { hotmcp: 'restarting' } },
      });
      return false;
    });
  }

  /**
   * Direct mode, while an old process drains after a planned restart (it stopped reading stdin
   * and handed back the line it left) and the new one does not serve yet: read the client's
   * stdin so that what the old process still waits for reaches it — the client's answers to its
   * requests (sampling, elicitation; their ids name the process) and cancellations of its
   * requests. Every other line is kept, in order, for the new process.
   */
  #readWhileDraining(old: Child): void {
    old.handedOver = true;
    this.#prefix = old.partial;
    this.#readLinesWhile((message) => {
      if (message && isResponse(message) && typeof message.id === 'string' && message.id.startsWith('hotmcp:')) {
        // Each process takes only the answers to its own requests.
        for (const child of this.#children.values()) if (!child.gone) this.#send(child, message);
        return false;
      }
      if (message && isNotification(message) && message.method === 'notifications/cancelled') {
        const requestId = message.params?.requestId;
        const owner =
          typeof requestId === 'string' || typeof requestId === 'number'
            ? this.#inFlight.get(idKey(requestId))
            : undefined;
        const child = owner && this.#children.get(owner.generation);
        if (child && !child.gone) {
          this.#send(child, message);
          this.#settled(requestId as JsonRpcId);
          return false;
        }
      }
      return true;
    });
  }

  /**
   * Direct mode: read the client's stdin a whole line at a time, from what {@link #prefix} holds
   * on: `keep` is given each line's message (undefined for a line that is none) and says whether
   * the line waits, in order, for the next process. Kept lines and the partial last one stay in
   * {@link #prefix}.
   */
  #readLinesWhile(keep: (message: JsonRpcMessage | undefined) => boolean): void {
    const take = (data: Buffer) => {
      const chunk = Buffer.concat([Buffer.from(this.#prefix, 'base64'), data]);
      const last = chunk.lastIndexOf(0x0a);
      const kept: Buffer[] = [];
      let start = 0;
      for (let end = chunk.indexOf(0x0a); end >= 0 && end <= last; end = chunk.indexOf(0x0a, start)) {
        const line = chunk.subarray(start, end + 1);
        start = end + 1;
        const read = parseLine(line);
        if (keep(read && read !== 'empty' ? read.message : undefined)) kept.push(line);
      }
      kept.push(chunk.subarray(last + 1));
      this.#prefix = Buffer.concat(kept).toString('base64');
    };
    take(Buffer.alloc(0));
    this.#readStdin(take);
  }

  /** Direct mode: read the client's stdin into `take` (until {@link #stopReadingWhileWaiting}). */
  #readStdin(take: (data: Buffer) => void): void {
    this.#waitTake = take;
    if (!this.#waitReader) {
      const buffer = Buffer.allocUnsafe(64 * 1024);
      this.#waitReader = new Socket({
        fd: 0,
        readable: true,
        writable: false,
        // With a buffer of its own, pause() stops reading at once: what follows stays in the pipe for the next process.
        onread: {
          buffer,
          callback: (size: number) => {
            this.#waitTake?.(Buffer.from(buffer.subarray(0, size)));
            return true;
          },
        },
      } as ConstructorParameters<typeof Socket>[0])
        .on('end', () => void this.close())
        .on('error', () => void this.close());
    }
    this.#waitReader.resume();
  }

  #stopReadingWhileWaiting(): void {
    this.#waitReader?.pause();
    this.#waitTake = undefined;
  }

  /** Direct mode: a cancellation read by one process for a request another (draining) process has. */
  #forwardCancel(reader: Child, message: JsonRpcMessage): void {
    const requestId = message.params?.requestId;
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
    const owner = this.#inFlight.get(idKey(requestId));
    const child = owner && owner.generation !== reader.generation ? this.#children.get(owner.generation) : undefined;
    if (child) this.#send(child, message);
  }

  /** Direct mode: a line a process wrote before it served: an answer to the replay, or one for the client later. */
  #heldLine(child: Child, text: string): void {
    for (const line of text.split('\n')) {
      const read = parseLine(Buffer.from(line));
      if (!read || read === 'empty') continue;
      const { message } = read;
      if (isResponse(message)) {
        const waiting = this.#private.get(idKey(message.id));
        if (waiting) {
          this.#private.delete(idKey(message.id));
          waiting.resolve(message);
          continue;
        }
      }
      if (message.method === 'notifications/subscriptions/acknowledged') {
        const listenId = subscriptionIdOf(message);
        if (listenId !== undefined && this.#swallowAcks.delete(idKey(listenId))) continue;
      }
      this.#session.fromServer(message);
      child.held.push(`${read.line}\n`);
    }
  }

  /** Read through a method: the state changes across awaits. */
  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #say(text: string): void {
    this.#log.write(`hotmcp: ${text}\n`);
  }

  #event(event: SupervisorEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch {
      // An event sink never stops the supervisor.
    }
  }
}
