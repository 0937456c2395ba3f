/**
 * Module hooks that version files inside watched roots. Loaded by
 * `module.register` in Node's hooks thread, or used in-thread through
 * `module.registerHooks` where Node has it. A file inside a root resolves to
 * `file:///…/x.ts?hotmcp=<version>`, so bumping a file's version makes the next
 * import evaluate it afresh, while unchanged helpers stay cached and shared.
 */

import { realpathSync } from 'node:fs';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MessagePort } from 'node:worker_threads';

export const VERSION_PARAM = 'hotmcp';

/** What the main thread sends: roots and version bumps. The reply carries the import edges seen since the last sync. */
export interface SyncMessage {
  id: number;
  roots?: string[];
  versions?: Array<[string, number]>;
}

export interface SyncReply {
  id: number;
  edges: Array<[string, string[]]>;
}

interface HookState {
  roots: string[];
  versions: Map<string, number>;
  edges: Map<string, Set<string>>;
}

export function createHookState(): HookState {
  return { roots: [], versions: new Map(), edges: new Map() };
}

export function applySync(state: HookState, message: SyncMessage): SyncReply {
  if (message.roots) state.roots = message.roots.map((root) => (root.endsWith(sep) ? root : root + sep));
  for (const [file, version] of message.versions ?? []) state.versions.set(file, version);
  const edges = [...state.edges].map(([parent, children]): [string, string[]] => [parent, [...children]]);
  state.edges.clear();
  return { id: message.id, edges };
}

function watchedPath(state: HookState, url: string | undefined): string | undefined {
  if (!url?.startsWith('file:')) return undefined;
  const path = fileURLToPath(url.split('?')[0] as string);
  if (path.includes(`${sep}node_modules${sep}`)) return undefined;
  return state.roots.some((root) => path.startsWith(root)) ? path : undefined;
}

/** Specifiers to try when a relative import from a watched file does not resolve as written. */
export function alternatives(specifier: string): string[] {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return [];
  const swap: Record<string, string[]> = {
    '.js': ['.ts', '.tsx'],
    '.mjs': ['.mts'],
    '.cjs': ['.cts'],
    '.jsx': ['.tsx'],
  };
  const match = /\.(?:js|mjs|cjs|jsx)$/.exec(specifier);
  if (match) return (swap[match[0]] ?? []).map((ext) => specifier.slice(0, -match[0].length) + ext);
  if (/\.[cm]?tsx?$|\.json$/.test(specifier)) return [];
  return ['.ts', '.mts', '.tsx', '.js', '.mjs', '/index.ts', '/index.js'].map((ext) => specifier + ext);
}

interface Resolved {
  url: string;
  format?: string | null;
  shortCircuit?: boolean;
  importAttributes?: Record<string, string>;
}

function stamp(state: HookState, resolved: Resolved, parentURL: string | undefined): Resolved {
  const path = watchedPath(state, resolved.url);
  if (path === undefined) return resolved;
  const parent = watchedPath(state, parentURL);
  if (parent !== undefined && parentURL !== undefined) {
    const children = state.edges.get(parentURL) ?? new Set<string>();
    state.edges.set(parentURL, children);
    children.add(path);
  }
  const base = resolved.url.split('?')[0] as string;
  return { ...resolved, url: `${base}?${VERSION_PARAM}=${state.versions.get(path) ?? 0}` };
}

/** The `code` of the error the resolve hook throws for a path import that leaves the root. */
export const OUTSIDE_ROOT_CODE = 'ERR_HOTMCP_OUTSIDE_ROOT';

/**
 * A watched file may import packages by name, and files inside the roots by
 * path; a path import (relative, absolute, `file:`) that resolves outside
 * every root, symlinks followed, is refused.
 */
function confine(state: HookState, specifier: string, resolved: Resolved, parentURL: string | undefined): Resolved {
  if (watchedPath(state, parentURL) === undefined || !resolved.url.startsWith('file:')) return resolved;
  if (!/^(?:\.{1,2}\/|\/|file:)/.test(specifier)) return resolved;
  let real = fileURLToPath(resolved.url.split('?')[0] as string);
  try {
    real = realpathSync(real);
  } catch {}
  if (state.roots.some((root) => real.startsWith(root))) return resolved;
  const parent = fileURLToPath((parentURL as string).split('?')[0] as string);
  throw Object.assign(
    new Error(
      `Cannot import '${specifier}' imported from ${parent} (it resolves to ${real}, outside the watched root)`,
    ),
    { code: OUTSIDE_ROOT_CODE },
  );
}

type Context = { parentURL?: string | undefined; conditions?: string[]; importAttributes?: Record<string, string> };

/** The resolve step for `module.registerHooks` (synchronous). */
export function resolveSync(
  state: HookState,
  specifier: string,
  context: Context,
  nextResolve: (specifier: string, context?: Context) => Resolved,
): Resolved {
  let resolved: Resolved;
  try {
    resolved = stamp(state, nextResolve(specifier, context), context.parentURL);
  } catch (error) {
    if (watchedPath(state, context.parentURL) === undefined) throw error;
    resolved = resolveAlternative(specifier, error, (candidate) =>
      stamp(state, nextResolve(candidate, context), context.parentURL),
    );
  }
  return confine(state, specifier, resolved, context.parentURL);
}

function resolveAlternative(specifier: string, error: unknown, attempt: (candidate: string) => Resolved): Resolved {
  for (const candidate of alternatives(specifier)) {
    try {
      return attempt(candidate);
    } catch {}
  }
  throw error;
}

// --- `module.register` entry points (hooks thread) ---

const threadState = createHookState();

export async function initialize(data: { port: MessagePort }): Promise<void> {
  data.port.on('message', (message: SyncMessage) => data.port.postMessage(applySync(threadState, message)));
  data.port.unref();
}

export async function resolve(
  specifier: string,
  context: Context,
  nextResolve: (specifier: string, context?: Context) => Promise<Resolved>,
): Promise<Resolved> {
  let resolved: Resolved | undefined;
  try {
    resolved = stamp(threadState, await nextResolve(specifier, context), context.parentURL);
  } catch (error) {
    if (watchedPath(threadState, context.parentURL) === undefined) throw error;
    for (const candidate of alternatives(specifier)) {
      try {
        resolved = stamp(threadState, await nextResolve(candidate, context), context.parentURL);
        break;
      } catch {}
    }
    if (resolved === undefined) throw error;
  }
  return confine(threadState, specifier, resolved, context.parentURL);
}
