import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { RestartNeededMessage } from '../dev/reporter.js';
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
   * The first server process, already spawned by the caller from `command` and `args` (with stdio
   * `['pipe', 'pipe', 'pipe', 'ipc']`), so it boots while the supervisor's code loads.
   */
  first?: ChildProcess;
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
  /** How long requests in flight may finish before a planned restart stops the process. Default 5 s. */
  drainMs?: number;
  /** How long a new process may take to answer the replayed handshake. Default 30 s. */
  handshakeTimeoutMs?: number;
  /** Receives every event (`child.started`, `child.crashed`, `restart`, `handshake.differs`, …). */
  onEvent?: (event: SupervisorEvent) => void;
}

/** A running supervisor. */
export interface Supervisor {
  /** The pid of the server process serving now, if one runs. */
  readonly childPid: number | undefined;
  /** How many server processes have been started. */
  readonly generation: number;
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
}

interface InFlight {
  id: JsonRpcId;
  generation: number;
}

const STDERR_TAIL = 20;
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
    this.#child = this.#spawn();
    this.#stopInput = readMessages(
      this.#input,
      (read) => this.#fromClient(read),
      (line) => this.#say(`ignored a line from the client that is not JSON-RPC: ${line.slice(0, 200)}`),
    );
    this.#input.once('end', () => void this.close());
    this.#input.once('close', () => void this.close());
    const restartOn = options.restartOn ?? DEFAULT_RESTART_ON;
    this.#stopWatch =
      restartOn === false || restartOn.length === 0
        ? () => {}
        : watchRestartFiles(
            options.cwd ?? process.cwd(),
            restartOn,
            (file) => this.restart(`${file} changed`),
            (error) => this.#say(`cannot watch the restart files: ${error.message}`),
          );
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
    // A process about to be spawned reads the files as they are now: nothing to add.
    if (this.#state === 'waiting') return;
    if (this.#state !== 'running') {
      this.#pendingRestart ??= reason;
      return;
    }
    void this.#plannedRestart(reason);
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return this.closed;
    this.#state = 'closed';
    clearTimeout(this.#retryTimer);
    this.#stopInput();
    this.#stopWatch();
    await Promise.all(
      [...this.#children.values()].map(async (child) => {
        // The client went away: a server ends on its stdin's end; a signal only if it does not.
        child.process.stdin?.end();
        await Promise.race([child.exited, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
        await this.#stop(child);
      }),
    );
    this.#event({ event: 'supervisor.closed' });
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
    writeMessage(child.process.stdin as Writable, read.line);
    return true;
  }

  /** The client answers a request of the server's: route it to the process that asked, if it still runs. */
  #answerServer(message: JsonRpcMessage & { id: JsonRpcId }): void {
    const key = idKey(message.id);
    const origin = this.#serverRequests.get(key);
    this.#serverRequests.delete(key);
    const child = origin && this.#children.get(origin.generation);
    if (!origin || !child) return;
    writeMessage(child.process.stdin as Writable, { ...message, id: origin.id });
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
        env: options.env ?? process.env,
        stdio: ['pipe', 'pipe', 'pipe', 'ipc'],
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
    };
    this.#children.set(generation, child);
    proc.stdin?.on('error', () => {});
    if (proc.stdout) readLines(proc.stdout, (line) => this.#lineFromChild(child, line));
    let partial = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      if (child.heldStderr) child.heldStderr.push(chunk);
      else this.#log.write(chunk);
      const lines = (partial + chunk.toString('utf8')).split('\n');
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
    child.gone = true;
    this.#children.delete(child.generation);
    const reason = signal ? `signal ${signal}` : `exit code ${code}`;
    for (const [key, request] of this.#inFlight) {
      if (request.generation !== child.generation) continue;
      this.#inFlight.delete(key);
      writeMessage(this.#output, {
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
    this.#clientLog('error', {
      message: `hotmcp: the server process ended unexpectedly (${reason}) and is being restarted`,
      stderr: tail,
    });
    if (delay > 0) this.#failQueued(`the server is restarting after repeated crashes (next try in ${delay} ms)`);
    this.#state = 'waiting';
    this.#retryTimer = setTimeout(() => void this.#startNext(), delay);
  }

  /**
   * A planned restart: the new process starts at once, while the old one finishes the requests
   * it has (up to drainMs) and stops; the new one gets the replayed handshake and the requests
   * that waited once the old one is gone, so it starts up in the time the old one drains.
   */
  async #plannedRestart(reason: string): Promise<void> {
    this.#state = 'starting';
    this.#say(`restarting the server: ${reason}`);
    this.#event({ event: 'restart', reason });
    const old = this.#child;
    if (!old || old.gone) {
      await this.#startNext();
      return;
    }
    // The old process's end is part of the plan, whether it drains and stops or crashes meanwhile.
    old.planned = true;
    const drained = () => Promise.race([this.#drained(old.generation, this.#options.drainMs ?? 5000), old.exited]);
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
    await this.#stop(old);
    if (this.#isClosed()) return;
    if (next.gone) {
      // It ended while the old one still ran: it needs what the old one held (a port, a lock).
      // From now on the old process goes first; this one starts again now that it is gone.
      this.#overlap = false;
      const why = [...next.stderrTail].reverse().find((line) => /error/i.test(line)) ?? next.stderrTail.at(-1);
      this.#say(
        `the new server process ended while the old one still ran${why ? ` (${why.trim()})` : ''}; starting it again, and from now on only once the old one has stopped`,
      );
      await this.#startNext();
      return;
    }
    next.planned = false;
    for (const chunk of next.heldStderr.splice(0)) this.#log.write(chunk);
    next.heldStderr = undefined;
    await this.#bringUp(next);
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
    this.#state = 'starting';
    const child = this.#spawn();
    this.#child = child;
    await this.#bringUp(child);
  }

  /** Replay the handshake to a started process, then let the waiting requests through to it. */
  async #bringUp(child: Child): Promise<void> {
    try {
      await this.#replay(child);
    } catch (error) {
      this.#say(`the restarted server did not take the replayed handshake: ${(error as Error).message}`);
      if (!child.gone) child.process.kill('SIGKILL');
      return;
    }
    if (this.#isClosed() || child.gone) return;
    child.readyAt ??= Date.now();
    this.#state = 'running';
    for (const read of this.#queue.splice(0)) {
      if (isResponse(read.message)) this.#answerServer(read.message);
      else this.#deliver(read);
    }
    this.#announceLists();
    const pending = this.#pendingRestart;
    this.#pendingRestart = undefined;
    if (pending) this.restart(pending);
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
      writeMessage(child.process.stdin as Writable, { jsonrpc: '2.0', method: 'notifications/initialized' });
    }
    if (session.logLevel) {
      await this.#request(child, 'logging/setLevel', { level: session.logLevel }).catch(() => undefined);
    }
    for (const uri of session.resourceSubscriptions) {
      await this.#request(child, 'resources/subscribe', { uri }).catch(() => undefined);
    }
    for (const [key, listen] of session.listens) {
      this.#swallowAcks.add(key);
      writeMessage(child.process.stdin as Writable, listen);
    }
  }

  /** Tell the client every list may have changed: the new process may serve other tools than the old. */
  #announceLists(): void {
    const session = this.#session;
    const capabilities = (session.initializeResult?.capabilities ?? {}) as Record<string, unknown>;
    const kinds = ['tools', 'prompts', 'resources'] as const;
    if (session.initialize) {
      for (const kind of kinds) {
        if (capabilities[kind])
          writeMessage(this.#output, { jsonrpc: '2.0', method: `notifications/${kind}/list_changed` });
      }
    }
    for (const [key, filter] of session.listenFilters) {
      const listen = session.listens.get(key);
      if (!listen) continue;
      for (const kind of kinds) {
        if (!filter[`${kind}ListChanged`]) continue;
        writeMessage(this.#output, {
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
      writeMessage(child.process.stdin as Writable, { jsonrpc: '2.0', id, method, params });
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
      writeMessage(this.#output, {
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
    writeMessage(this.#output, {
      jsonrpc: '2.0',
      method: 'notifications/message',
      params: { level, logger: 'hotmcp', data },
    });
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
