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
 * Read newline-delimited JSON-RPC (the MCP stdio framing) from a stream.
 * A line that is not a JSON object goes to `other`. Returns a function that stops reading.
 */
export function readMessages(
  input: Readable,
  onMessage: (read: ReadMessage) => void,
  other: (line: string) => void,
): () => void {
  let pending = '';
  const take = (raw: string) => {
    const line = raw.trim();
    if (line === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      other(raw);
      return;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) other(raw);
    else onMessage({ message: parsed as JsonRpcMessage, line });
  };
  const onData = (chunk: Buffer | string) => {
    pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const raw = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      take(raw);
      newline = pending.indexOf('\n');
    }
  };
  const onEnd = () => {
    if (pending !== '') take(pending);
    pending = '';
  };
  input.setEncoding?.('utf8');
  input.on('data', onData);
  input.on('end', onEnd);
  return () => {
    input.off('data', onData);
    input.off('end', onEnd);
    input.pause();
  };
}

/** Write one message (or an already serialised line) with the stdio framing. */
export function writeMessage(output: Writable, message: JsonRpcMessage | string): void {
  if (output.destroyed || output.writableEnded) return;
  output.write(`${typeof message === 'string' ? message : JSON.stringify(message)}\n`);
}
