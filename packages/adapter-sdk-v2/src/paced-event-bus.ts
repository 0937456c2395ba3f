import { HotMcpError } from '@hotmcp/core';
import type { ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';

/** What `createMcpHandler`'s listen routers subscribe: called with each event published. */
export type ServerEventListener = (event: ServerEvent) => void;

/** An event published and the listeners it still has to reach. */
interface Delivery {
  event: ServerEvent;
  listeners: ServerEventListener[];
  next: number;
}

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
  readonly #pending: Delivery[] = [];
  readonly #sliceSize: number;
  readonly #onerror: ((error: Error) => void) | undefined;
  #scheduled = false;

  constructor(options: PacedEventBusOptions = {}) {
    const slice = options.sliceSize ?? 128;
    if (!Number.isInteger(slice) || slice < 1) {
      throw new HotMcpError('HOTMCP_ERR_BAD_OPTION', `sliceSize must be a positive integer, got ${String(slice)}.`, {
        details: { option: 'sliceSize' },
      });
    }
    this.#sliceSize = slice;
    this.#onerror = options.onerror;
  }

  /** Listeners currently subscribed. */
  get listenerCount(): number {
    return this.#listeners.size;
  }

  publish(event: ServerEvent): void {
    if (this.#listeners.size === 0) return;
    this.#pending.push({ event, listeners: [...this.#listeners], next: 0 });
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#deliverSlice());
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

  #deliverSlice(): void {
    let called = 0;
    while (called < this.#sliceSize && this.#pending.length > 0) {
      const head = this.#pending[0] as Delivery;
      const listener = head.listeners[head.next++];
      if (head.next >= head.listeners.length) this.#pending.shift();
      if (listener === undefined || !this.#listeners.has(listener)) continue;
      called++;
      try {
        listener(head.event);
      } catch (error) {
        try {
          this.#onerror?.(error instanceof Error ? error : new Error(String(error)));
        } catch {}
      }
    }
    if (this.#pending.length > 0) setImmediate(() => this.#deliverSlice());
    else this.#scheduled = false;
  }
}

/** Create a {@link PacedEventBus}: pass it as `bus` to `createMcpHandler`. */
export function createPacedEventBus(options: PacedEventBusOptions = {}): PacedEventBus {
  return new PacedEventBus(options);
}
