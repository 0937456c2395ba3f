import { closeSync, constants, lstatSync, mkdirSync, openSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type winston from 'winston';
import { HotMcpError } from '../errors.js';
import type { AuditFields, AuditSink } from '../ports/audit-sink.js';

/**
 * winston, loaded when the first sink opens its file rather than with
 * `@hotmcp/core`: tool modules import the package for `defineTool`, in the
 * server and in every fresh import-preflight worker, where winston's ~80 ms
 * of loading would buy nothing.
 */
function loadWinston(): typeof winston {
  return createRequire(import.meta.url)('winston') as typeof winston;
}

/** Options of {@link WinstonAuditSink}. */
export interface WinstonAuditSinkOptions {
  /**
   * The log file. Default `$XDG_STATE_HOME/hotmcp/audit.log` (`~/.local/state/hotmcp/audit.log`
   * when XDG_STATE_HOME is unset). The file may not be a symlink, and its folder may not be
   * writable by group or others.
   */
  path?: string;
  /** Rotate once the file reaches this many bytes (it may exceed it by one line). Default 5 MiB. */
  maxSize?: number;
  /** Files kept, the current one included (`audit.log`, `audit1.log`, …). Default 3. */
  maxFiles?: number;
}

const DEFAULT_MAX_SIZE = 5 * 1024 * 1024;
const DEFAULT_MAX_FILES = 3;
/** How long `close` waits for winston to flush before giving up. */
const CLOSE_TIMEOUT_MS = 5000;

/** Records waiting for the file beyond this many are dropped. */
const MAX_QUEUED = 10_000;
/**
 * How long after the first record (and after the last {@link WinstonAuditSink.hold})
 * winston is loaded and the records are written: loading it takes tens of
 * milliseconds of the main thread, which a server's start-up (whose events
 * are the first records) and its first answers should not wait for.
 */
const WRITE_DELAY_MS = 500;

type State = 'idle' | 'open' | 'failed' | 'closed';

/** The private fields of winston's File transport this sink reads, all optional. */
interface FileTransportInternals {
  _rotate?: boolean;
  _createStream?: (source: unknown) => NodeJS.WritableStream;
}

/**
 * The default `AuditSink`: one JSON object per line
 * (`{"event":…,"timestamp":…,"pid":…,…fields}`) in a file rotated by size
 * with winston's File transport (`audit.log` is current, `audit1.log` the
 * newest rotated one). The folder is created with mode 0700 and the files
 * with mode 0600.
 *
 * Nothing touches the filesystem until the first `record`, which checks that
 * the file can be written. Records are written from half a second after the
 * first one, or after what {@link WinstonAuditSink.hold} waits for (winston
 * is loaded then, off a server's start-up), at `close`, or when the process
 * would otherwise exit; they wait in memory meanwhile.
 * `record` never throws: when the sink itself fails (folder or file not writable, a transport
 * error) it says so once on stderr, a single line starting with
 * `hotmcp: audit sink failed:`, and drops every later record. It never writes
 * to stdout.
 *
 * Records are handed to winston one at a time, and only once its file is
 * open: winston 3 loses a burst written before the file opens when the burst
 * exceeds `maxsize`, and its `finish` event can come before a rotation has
 * written everything.
 */
export class WinstonAuditSink implements AuditSink {
  /** Absolute path of the current log file. */
  readonly path: string;
  readonly #maxSize: number;
  readonly #maxFiles: number;
  readonly #isDefaultPath: boolean;
  #state: State = 'idle';
  /** True once the sink itself failed, even if it was closed since. */
  #broken = false;
  #reported = false;
  #logger: winston.Logger | undefined;
  #transport: winston.transport | undefined;
  #closing: Promise<void> | undefined;
  /** Serialised lines not yet handed to winston. */
  #queue: string[] = [];
  /** True once winston has opened the first file. */
  #ready = false;
  /** True while one line is with winston and not yet accounted for. */
  #writing = false;
  /** Called when the queue is empty and winston is neither writing nor rotating. */
  #onIdle: Array<() => void> = [];
  /** Loads winston and starts writing, until it has: after {@link WRITE_DELAY_MS}, or before the process exits. */
  #startTimer: NodeJS.Timeout | undefined;
  readonly #startNow = (): void => this.#startLogger();
  /** Holds not yet released (see {@link hold}). */
  #holds = 0;

  constructor(options: WinstonAuditSinkOptions = {}) {
    const maxSize = options.maxSize ?? DEFAULT_MAX_SIZE;
    const maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES;
    if (!Number.isSafeInteger(maxSize) || maxSize < 1) {
      throw new HotMcpError('HOTMCP_ERR_BAD_OPTION', `maxSize must be a positive integer of bytes, got ${maxSize}`);
    }
    if (!Number.isSafeInteger(maxFiles) || maxFiles < 2) {
      // winston's tailable rotation always keeps one rotated file besides the current one.
      throw new HotMcpError('HOTMCP_ERR_BAD_OPTION', `maxFiles must be an integer >= 2, got ${maxFiles}`);
    }
    this.#isDefaultPath = options.path === undefined;
    this.path = path.resolve(options.path ?? defaultAuditPath());
    this.#maxSize = maxSize;
    this.#maxFiles = maxFiles;
  }

  record(event: string, fields?: AuditFields): void {
    try {
      if (this.#state === 'idle') this.#open();
      if (this.#state !== 'open') return;
      if (this.#queue.length >= MAX_QUEUED) return;
      this.#queue.push(serialise(event, fields));
      this.#pump();
    } catch (error) {
      this.#fail(error);
    }
  }

  /**
   * Keep records in memory, and winston unloaded, until `until` settles and
   * half a second more (a reloader holds its sink until its start-up is done).
   * `close` writes them at once whatever is held.
   */
  hold(until: Promise<unknown>): void {
    this.#holds++;
    const release = () => {
      this.#holds--;
      if (this.#holds === 0 && this.#startTimer !== undefined) this.#armStart();
    };
    until.then(release, release);
  }

  /** Write what was recorded, flush and end the logger. Resolves even when the sink failed; idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const wasOpen = this.#state === 'open';
    if (wasOpen) this.#startLogger(); // what was recorded is written before the sink closes
    this.#state = 'closed';
    this.#cancelStart();
    const logger = this.#logger;
    const transport = this.#transport;
    if (logger === undefined || transport === undefined) return;
    if (!wasOpen) {
      destroyQuietly(logger, transport);
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), CLOSE_TIMEOUT_MS);
      timer.unref();
    });
    const flushed = (async () => {
      await new Promise<void>((resolve) => this.#whenIdle(resolve));
      // A sink that failed meanwhile has nothing left to flush.
      if (this.#broken) return false;
      await new Promise<void>((resolve) => {
        // With nothing queued and no rotation under way, the transport finishes once its file stream has flushed.
        transport.once('finish', resolve);
        transport.once('error', resolve);
        logger.end();
      });
      return true;
    })();
    try {
      if (!(await Promise.race([flushed, timeout]))) destroyQuietly(logger, transport);
    } catch (error) {
      this.#fail(error);
      destroyQuietly(logger, transport);
    } finally {
      clearTimeout(timer);
      this.#queue = [];
    }
  }

  /** Create the folder and the file, and start the logger soon. Throws when either cannot be written. */
  #open(): void {
    const directory = path.dirname(this.path);
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    checkDirectory(directory, this.#isDefaultPath);
    // Creates the file owner-only and proves it is writable now: winston would only log a failed open to its
    // debug stream. O_NOFOLLOW: a symlink planted where the log goes is refused, never followed.
    const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0);
    try {
      closeSync(openSync(this.path, flags, 0o600));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new Error(`${this.path} is a symlink; refused`);
      throw error;
    }
    this.#state = 'open';
    this.#armStart();
    process.once('beforeExit', this.#startNow);
  }

  /** Start writing {@link WRITE_DELAY_MS} from now (again, when already armed). */
  #armStart(): void {
    clearTimeout(this.#startTimer);
    this.#startTimer = setTimeout(() => {
      if (this.#holds === 0) this.#startNow(); // else the last release arms it again
    }, WRITE_DELAY_MS);
    this.#startTimer.unref();
  }

  #cancelStart(): void {
    clearTimeout(this.#startTimer);
    this.#startTimer = undefined;
    process.off('beforeExit', this.#startNow);
  }

  /** Load winston and create the logger, once, while the sink is open. */
  #startLogger(): void {
    this.#cancelStart();
    if (this.#state !== 'open' || this.#logger !== undefined) return;
    try {
      this.#createLogger();
    } catch (error) {
      this.#fail(error);
    }
  }

  #createLogger(): void {
    const fail = (error: unknown): void => this.#fail(error);
    const winston = loadWinston();
    const transport = new winston.transports.File({
      filename: this.path,
      maxsize: this.#maxSize,
      maxFiles: this.#maxFiles,
      tailable: true,
      // Files created by rotation are owner-only too.
      options: { flags: 'a', mode: 0o600 },
    });
    transport.on('error', fail);
    surfaceFileStreamErrors(transport, fail);
    transport.once('open', () => {
      this.#ready = true;
      this.#pump();
    });
    const logger = winston.createLogger({
      level: 'info',
      format: winston.format.printf((info) => String(info.message)),
      transports: [transport],
      exitOnError: false,
    });
    logger.on('error', fail);
    this.#transport = transport;
    this.#logger = logger;
  }

  /** Hand the next queued line to winston, once the previous one is written and no rotation is under way. */
  #pump(): void {
    try {
      const logger = this.#logger;
      const transport = this.#transport;
      if (!this.#ready || this.#writing || logger === undefined || transport === undefined) return;
      if (this.#state === 'failed') {
        this.#queue = [];
        return;
      }
      const line = this.#queue.shift();
      if (line === undefined) {
        for (const resolve of this.#onIdle.splice(0)) resolve();
        return;
      }
      this.#writing = true;
      transport.once('logged', () => {
        // winston decides to rotate right after emitting 'logged'; look once it has.
        setImmediate(() => {
          this.#writing = false;
          if ((transport as unknown as FileTransportInternals)._rotate === true) {
            transport.once('open', () => this.#pump());
          } else {
            this.#pump();
          }
        });
      });
      logger.log({ level: 'info', message: line });
    } catch (error) {
      this.#fail(error);
    }
  }

  #whenIdle(resolve: () => void): void {
    this.#onIdle.push(resolve);
    if (this.#state === 'failed') {
      for (const done of this.#onIdle.splice(0)) done();
      return;
    }
    this.#pump();
  }

  #fail(error: unknown): void {
    if (this.#state !== 'closed') this.#state = 'failed';
    this.#cancelStart();
    this.#broken = true;
    this.#queue = [];
    for (const resolve of this.#onIdle.splice(0)) resolve();
    if (this.#reported) return;
    this.#reported = true;
    try {
      const message = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ');
      process.stderr.write(`hotmcp: audit sink failed: ${this.path}: ${message}\n`);
    } catch {
      // Nowhere left to report to.
    }
  }
}

/** Make a {@link WinstonAuditSink}. */
export function createWinstonAuditSink(options: WinstonAuditSinkOptions = {}): WinstonAuditSink {
  return new WinstonAuditSink(options);
}

/** Where the audit log goes by default: the user's own state folder, never a shared one. */
export function defaultAuditPath(): string {
  const state = process.env.XDG_STATE_HOME;
  const base = state && path.isAbsolute(state) ? state : path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'hotmcp', 'audit.log');
}

/**
 * Refuse a folder others may write to (group- or world-writable): anyone who
 * can write there could swap the log for a link to another file. The default
 * folder must also be the user's own, and no symlink.
 */
function checkDirectory(directory: string, own: boolean): void {
  const stats = own ? lstatSync(directory) : statSync(directory);
  if (!stats.isDirectory()) throw new Error(`${directory} is not a directory`);
  const uid = process.getuid?.();
  if (own && uid !== undefined && stats.uid !== uid) throw new Error(`${directory} belongs to another user`);
  if (process.platform !== 'win32' && (stats.mode & 0o022) !== 0) {
    throw new Error(
      `${directory} is writable by group or others (mode ${(stats.mode & 0o777).toString(8)}); refused: make it 0700 or choose another folder`,
    );
  }
}

/**
 * winston only sends errors of the file streams it opens (at start and after
 * each rotation: EACCES, ENOENT when the folder was removed, ENOSPC) to its
 * debug output, and then waits for an 'open' that never comes. Listen to each
 * stream as winston creates it.
 */
function surfaceFileStreamErrors(transport: winston.transport, fail: (error: unknown) => void): void {
  const internals = transport as unknown as FileTransportInternals;
  const createStream = internals._createStream;
  if (typeof createStream !== 'function') return;
  internals._createStream = function (this: unknown, source: unknown): NodeJS.WritableStream {
    const stream = createStream.call(this, source);
    stream.on('error', fail);
    return stream;
  };
}

function destroyQuietly(logger: winston.Logger, transport: winston.transport): void {
  try {
    transport.destroy();
  } catch {}
  try {
    logger.destroy();
  } catch {}
}

/** One JSON line: event, timestamp and pid first, then the fields, which cannot overwrite them. */
function serialise(event: string, fields: AuditFields | undefined): string {
  const head = { event: String(event), timestamp: new Date().toISOString(), pid: process.pid };
  try {
    // The head's keys come first and keep the head's values.
    return JSON.stringify({ ...head, ...fields, ...head }, replacer());
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return JSON.stringify({ ...head, auditError: `fields could not be serialised: ${reason}` });
  }
}

/**
 * A JSON.stringify replacer that writes errors as name, message, stack, cause
 * and their own fields (or their `toJSON()`), bigints as strings, maps and sets
 * as objects and arrays, and cycles as `"[Circular]"`.
 */
function replacer(): (this: unknown, key: string, value: unknown) => unknown {
  const ancestors: Array<{ original: unknown; written: unknown }> = [];
  return function (this: unknown, _key: string, value: unknown): unknown {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value !== 'object' || value === null) return value;
    while (ancestors.length > 0 && ancestors[ancestors.length - 1]!.written !== this) ancestors.pop();
    if (ancestors.some((ancestor) => ancestor.original === value)) return '[Circular]';
    const written = plain(value);
    ancestors.push({ original: value, written });
    return written;
  };
}

function plain(value: object): unknown {
  if (value instanceof Error) {
    const error = value as Error & { errors?: unknown };
    const head = { name: error.name, message: error.message };
    return {
      ...head,
      // Own fields such as code, errno, syscall, path.
      ...(error as object),
      ...head,
      ...(error.stack !== undefined && { stack: error.stack }),
      ...(error.cause !== undefined && { cause: error.cause }),
      ...(Array.isArray(error.errors) && { errors: error.errors }),
    };
  }
  if (value instanceof Map) return Object.fromEntries(value);
  if (value instanceof Set) return [...value];
  return value;
}
