import { fileURLToPath } from 'node:url';
import { createReloader, type Reloader } from './create-reloader.js';
import type { ReloaderStatus } from './engine/status.js';
import { HotMcpError } from './errors.js';
import type { CreateReloaderOptions } from './reloader-options.js';

interface Current {
  reloader: Promise<Reloader>;
  ready?: Reloader;
  server: unknown;
  root: string;
}

let current: Current | undefined;

/**
 * Start the process's one reloader. Calling it again while it runs returns the
 * same reloader; calling it for another server or root is an error.
 */
export async function startHotReload(options: CreateReloaderOptions): Promise<Reloader> {
  const root = options.root instanceof URL ? fileURLToPath(options.root) : options.root;
  if (current) {
    if (current.server !== options.server || current.root !== root) {
      throw new HotMcpError(
        'HOTMCP_ERR_BAD_OPTION',
        `hot reload already runs for ${current.root}; call stopHotReload() before starting it for another server or root`,
      );
    }
    return current.reloader;
  }
  const entry: Current = {
    reloader: createReloader(options).then(async (created) => {
      await created.start();
      entry.ready = created;
      return created;
    }),
    server: options.server,
    root,
  };
  current = entry;
  const { reloader } = entry;
  try {
    return await reloader;
  } catch (error) {
    current = undefined;
    throw error;
  }
}

/** Stop the process's reloader, if any. Idempotent. */
export async function stopHotReload(): Promise<void> {
  const stopping = current;
  current = undefined;
  if (stopping) await (await stopping.reloader).stop();
}

/** Status of the process's reloader (`running: false` when there is none). */
export function hotReloadStatus(): ReloaderStatus {
  if (!current?.ready) {
    return {
      running: false,
      root: current?.root ?? '',
      trackedFiles: [],
      modules: [],
      errors: [],
      counts: { modules: 0, tools: 0, prompts: 0, resources: 0, batches: 0, failedLoads: 0 },
    };
  }
  return current.ready.status();
}
