import { idKey, type JsonRpcId, type JsonRpcMessage } from './json-rpc.js';

/** The `_meta` key a 2026-07-28 server stamps on every notification of a `subscriptions/listen` stream. */
export const SUBSCRIPTION_ID_META_KEY = 'io.modelcontextprotocol/subscriptionId';

/** Which lists a `subscriptions/listen` stream was acknowledged for. */
export interface ListenFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

/**
 * What the client has set up with the server, so that a new server process
 * can be brought to the same point without the client knowing: the
 * `initialize` request and the answer the client got, whether it sent
 * `notifications/initialized`, its logging level, its resource subscriptions
 * and its open `subscriptions/listen` streams.
 */
export class ClientSession {
  /** The client's `initialize` request, verbatim. */
  initialize: JsonRpcMessage | undefined;
  /** The result the client received for it (from the first server that answered). */
  initializeResult: Record<string, unknown> | undefined;
  /** Whether the client sent `notifications/initialized`. */
  initialized = false;
  /** The level of the client's last `logging/setLevel`. */
  logLevel: string | undefined;
  /** URIs of `resources/subscribe` not since unsubscribed. */
  readonly resourceSubscriptions = new Set<string>();
  /** Open `subscriptions/listen` requests by id key, verbatim. */
  readonly listens = new Map<string, JsonRpcMessage & { id: JsonRpcId }>();
  /** What each open listen stream was acknowledged for, by id key. */
  readonly listenFilters = new Map<string, ListenFilter>();

  /** Note what a client message sets up. Returns true for a listen request (kept open, replayed, never failed). */
  fromClient(message: JsonRpcMessage): boolean {
    const params = message.params ?? {};
    switch (message.method) {
      case 'initialize':
        this.initialize = message;
        this.initializeResult = undefined;
        this.initialized = false;
        return false;
      case 'notifications/initialized':
        this.initialized = true;
        return false;
      case 'logging/setLevel':
        if (typeof params.level === 'string') this.logLevel = params.level;
        return false;
      case 'resources/subscribe':
        if (typeof params.uri === 'string') this.resourceSubscriptions.add(params.uri);
        return false;
      case 'resources/unsubscribe':
        if (typeof params.uri === 'string') this.resourceSubscriptions.delete(params.uri);
        return false;
      case 'notifications/cancelled': {
        const id = params.requestId;
        if (typeof id === 'string' || typeof id === 'number') this.#closeListen(id);
        return false;
      }
      case 'subscriptions/listen':
        if (message.id !== undefined && message.id !== null) {
          this.listens.set(idKey(message.id), message as JsonRpcMessage & { id: JsonRpcId });
          return true;
        }
        return false;
      default:
        return false;
    }
  }

  /** Note what a server message tells the client: the initialize result, a listen acknowledgement or its end. */
  fromServer(message: JsonRpcMessage): void {
    if (message.id !== undefined && message.id !== null && message.method === undefined) {
      if (this.initialize?.id === message.id && message.result && !this.initializeResult) {
        this.initializeResult = message.result;
      }
      this.#closeListen(message.id);
      return;
    }
    if (message.method === 'notifications/subscriptions/acknowledged') {
      const listenId = subscriptionIdOf(message);
      const filter = message.params?.notifications;
      if (listenId !== undefined && filter && typeof filter === 'object') {
        this.listenFilters.set(idKey(listenId), filter as ListenFilter);
      }
    }
  }

  #closeListen(id: JsonRpcId): void {
    this.listens.delete(idKey(id));
    this.listenFilters.delete(idKey(id));
  }
}

/** The listen request a notification belongs to, if it carries one. */
export function subscriptionIdOf(message: JsonRpcMessage): JsonRpcId | undefined {
  const meta = message.params?._meta as Record<string, unknown> | undefined;
  const id = meta?.[SUBSCRIPTION_ID_META_KEY];
  return typeof id === 'string' || typeof id === 'number' ? id : undefined;
}

/** What a client that sees `a` and then `b` as one server would notice: capabilities, identity, protocol. */
export function handshakeDifferences(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const differences: string[] = [];
  const info = (r: Record<string, unknown>) => (r.serverInfo ?? {}) as Record<string, unknown>;
  for (const field of ['name', 'version'] as const) {
    if (info(a)[field] !== info(b)[field]) {
      differences.push(`server ${field} ${JSON.stringify(info(a)[field])} → ${JSON.stringify(info(b)[field])}`);
    }
  }
  if (a.protocolVersion !== b.protocolVersion) {
    differences.push(`protocol ${JSON.stringify(a.protocolVersion)} → ${JSON.stringify(b.protocolVersion)}`);
  }
  const capsA = (a.capabilities ?? {}) as Record<string, unknown>;
  const capsB = (b.capabilities ?? {}) as Record<string, unknown>;
  for (const key of new Set([...Object.keys(capsA), ...Object.keys(capsB)])) {
    if (stable(capsA[key]) !== stable(capsB[key])) {
      differences.push(`capability ${key}: ${stable(capsA[key]) ?? 'absent'} → ${stable(capsB[key]) ?? 'absent'}`);
    }
  }
  return differences;
}

function stable(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => x.localeCompare(y)))
      : v,
  );
}
