import { PacedQueue } from '@hotmcp/core';
import type { ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';

/** What `createMcpHandler`'s listen routers subscribe: called with each event published. */
export type ServerEventListener = (event: ServerEvent) => void;

/** Options of {@link createPacedEventBus}. */
export interface PacedEventBusOptions {
  /** How many listeners are called per event-loop turn. Default 128. */
  sliceSize?: number;
  /** Called with what a listener throws; the other listeners are still called. */
  onerror?(error: Error): void;
}

/**
 * A `ServerEventBus` for `createMcpHandler` that calls its listeners a slice
 * per event-loop turn instead of all at once. Each listener of a
 * `subscriptions/listen` stream writes one SSE event; with a thousand streams
 * open, the SDK's `InMemoryServerEventBus` writes them all in one turn and
 * nothing leaves the process until the last is written. Here each slice's
 * events are on their sockets before the next slice starts, so the first
 * clients hear of a change while later ones are still being told.
 *
 * Events are delivered in the order published, each to the listeners
 * subscribed when it was published and still subscribed when their turn
 * comes.
 */
export class PacedEventBus implements ServerEventBus {
  readonly #listeners = new Set<ServerEventListener>();
  readonly #deliveries: PacedQueue;

  constructor(options: PacedEventBusOptions = {}) {
    const { onerror } = options;
    this.#deliveries = new PacedQueue({
      sliceSize: options.sliceSize ?? 128,
      option: 'sliceSize',
      onError: (error) => onerror?.(error instanceof Error ? error : new Error(String(error))),
    });
  }

  /** Listeners currently subscribed. */
  get listenerCount(): number {
    return this.#listeners.size;
  }

  publish(event: ServerEvent): void {
    for (const listener of this.#listeners) {
      this.#deliveries.push(() => {
        if (!this.#listeners.has(listener)) return false;
        listener(event);
        return true;
      });
    }
  }

  subscribe(listener: ServerEventListener): () => void {
    // A function of its own per subscription, so subscribing one listener twice needs two unsubscribes.
    const entry: ServerEventListener = (event) => listener(event);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }
}

/** Create a {@link PacedEventBus}: pass it as `bus` to `createMcpHandler`. */
export function createPacedEventBus(options: PacedEventBusOptions = {}): PacedEventBus {
  return new PacedEventBus(options);
}
