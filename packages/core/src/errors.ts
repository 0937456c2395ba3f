import { inspect } from 'node:util';

/** Every error code hotmcp raises. */
export type HotMcpErrorCode =
  | 'HOTMCP_ERR_BAD_OPTION'
  | 'HOTMCP_ERR_LOAD_FAILED'
  | 'HOTMCP_ERR_SYNTAX'
  | 'HOTMCP_ERR_EMPTY_MODULE'
  | 'HOTMCP_ERR_INVALID_ENCODING'
  | 'HOTMCP_ERR_IMPORT_THREW'
  | 'HOTMCP_ERR_IMPORT_TIMEOUT'
  | 'HOTMCP_ERR_MODULE_NOT_FOUND'
  | 'HOTMCP_ERR_INVALID_DEFINITION'
  | 'HOTMCP_ERR_DUPLICATE_NAME'
  | 'HOTMCP_ERR_NAME_CONFLICT'
  | 'HOTMCP_ERR_OUTSIDE_ROOT'
  | 'HOTMCP_ERR_CAPABILITY_MISSING'
  | 'HOTMCP_ERR_ADAPTER_MISSING'
  | 'HOTMCP_ERR_ADAPTER_INCOMPATIBLE'
  | 'HOTMCP_ERR_COMMIT_FAILED'
  | 'HOTMCP_ERR_WATCHER_FAILED'
  | 'HOTMCP_ERR_WATCHER_MISSING'
  | 'HOTMCP_ERR_DISPOSE_FAILED'
  | 'HOTMCP_ERR_DISPOSE_TIMEOUT'
  | 'HOTMCP_ERR_UNCAUGHT'
  | 'HOTMCP_ERR_INJECTION'
  | 'HOTMCP_ERR_CAPTURE_UNSUPPORTED'
  | 'HOTMCP_ERR_FLEET_ENTRY'
  | 'HOTMCP_ERR_FLEET_UNAVAILABLE'
  | 'HOTMCP_ERR_ENTRY_NOT_FOUND'
  | 'HOTMCP_ERR_NO_SERVER'
  | 'HOTMCP_ERR_RESTART_NEEDED';

const MARKER = Symbol.for('hotmcp.error');

/** Where an error points in the user's code. */
export interface ErrorLocation {
  /** Absolute path of the file. */
  file?: string;
  /** 1-based line, when known. */
  line?: number;
  /** 1-based column, when known. */
  column?: number;
}

export interface HotMcpErrorOptions extends ErrorLocation {
  /** The underlying error, kept as the standard `cause`. */
  cause?: unknown;
  /** Extra structured fields, audited with the error. */
  details?: Record<string, unknown>;
}

/**
 * The one error type hotmcp throws or reports. Recognise it with
 * {@link isHotMcpError}, which works across duplicate package copies.
 */
export class HotMcpError extends Error {
  /** What went wrong, as a `HOTMCP_ERR_*` code to branch on. */
  readonly code: HotMcpErrorCode;
  /** The file the error points at, when there is one. */
  readonly file?: string;
  /** 1-based line in `file`, when known. */
  readonly line?: number;
  /** 1-based column in `file`, when known. */
  readonly column?: number;
  /** Extra structured fields (an adapter's refusal carries `kind` and `name`), audited with the error. */
  readonly details?: Record<string, unknown>;

  constructor(code: HotMcpErrorCode, message: string, options: HotMcpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HotMcpError';
    this.code = code;
    if (options.file !== undefined) this.file = options.file;
    if (options.line !== undefined) this.line = options.line;
    if (options.column !== undefined) this.column = options.column;
    if (options.details !== undefined) this.details = options.details;
    Object.defineProperty(this, MARKER, { value: true });
  }

  /** The fields an audit event or a status report carries for this error. */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.file !== undefined && { file: this.file }),
      ...(this.line !== undefined && { line: this.line }),
      ...(this.column !== undefined && { column: this.column }),
      ...this.details,
    };
  }
}

/** True for any {@link HotMcpError}, including one from another copy of this package. */
export function isHotMcpError(value: unknown): value is HotMcpError {
  try {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  } catch {
    return false; // a Proxy whose `get` trap throws
  }
}

/** True when `value` is an `Error`; never throws (a Proxy's `getPrototypeOf` trap may). */
export function isError(value: unknown): value is Error {
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}

/**
 * A one-line text for whatever was thrown: an Error's message, or a
 * description of any other value. Never throws, whatever the value is (an
 * object with no prototype, a `toString` that throws, a Proxy whose traps throw).
 */
export function describeThrown(value: unknown): string {
  try {
    if (value instanceof Error) {
      const message: unknown = value.message;
      if (typeof message === 'string') return message;
    }
  } catch {
    // fall through: described as a value
  }
  try {
    if (typeof value === 'string') return value;
    // Shown as written (`{ code: 42 }`), not as `[object Object]`; inspect calls no toString and no Proxy trap.
    if (typeof value === 'object' && value !== null) return `a non-Error value was thrown (${shown(value)})`;
    if (typeof value === 'function') return 'a non-Error value was thrown (a function)';
    return `a non-Error value was thrown (${String(value)})`;
  } catch {
    return 'a non-Error value was thrown (an object that cannot be turned into text)';
  }
}

/** An object as code shows it, on one line, cut at 200 characters. */
function shown(value: object): string {
  const text = inspect(value, {
    depth: 2,
    breakLength: Number.POSITIVE_INFINITY,
    maxArrayLength: 10,
    maxStringLength: 80,
  });
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

/**
 * `value` when it is an Error, else an Error whose message describes it:
 * what code that reads `.message` and `.stack` can take. Never throws.
 */
export function asError(value: unknown): Error {
  if (isError(value)) {
    try {
      if (typeof value.message === 'string') return value;
    } catch {
      // an Error subclass whose `message` getter throws
    }
  }
  return new Error(describeThrown(value));
}

/** The longest piece of foreign text (an error message, a token) an error message quotes. */
export const MAX_QUOTED_CHARS = 500;

/**
 * `text`, cut to `max` characters with a note of how much was left out: an
 * error message must never carry a file's contents (a 5 MB token, a binary
 * blob) into the audit log or a client's view.
 */
export function clip(text: string, max = MAX_QUOTED_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}
