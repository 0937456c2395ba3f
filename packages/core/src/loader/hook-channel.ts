import * as nodeModule from 'node:module';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { applySync, createHookState, resolveSync, type SyncMessage, type SyncReply } from './esm-hooks.js';

/**
 * The process-wide link to the versioning hooks: registered once, shared by
 * every native-ESM loader in the process.
 */
export interface HookChannel {
  sync(message: Omit<SyncMessage, 'id'>): Promise<SyncReply>;
}

let channel: Promise<HookChannel> | undefined;
const roots = new Set<string>();

type RegisterHooks = (hooks: { resolve: (s: string, c: any, n: any) => any }) => unknown;

async function registerTypeScript(): Promise<void> {
  // Node with built-in type stripping loads .ts itself; elsewhere tsx's ESM hooks are registered once.
  if ((process.features as { typescript?: unknown }).typescript) return;
  const { register } = await import('tsx/esm/api');
  register();
}

async function open(): Promise<HookChannel> {
  await registerTypeScript();
  const registerHooks = (nodeModule as { registerHooks?: RegisterHooks }).registerHooks;
  if (registerHooks) {
    const state = createHookState();
    registerHooks({ resolve: (specifier, context, next) => resolveSync(state, specifier, context, next) });
    let id = 0;
    return { sync: async (message) => applySync(state, { ...message, id: ++id }) };
  }
  const { port1, port2 } = new MessageChannel();
  nodeModule.register(new URL('./esm-hooks.js', import.meta.url), {
    data: { port: port2 },
    transferList: [port2],
  });
  return createPortChannel(port1);
}

function createPortChannel(port: MessagePort): HookChannel {
  let id = 0;
  const waiting = new Map<number, (reply: SyncReply) => void>();
  port.on('message', (reply: SyncReply) => {
    waiting.get(reply.id)?.(reply);
    waiting.delete(reply.id);
    if (waiting.size === 0) port.unref();
  });
  port.unref();
  return {
    sync(message) {
      const request = { ...message, id: ++id };
      return new Promise((resolve) => {
        waiting.set(request.id, resolve);
        port.ref();
        port.postMessage(request);
      });
    },
  };
}

/** Register the hooks (once per process) and add `root` to the versioned folders. */
export async function openHookChannel(root: string): Promise<HookChannel> {
  channel ??= open();
  const ready = await channel;
  if (!roots.has(root)) {
    roots.add(root);
    await ready.sync({ roots: [...roots] });
  }
  return ready;
}
