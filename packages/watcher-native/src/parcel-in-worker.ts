import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { ParcelEvent, ParcelWatcher } from './native-change-source.js';

type ToWorker =
  | { type: 'subscribe'; id: number; dir: string; options: { ignore?: string[] } | undefined }
  | { type: 'unsubscribe'; id: number };
type FromWorker =
  | { type: 'ready' }
  | { type: 'subscribed'; id: number }
  | { type: 'unsubscribed'; id: number }
  | { type: 'failed'; id: number; message: string }
  | { type: 'events'; id: number; events: ParcelEvent[] }
  | { type: 'error'; id: number; message: string };

/** The worker: `@parcel/watcher` (resolved by the main thread) and its subscriptions, by id. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const parcel = require(workerData.parcel);
const subscriptions = new Map();
parentPort.on('message', async (message) => {
  const { id } = message;
  try {
    if (message.type === 'subscribe') {
      const subscription = await parcel.subscribe(
        message.dir,
        (error, events) =>
          parentPort.postMessage(error ? { type: 'error', id, message: String(error.message ?? error) } : { type: 'events', id, events }),
        message.options,
      );
      subscriptions.set(id, subscription);
      parentPort.postMessage({ type: 'subscribed', id });
    } else {
      const subscription = subscriptions.get(id);
      subscriptions.delete(id);
      await subscription?.unsubscribe();
      parentPort.postMessage({ type: 'unsubscribed', id });
    }
  } catch (error) {
    parentPort.postMessage({ type: 'failed', id, message: String(error?.message ?? error) });
  }
});
parentPort.postMessage({ type: 'ready' });
`;

interface Pending {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * `@parcel/watcher` hosted in a worker thread, unref()'d when idle. A parcel
 * subscription holds the event loop of its thread open and has no unref();
 * hosted here, it never keeps the process alive on its own: a stdio server
 * whose client closed stdin exits as a plain SDK server does. One worker per
 * process serves every subscription; events cross to the main thread as
 * messages (well under a millisecond).
 */
class WorkerParcel implements ParcelWatcher {
  readonly #worker: Worker;
  readonly #ready: Promise<void>;
  readonly #pending = new Map<number, Pending>();
  readonly #callbacks = new Map<number, (error: Error | null, events: ParcelEvent[]) => unknown>();
  #nextId = 0;
  #dead: Error | undefined;

  constructor(parcelPath: string) {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { parcel: parcelPath }, execArgv: [] });
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') resolve();
        else this.#receive(message);
      });
      const die = (error: Error) => {
        this.#dead = error;
        reject(error);
        for (const pending of this.#pending.values()) pending.reject(error);
        this.#pending.clear();
        for (const callback of this.#callbacks.values()) callback(error, []);
        this.#callbacks.clear();
      };
      this.#worker.on('error', die);
      this.#worker.on('exit', (code) => die(new Error(`the @parcel/watcher worker exited with code ${code}`)));
    });
    // Referenced until loaded, and while a call is pending (a start awaits it); idle, unref()'d.
    this.#ready.then(
      () => this.#unrefWhenIdle(),
      () => {},
    );
  }

  #unrefWhenIdle(): void {
    if (this.#pending.size === 0) this.#worker.unref();
  }

  /** Resolves once `@parcel/watcher` is loaded in the worker. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Whether the worker has died (every later call rejects). */
  get dead(): boolean {
    return this.#dead !== undefined;
  }

  async subscribe(
    dir: string,
    callback: (error: Error | null, events: ParcelEvent[]) => unknown,
    options?: { ignore?: string[] },
  ): Promise<{ unsubscribe(): Promise<void> }> {
    await this.#ready;
    const id = ++this.#nextId;
    this.#callbacks.set(id, callback);
    try {
      await this.#send({ type: 'subscribe', id, dir, options });
    } catch (error) {
      this.#callbacks.delete(id);
      throw error;
    }
    return {
      unsubscribe: async () => {
        if (!this.#callbacks.delete(id)) return;
        await this.#send({ type: 'unsubscribe', id });
      },
    };
  }

  #send(message: ToWorker): Promise<void> {
    if (this.#dead) return Promise.reject(this.#dead);
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(message.id, { resolve, reject });
      this.#worker.ref();
      this.#worker.postMessage(message);
    });
  }

  #receive(message: Exclude<FromWorker, { type: 'ready' }>): void {
    if (message.type === 'events' || message.type === 'error') {
      const callback = this.#callbacks.get(message.id);
      if (message.type === 'events') callback?.(null, message.events);
      else callback?.(new Error(message.message), []);
      return;
    }
    const pending = this.#pending.get(message.id);
    this.#pending.delete(message.id);
    this.#unrefWhenIdle();
    if (message.type === 'failed') pending?.reject(new Error(message.message));
    else pending?.resolve();
  }
}

let shared: WorkerParcel | undefined;

/**
 * `@parcel/watcher` in the process's one unref()'d watcher worker (started on
 * first use; started again if it died). Rejects when the package or its binary
 * cannot load there, or a worker cannot start (Node's permission model
 * without `--allow-worker`).
 */
export async function loadParcelInWorker(): Promise<ParcelWatcher> {
  if (shared === undefined || shared.dead) {
    shared = new WorkerParcel(createRequire(import.meta.url).resolve('@parcel/watcher'));
  }
  const current = shared;
  try {
    await current.ready();
  } catch (error) {
    if (shared === current) shared = undefined;
    throw error;
  }
  return current;
}
