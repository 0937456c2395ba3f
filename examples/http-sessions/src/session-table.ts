/**
 * The live sessions of one sessionful endpoint (SDK 1.x, and SDK 2.x for
 * 2025-era clients), by session id. A session is closed once idle — no GET
 * stream open (the channel list_changed goes out on) and no request being
 * answered — for the grace time: a client that went away without a DELETE,
 * or never listened.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What the table needs of a session's transport. */
export interface SessionTransport {
  readonly sessionId?: string | undefined;
  close(): Promise<void>;
}

/** One kept session. */
export interface KeptSession<T extends SessionTransport> {
  transport: T;
  /** Call with each request of the session and its response: the session is idle while none is open. */
  track(req: IncomingMessage, res: ServerResponse): void;
  /** Record the session under `id` (from the transport's `onsessioninitialized`). */
  add(id: string): void;
  /** Close the session's transport. */
  close(): void;
  /** Forget the session (from the transport's `onclose`). */
  release(): void;
}

export class SessionTable<T extends SessionTransport> {
  readonly #sessions = new Map<string, KeptSession<T>>();
  readonly #graceMs: number;
  #streaming = 0;

  constructor(graceMs: number) {
    this.#graceMs = graceMs;
  }

  /** Start keeping `transport`. */
  keep(transport: T): KeptSession<T> {
    let grace: NodeJS.Timeout | undefined;
    /** Responses open on this session (GET streams and requests being answered). */
    let responses = 0;
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
      add: (id) => {
        this.#sessions.set(id, session);
      },
      close: () => {
        transport.close().catch(() => {});
      },
      release: () => {
        clearTimeout(grace);
        if (transport.sessionId !== undefined) this.#sessions.delete(transport.sessionId);
      },
    };
    return session;
  }

  get(id: string): KeptSession<T> | undefined {
    return this.#sessions.get(id);
  }

  /** Sessions with their GET stream open: those a list_changed reaches right now. */
  get streaming(): number {
    return this.#streaming;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#sessions.values()].map(({ transport }) => transport.close()));
  }
}
