import type { ClientLogMessage, ListKind } from '@hotmcp/core';
import { capabilitiesOf, type LowLevelServerLike, type McpServerLike } from './mcp-server-shape.js';

/** The McpServer methods shadowed during a commit. */
const NOTIFIERS = ['sendToolListChanged', 'sendPromptListChanged', 'sendResourceListChanged'] as const;

const SENDERS = {
  tool: 'sendToolListChanged',
  prompt: 'sendPromptListChanged',
  resource: 'sendResourceListChanged',
} as const satisfies Record<ListKind, keyof LowLevelServerLike>;

/** Hand an error the server did not throw to its `onerror`; never throws. */
function reportTo(inner: LowLevelServerLike): (error: unknown) => void {
  return (error) => {
    try {
      inner.onerror?.(error instanceof Error ? error : new Error(String(error)));
    } catch {}
  };
}

/**
 * Replace the server's own list_changed senders (which every register and
 * remove call) with no-ops, so a commit of many entries sends nothing by
 * itself. Returns a function that puts them back exactly.
 */
export function shadowNotifiers(server: McpServerLike): () => void {
  const target = server as unknown as Record<string, unknown>;
  const saved = NOTIFIERS.map((method) => [method, Object.getOwnPropertyDescriptor(target, method)] as const);
  for (const method of NOTIFIERS) {
    Object.defineProperty(target, method, { configurable: true, writable: true, value: () => {} });
  }
  return () => {
    for (const [method, descriptor] of saved) {
      if (descriptor === undefined) delete target[method];
      else Object.defineProperty(target, method, descriptor);
    }
  };
}

/** Send one list_changed of `kind` when connected; a failed send goes to the server's `onerror`. */
export function sendListChanged(server: McpServerLike, kind: ListKind): void {
  if (!server.isConnected()) return;
  const inner = server.server;
  const report = reportTo(inner);
  try {
    inner[SENDERS[kind]]().catch(report);
  } catch (error) {
    report(error);
  }
}

/**
 * Send a log message to the client when the server advertises `logging` (the
 * SDK drops it when the client's `logging/setLevel` filters it out). A failed
 * send goes to the server's `onerror`; nothing is thrown.
 */
export function sendLog(server: McpServerLike, message: ClientLogMessage): void {
  const inner = server.server;
  const report = reportTo(inner);
  try {
    if (!server.isConnected() || typeof inner.sendLoggingMessage !== 'function') return;
    if (capabilitiesOf(server)?.logging === undefined) return;
    inner.sendLoggingMessage(message, inner.transport?.sessionId).catch(report);
  } catch (error) {
    report(error);
  }
}
