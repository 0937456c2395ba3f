import type { Readable, Writable } from 'node:stream';

/** A JSON-RPC id as MCP uses it. */
export type JsonRpcId = string | number;

/** One JSON-RPC 2.0 message: a request, a notification or a response. */
export interface JsonRpcMessage {
  jsonrpc: '2.0';
  id?: JsonRpcId | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
}

/** A message and the line it was read from (forwarded as is, so nothing is re-serialised on the hot path). */
export interface ReadMessage {
  message: JsonRpcMessage;
  line: string;
}

export const isRequest = (m: JsonRpcMessage): m is JsonRpcMessage & { id: JsonRpcId; method: string } =>
  typeof m.method === 'string' && m.id !== undefined && m.id !== null;

export const isNotification = (m: JsonRpcMessage): m is JsonRpcMessage & { method: string } =>
  typeof m.method === 'string' && (m.id === undefined || m.id === null);

export const isResponse = (m: JsonRpcMessage): m is JsonRpcMessage & { id: JsonRpcId } =>
  m.method === undefined && m.id !== undefined && m.id !== null && ('result' in m || 'error' in m);

/** A map key that keeps `1` and `"1"` apart. */
export const idKey = (id: JsonRpcId): string => (typeof id === 'number' ? `n:${id}` : `s:${id}`);

/**
 * Read newline-delimited lines (the MCP stdio framing) from a stream as bytes:
 * each line is handed over with its `\n`, so it can be forwarded with one
 * write and decoded only when it must be. Returns a function that stops reading.
 */
export function readLines(input: Readable, onLine: (line: Buffer) => void): () => void {
  // The start of a line that has not ended yet, in the chunks it came in (joined once, when it ends).
  let pending: Buffer[] = [];
  const onData = (data: Buffer | string) => {
    let chunk = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let newline = chunk.indexOf(NEWLINE);
    if (newline < 0) {
      pending.push(chunk);
      return;
    }
    if (pending.length > 0) {
      const head = pending.reduce((sum, part) => sum + part.length, 0);
      chunk = Buffer.concat([...pending, chunk]);
      newline += head;
      pending = [];
    }
    let start = 0;
    while (newline >= 0) {
      onLine(chunk.subarray(start, newline + 1));
      start = newline + 1;
      newline = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  };
  const onEnd = () => {
    if (pending.length > 0) onLine(Buffer.concat(pending));
    pending = [];
  };
  input.on('data', onData);
  input.on('end', onEnd);
  return () => {
    input.off('data', onData);
    input.off('end', onEnd);
    input.pause();
  };
}

/** Parse one line: a JSON object, or undefined (an empty line, or one that is not a JSON object). */
export function parseLine(line: Buffer): ReadMessage | 'empty' | undefined {
  const text = line.toString('utf8').trim();
  if (text === '') return 'empty';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  return { message: parsed as JsonRpcMessage, line: text };
}

/**
 * Read JSON-RPC messages line by line from a stream. A line that is not a
 * JSON object goes to `other`. Returns a function that stops reading.
 */
export function readMessages(
  input: Readable,
  onMessage: (read: ReadMessage) => void,
  other: (line: string) => void,
): () => void {
  return readLines(input, (line) => {
    const read = parseLine(line);
    if (read === 'empty') return;
    if (read) onMessage(read);
    else other(line.toString('utf8').replace(/\r?\n$/, ''));
  });
}

const NEWLINE = 0x0a;
const RESULT_HEAD = Buffer.from('{"result":');
const ID_TAIL = Buffer.from(',"id":');

/**
 * The id of a successful response, read without parsing it, when the line
 * has the shape the MCP SDKs write (`{"result":…,"jsonrpc":"2.0","id":7}`):
 * a line that begins with the `result` member and ends with a small integer
 * `id` member. In a JSON object that ends `,"id":7}`, the last member is a
 * top-level `id` (a nested one would end `}}`, one inside a string `"}`),
 * and the last of duplicate keys is the one that counts. Anything else
 * (errors, string ids, other layouts) gives undefined: parse it.
 */
export function responseIdOf(line: Buffer): number | undefined {
  let end = line.length - 1;
  if (line[end] === NEWLINE) end--;
  if (line[end] !== 0x7d /* } */ || line.compare(RESULT_HEAD, 0, RESULT_HEAD.length, 0, RESULT_HEAD.length) !== 0) {
    return undefined;
  }
  let digits = end;
  while (digits > 0 && (line[digits - 1] as number) >= 0x30 && (line[digits - 1] as number) <= 0x39) digits--;
  const count = end - digits;
  if (count === 0 || count > 15 || (count > 1 && line[digits] === 0x30)) return undefined;
  const tail = digits - ID_TAIL.length;
  if (tail < RESULT_HEAD.length || line.compare(ID_TAIL, 0, ID_TAIL.length, tail, digits) !== 0) return undefined;
  let id = 0;
  for (let i = digits; i < end; i++) id = id * 10 + ((line[i] as number) - 0x30);
  return id;
}

const METHOD_HEAD = Buffer.from('{"method":"');
const METHOD_KEY = Buffer.from('"method":');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The method and id of a request, read without parsing it, when the line has
 * the shape the MCP SDKs write (`{"method":"tools/call",…,"jsonrpc":"2.0","id":7}`):
 * a line that begins with the `method` member (a string without escapes) and
 * ends with a small integer `id` member (see {@link responseIdOf} for why that
 * `id` is the top-level one). Anything else gives undefined: parse it.
 */
export function requestOf(line: Buffer): { method: string; id: number } | undefined {
  if (line.compare(METHOD_HEAD, 0, METHOD_HEAD.length, 0, Math.min(line.length, METHOD_HEAD.length)) !== 0) {
    return undefined;
  }
  const close = line.indexOf(QUOTE, METHOD_HEAD.length);
  if (close < 0 || line.subarray(METHOD_HEAD.length, close).includes(BACKSLASH)) return undefined;
  // A second `"method":` anywhere (a duplicate key, whose last one counts, or one nested): parse it.
  if (line.includes(METHOD_KEY, close)) return undefined;
  const id = trailingIdOf(line, close + 1);
  return id === undefined ? undefined : { method: line.toString('latin1', METHOD_HEAD.length, close), id };
}

/** The small integer of a line's final `,"id":N}`, found after `from`. */
function trailingIdOf(line: Buffer, from: number): number | undefined {
  let end = line.length - 1;
  if (line[end] === NEWLINE) end--;
  if (line[end] === 0x0d) end--;
  if (line[end] !== 0x7d /* } */) return undefined;
  let digits = end;
  while (digits > 0 && (line[digits - 1] as number) >= 0x30 && (line[digits - 1] as number) <= 0x39) digits--;
  const count = end - digits;
  if (count === 0 || count > 15 || (count > 1 && line[digits] === 0x30)) return undefined;
  const tail = digits - ID_TAIL.length;
  if (tail < from || line.compare(ID_TAIL, 0, ID_TAIL.length, tail, digits) !== 0) return undefined;
  let id = 0;
  for (let i = digits; i < end; i++) id = id * 10 + ((line[i] as number) - 0x30);
  return id;
}

/** Write one message, an already serialised line, or a line's bytes with its `\n`, in one write. */
export function writeMessage(output: Writable, message: JsonRpcMessage | string | Buffer): void {
  if (output.destroyed || output.writableEnded) return;
  if (Buffer.isBuffer(message)) output.write(message);
  else output.write(`${typeof message === 'string' ? message : JSON.stringify(message)}\n`);
}
