/**
 * The live sessions of one sessionful endpoint (SDK 1.x, and SDK 2.x for
 * 2025-era clients), by session id. A session is closed once idle — no GET
 * stream open (the channel list_changed goes out on) and no request being
 * answered — for the grace time: a client that went away without a DELETE,
 * or never listened.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What the table needs of a session's transport. */
export interface SessionTransport {
  readonly sessionId?: string | undefined;
  onclose?: (() => void) | undefined;
  close(): Promise<void>;
}

/** The options a sessionful transport of either SDK is created with. */
export interface SessionTransportOptions {
  sessionIdGenerator: () => string;
  onsessioninitialized: (id: string) => void;
}

/** One kept session. */
export interface KeptSession<T extends SessionTransport> {
  transport: T;
  /** Call with each request of the session and its response: the session is idle while none is open. */
  track(req: IncomingMessage, res: ServerResponse): void;
  /** Close the session's transport. */
  close(): void;
}

export class SessionTable<T extends SessionTransport> {
  readonly #sessions = new Map<string, KeptSession<T>>();
  /** Every open session by the key it was opened with (its fan-out adapter), initialized or not. */
  readonly #byKey = new Map<unknown, KeptSession<T>>();
  readonly #graceMs: number;
  #streaming = 0;

  constructor(graceMs: number) {
    this.#graceMs = graceMs;
  }

  /**
   * Open a session: `create` builds its transport from the options given,
   * `detach` runs once it closes. `key` (its fan-out adapter) finds it again
   * for {@link closeFor}. Set the transport up before connecting a server to
   * it: connecting chains the `onclose` set here.
   */
  open(key: unknown, create: (options: SessionTransportOptions) => T, detach: () => void): KeptSession<T> {
    let grace: NodeJS.Timeout | undefined;
    /** Responses open on this session (GET streams and requests being answered). */
    let responses = 0;
    const transport = create({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => this.#sessions.set(id, session),
    });
    const session: KeptSession<T> = {
      transport,
      track: (request, response) => {
        const stream = request.method === 'GET';
        clearTimeout(grace);
        responses++;
        if (stream) this.#streaming++;
        response.on('close', () => {
          responses--;
          if (stream) this.#streaming--;
          if (responses > 0) return;
          grace = setTimeout(session.close, this.#graceMs);
          grace.unref();
        });
      },
      close: () => {
        transport.close().catch(() => {});
      },
    };
    this.#byKey.set(key, session);
    transport.onclose = () => {
      clearTimeout(grace);
      if (transport.sessionId !== undefined) this.#sessions.delete(transport.sessionId);
      this.#byKey.delete(key);
      detach();
    };
    return session;
  }

  /** Close the session opened with `key`, if it is open. */
  closeFor(key: unknown): void {
    this.#byKey.get(key)?.close();
  }

  get(id: string): KeptSession<T> | undefined {
    return this.#sessions.get(id);
  }

  /** Open sessions. */
  get size(): number {
    return this.#byKey.size;
  }

  /** Sessions with their GET stream open: those a list_changed reaches right now. */
  get streaming(): number {
    return this.#streaming;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#byKey.values()].map(({ transport }) => transport.close()));
  }
}
