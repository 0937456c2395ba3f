/**
 * Entries built on the SDK's low-level `Server` (their own `tools/list` and
 * `tools/call` handlers, no `McpServer`): what they serve cannot be captured
 * registration by registration, so `hotmcp dev` serves them as `node` would
 * and applies each edit of their import graph by a restart, which its
 * supervisor hides from the client (it replays the client's session on the
 * new process and sends `list_changed`).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { watchProject } from '../supervisor/retry-watch.js';
import { LISTS, withListChanged } from './capabilities.js';
import type { RestartNeededMessage } from './reporter.js';

type AnyObject = Record<string, unknown>;
type Handler = (...args: unknown[]) => unknown;

/**
 * Have `connect()` of the SDK's low-level `Server` classes call `onConnect`
 * for a server connected while `unclaimed()` holds. An `McpServer` connects
 * its own `Server` after `hotmcp dev` took it for the live server, so only a
 * server the entry built and connected itself gets there.
 */
export function catchLowLevelConnect(
  classes: Iterable<unknown>,
  unclaimed: () => boolean,
  onConnect: (server: AnyObject, transport: unknown) => void,
): void {
  for (const Server of new Set(classes)) {
    const proto = (Server as { prototype?: AnyObject } | undefined)?.prototype;
    const connect = proto?.connect;
    if (!proto || typeof connect !== 'function') continue;
    Object.defineProperty(proto, 'connect', {
      configurable: true,
      writable: true,
      value(this: AnyObject, transport: unknown) {
        if (unclaimed()) onConnect(this, transport);
        return (connect as Handler).call(this, transport);
      },
    });
  }
}

/**
 * Make the low-level server advertise `listChanged` on each list it serves
 * (a restart may change them), and nothing it does not serve: `before` is
 * what it advertised before `hotmcp dev` added the lists and `logging` of an
 * McpServer to it, when it did. Returns the lists that lacked `listChanged`.
 */
export function listChangedOnly(server: AnyObject, before?: AnyObject): string[] {
  const capabilities = { ...(server._capabilities as Record<string, AnyObject | undefined>) };
  if (before) {
    for (const key of [...LISTS, 'logging']) {
      const value = capabilities[key];
      const added = value !== undefined && Object.keys(value).every((name) => name === 'listChanged');
      if (before[key] === undefined && added) delete capabilities[key];
    }
  }
  let missing: string[] = [];
  server._capabilities = withListChanged(
    capabilities,
    (lists) => {
      missing = lists;
    },
    'existing',
  );
  return missing;
}

/**
 * Ask for a restart whenever a file of the entry's import graph (`graph()`,
 * read at each change) changes from what this process loaded (`loaded(file)`,
 * a digest of its text), or changed after `since` (epoch ms): over
 * IPC to the supervisor, or, with none, on stderr (`say`). Code that cannot
 * even compile is not worth a new process: while an edited file of the graph
 * does not compile (or is empty, a save in progress), it is said with its line
 * and nothing restarts until it does (code that compiles but fails at start
 * ends the new process; the supervisor keeps this one serving). Returns a
 * function that stops watching (resolving once the watcher let go).
 */
export function restartOnEdit(
  root: string,
  graph: () => Iterable<string>,
  loaded: (file: string) => string | undefined,
  since: number,
  watcher: 'auto' | 'native' | 'poll' | undefined,
  say: (line: string) => void,
): () => Promise<void> {
  /** Edited files of the graph that did not compile when last checked. */
  const broken = new Set<string>();
  /**
   * What each file held when last checked: a save seen twice (two events) is one edit. Before its first
   * check a file is compared with what this process loaded (`loaded`: a digest): a save that changed
   * nothing (a touch, an editor writing the same text) is no edit.
   */
  const texts = new Map<string, string | undefined>();
  let checks = Promise.resolve();
  // Each edit asks again: should the new process fail to start, this one serves on, and the fix is an edit too.
  const changed = async (files: string[]) => {
    const inGraph = new Set(graph());
    const edited = files.filter((file) => {
      if (!inGraph.has(file)) return false;
      const text = read(file);
      const same = texts.has(file) ? texts.get(file) === text : text !== undefined && loaded(file) === digestOf(text);
      texts.set(file, text);
      return !same;
    });
    if (edited.length === 0) return;
    for (const file of new Set([...broken, ...edited])) {
      const problem = await compileProblem(file, texts.get(file));
      if (problem === undefined) broken.delete(file);
      else {
        if (edited.includes(file)) say(`${relative(root, file)}${problem}; not restarted: the running version serves`);
        broken.add(file);
      }
    }
    if (broken.size > 0) return;
    const reason = `${relative(root, edited[0] as string)} changed (the entry serves a low-level Server: its edits apply by a restart)`;
    if (typeof process.send === 'function' && process.connected) {
      const message: RestartNeededMessage = {
        type: 'hotmcp:restart-needed',
        reason,
        code: 'HOTMCP_ERR_RESTART_NEEDED',
      };
      try {
        process.send(message);
        return;
      } catch {
        // the supervisor went away: say it here
      }
    }
    say(`${reason}; restart hotmcp dev to apply it`);
  };
  return watchProject(
    root,
    watcher,
    (files) => {
      checks = checks.then(() => changed(files)).catch(() => {});
    },
    since,
  );
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Why `file` (holding `source`) cannot load (`:line: reason`), or undefined when it compiles (or is gone: a restart tells). */
async function compileProblem(file: string, source: string | undefined): Promise<string | undefined> {
  if (source === undefined) return undefined;
  if (source.trim() === '') return ': is empty (a save in progress?)';
  if (file.endsWith('.json')) {
    try {
      JSON.parse(source);
      return undefined;
    } catch (error) {
      return `: ${(error as Error).message}`;
    }
  }
  const { precompileModule } = await import('@hotmcp/core');
  try {
    await precompileModule(file, source);
    return undefined;
  } catch (error) {
    const [first] = (error as { errors?: Array<{ text?: string; location?: { line?: number } | null }> }).errors ?? [];
    const line = first?.location?.line;
    return `${line ? `:${line}` : ''}: ${first?.text ?? (error as Error).message}`;
  }
}

/** A digest of a file's text, to tell a save that changed it from one that did not. */
export function digestOf(text: string): string {
  return createHash('sha1').update(text).digest('base64');
}
