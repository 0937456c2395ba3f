/**
 * The server's side of the supervisor's direct mode. The process inherits
 * the client's stdin and stdout and serves them itself, so no message
 * crosses the supervisor; on a channel (a pipe on the fd named by
 * `HOTMCP_SUPERVISOR_FD`, JSON lines both ways) it tells the supervisor what
 * the supervisor needs to take over when this process ends: the id of every
 * request it read (written synchronously, before the request is dispatched,
 * so it survives a crash), the bytes of a line it read only in part, the
 * client's messages a new process must be brought to (initialize, logging
 * level, subscriptions...), and the ids it has answered.
 *
 * Notes to the supervisor: `r` request ids read, `k` session messages read,
 * `p` the unfinished line (base64) when it changed (`pa`: bytes added to it), `d` ids answered, `s`
 * session messages written, `w` 1/0 while a write to stdout is in part,
 * `o` a line written while not yet serving (the supervisor's replay),
 * `a` the client's answer to a request another process sent (for the
 * supervisor to hand over), `left` the unfinished line once stopped, `eof`
 * the client closed stdin.
 * The requests this process sends the client (sampling, elicitation, roots)
 * go out with their ids tagged with its pid, so an answer that reaches
 * another process after a restart is handed back to this one.
 * From the supervisor: `in` a line to handle as if the client sent it,
 * `start` start serving stdin after this prefix (base64), or serve it again
 * after a `stop` (a restart whose new process did not start), `stop` stop
 * reading stdin and hand back the unfinished line.
 */
import { writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { type JsonRpcId, type JsonRpcMessage, readLines, requestOf, responseIdOf } from '../supervisor/json-rpc.js';

/**
 * The environment variable naming the channel's fd, and the fds of the client's stdin and stdout
 * (`3,5,6`; default 0 and 1); a trailing `w`: wait for `start` before reading stdin.
 */
export const SUPERVISOR_FD_ENV = 'HOTMCP_SUPERVISOR_FD';

/** The client's messages a new process must replay, and cancellations (which may belong to another process). */
const SESSION_METHODS = new Set([
  'initialize',
  'notifications/initialized',
  'logging/setLevel',
  'resources/subscribe',
  'resources/unsubscribe',
  'subscriptions/listen',
  'notifications/cancelled',
]);
const PRIVATE_ID_PREFIX = 'hotmcp-supervisor:';
/** The ids of the requests a process sends the client: `hotmcp:<pid>:<its own id>`. */
const ASKED_ID = /^hotmcp:(\d+):/;
const NEWLINE = 0x0a;
const EMPTY = Buffer.alloc(0);

/**
 * When the supervisor asked for direct mode (its environment variable is
 * set), replace `process.stdin` and `process.stdout` with the supervised
 * streams before any transport takes them. Returns whether it did.
 */
export function superviseStdio(): boolean {
  const spec = process.env[SUPERVISOR_FD_ENV];
  if (!spec) return false;
  delete process.env[SUPERVISOR_FD_ENV];
  const waitForStart = spec.endsWith('w');
  const [fd = Number.NaN, inFd = 0, outFd = 1] = spec.replace(/w$/, '').split(',').map(Number);
  if (!(fd > 2) || !(inFd >= 0) || !(outFd >= 0)) return false;

  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const note = (value: Record<string, unknown>) => {
    const bytes = Buffer.from(`${JSON.stringify(value)}\n`);
    let offset = 0;
    while (offset < bytes.length) {
      try {
        offset += writeSync(fd, bytes, offset);
      } catch (error) {
        // The channel's socket is non-blocking once read: wait for room. Anything else: the supervisor is gone.
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
        Atomics.wait(sleeper, 0, 0, 1);
      }
    }
  };

  // Answered ids go to the supervisor with the next note, or within a millisecond.
  let done: JsonRpcId[] = [];
  let doneTimer: NodeJS.Timeout | undefined;
  const flushDone = () => {
    clearTimeout(doneTimer);
    doneTimer = undefined;
    if (done.length === 0) return;
    note({ d: done });
    done = [];
  };
  const answered = (id: JsonRpcId) => {
    done.push(id);
    doneTimer ??= setTimeout(flushDone, 1);
  };
  process.on('exit', flushDone);

  // ── the requests this process sends the client, and their answers ──
  const tag = `hotmcp:${process.pid}:`;
  /** Tagged id → the id the server gave its request. */
  const asked = new Map<string, JsonRpcId>();
  /**
   * An answer of the client to a request of this process gets its own id back; one to another
   * process's request (sent before a restart) goes to the supervisor (`a`), or, handed here by
   * the supervisor, is not for this process: `undefined`, the line is dropped.
   */
  const answerFor = (message: JsonRpcMessage, fromClient: boolean): Buffer | undefined => {
    const id = message.id as string;
    const own = asked.get(id);
    if (own !== undefined) {
      asked.delete(id);
      return Buffer.from(`${JSON.stringify({ ...message, id: own })}\n`);
    }
    if (fromClient && !id.startsWith(tag)) note({ a: JSON.stringify(message) });
    return undefined;
  };
  const isAnswerToTagged = (message: JsonRpcMessage | undefined): boolean =>
    message !== undefined &&
    message.method === undefined &&
    typeof message.id === 'string' &&
    ASKED_ID.test(message.id) &&
    ('result' in message || 'error' in message);

  // ── stdout: the client's, once serving; until then, lines go to the supervisor ──
  const real = outFd === 1 ? process.stdout : new Socket({ fd: outFd, readable: false, writable: true });
  let serving = !waitForStart;
  let partialWrite = false;
  /** Request ids whose answer changes the session: the client's initialize and listen streams. */
  const watched = new Set<JsonRpcId>();
  const flushed = () => {
    if (partialWrite && real.writableLength === 0) {
      partialWrite = false;
      note({ w: 0 });
    }
  };
  const stdout = new Writable({
    write(written: Buffer, _encoding, callback) {
      let chunk = written;
      if (!serving) {
        note({ o: chunk.toString('utf8') });
        callback();
        return;
      }
      const fast = responseIdOf(chunk);
      let id: JsonRpcId | undefined = fast;
      if (fast === undefined || watched.has(fast)) {
        const message = parse(chunk);
        if (message && typeof message.method === 'string' && message.id != null) {
          // A request to the client: sent under an id that says which process asked.
          const tagged = `${tag}${String(message.id)}`;
          asked.set(tagged, message.id);
          chunk = Buffer.from(`${JSON.stringify({ ...message, id: tagged })}\n`);
        }
        id = message && message.method === undefined && message.id != null ? message.id : undefined;
        if (typeof id === 'string' && id.startsWith(PRIVATE_ID_PREFIX)) {
          note({ o: chunk.toString('utf8') });
          callback();
          return;
        }
        if (
          message &&
          (watched.has(id as JsonRpcId) || message.method === 'notifications/subscriptions/acknowledged')
        ) {
          note({ s: message });
        }
      }
      // Answered once the whole line is in the pipe: at once when the write went through whole (so
      // a process.exit right after still notes it), else when the rest has been written.
      let whole = false;
      real.write(chunk, () => {
        if (!whole && id !== undefined) answered(id);
        flushed();
      });
      if (real.writableLength === 0) {
        whole = true;
        if (id !== undefined) answered(id);
      } else if (!partialWrite) {
        partialWrite = true;
        note({ w: 1 });
      }
      callback();
    },
  });

  // ── stdin: read here, noted, then handed to the transport ──
  const stdin = new Readable({ read() {} });
  let pending: Buffer = EMPTY;
  let reader: Socket | undefined;
  const take = (data: Buffer) => {
    const hadPending = pending.length > 0;
    const chunk = hadPending ? Buffer.concat([pending, data]) : data;
    const last = chunk.lastIndexOf(NEWLINE);
    pending = Buffer.from(chunk.subarray(last + 1));
    if (last < 0) {
      // A line still unfinished: the supervisor keeps its bytes for the next process, should this one end.
      note(hadPending ? { pa: data.toString('base64') } : { p: pending.toString('base64') });
      return;
    }
    let lines = Buffer.from(chunk.subarray(0, last + 1));
    const ids: JsonRpcId[] = [];
    const kept: JsonRpcMessage[] = [];
    /** Set when an answer's line is replaced: the lines handed to the transport, in order. */
    let rewritten: Buffer[] | undefined;
    let start = 0;
    for (let end = lines.indexOf(NEWLINE); end >= 0; end = lines.indexOf(NEWLINE, start)) {
      const line = lines.subarray(start, end + 1);
      const lineStart = start;
      start = end + 1;
      // The common case, a request of a method that sets nothing up, is noted without being parsed.
      const request = requestOf(line);
      if (request && !SESSION_METHODS.has(request.method)) {
        ids.push(request.id);
        rewritten?.push(line);
        continue;
      }
      const message = parse(line);
      if (message && isAnswerToTagged(message)) {
        rewritten ??= [lines.subarray(0, lineStart)];
        const answer = answerFor(message, true);
        if (answer) rewritten.push(answer);
        continue;
      }
      rewritten?.push(line);
      if (!message || typeof message.method !== 'string') continue;
      if (message.id != null) ids.push(message.id);
      if (SESSION_METHODS.has(message.method)) {
        kept.push(message);
        if (message.id != null) watched.add(message.id);
      }
    }
    const value: Record<string, unknown> = {};
    if (ids.length > 0) value.r = ids;
    if (kept.length > 0) value.k = kept;
    if (pending.length > 0 || hadPending) value.p = pending.toString('base64');
    if (done.length > 0) {
      value.d = done;
      done = [];
    }
    // Written before the transport sees the lines: should this process die handling them, the supervisor knows.
    if (Object.keys(value).length > 0) note(value);
    if (rewritten) lines = Buffer.concat(rewritten);
    if (lines.length > 0) stdin.push(lines);
  };
  const startReading = (prefix: Buffer) => {
    serving = true;
    // What the last reader left: an unfinished line, or whole lines too.
    if (prefix.length > 0) take(prefix);
    if (reader) {
      reader.resume(); // told to stop for a restart whose new process did not start: this one serves on
      return;
    }
    const buffer = Buffer.allocUnsafe(64 * 1024);
    reader = new Socket({
      fd: inFd,
      readable: true,
      writable: false,
      onread: {
        buffer,
        callback: (size: number) => {
          take(Buffer.from(buffer.subarray(0, size)));
          return true;
        },
      },
    } as ConstructorParameters<typeof Socket>[0]);
    reader.on('end', () => {
      flushDone();
      note({ eof: 1 });
      stdin.push(null);
    });
    reader.on('error', () => stdin.push(null));
    reader.resume();
  };

  // ── the supervisor's side ──
  const channel = new Socket({ fd, readable: true, writable: false });
  readLines(channel, (line) => {
    const command = parse(line) as Record<string, unknown> | undefined;
    if (!command) return;
    if (typeof command.in === 'string') {
      const message = parse(Buffer.from(command.in));
      if (!message || !isAnswerToTagged(message)) stdin.push(Buffer.from(`${command.in}\n`));
      else {
        const answer = answerFor(message, false);
        if (answer) stdin.push(answer);
      }
    } else if (typeof command.start === 'string') startReading(Buffer.from(command.start, 'base64'));
    else if (command.stop) {
      reader?.pause();
      flushDone();
      note({ left: pending.toString('base64') });
      pending = EMPTY;
    }
  });
  // The supervisor is gone (killed without a word): so is this process's reason to serve.
  channel.on('end', () => process.exit(0));
  channel.on('error', () => process.exit(0));

  Object.defineProperty(process, 'stdin', { configurable: true, enumerable: true, get: () => stdin });
  Object.defineProperty(process, 'stdout', { configurable: true, enumerable: true, get: () => stdout });
  if (serving) startReading(EMPTY);
  return true;
}

function parse(line: Buffer): JsonRpcMessage | undefined {
  try {
    const value = JSON.parse(line.toString('utf8')) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as JsonRpcMessage) : undefined;
  } catch {
    return undefined;
  }
}

// Preloaded (`node --import …/supervised-stdio.js server.js`) under a supervisor in direct mode.
superviseStdio();
