import type { HotMcpError } from '../errors.js';
import type { ResolvedImport } from './runner-resolve.js';

/** A module's namespace: what importers and the engine see. */
export type Namespace = Record<string, unknown>;
/** A compiled module's body: the first step defines its exports' getters, the second runs its code. */
export type Body = AsyncGenerator<undefined, void, undefined>;

/** One import of a runner module, resolved. */
export interface ImportEdge {
  specifier: string;
  target: ResolvedImport;
  /** The runner module a local import links to. */
  module?: RunnerModule;
}

/** One evaluated (or evaluating) version of one file. */
export interface RunnerModule {
  readonly file: string;
  /** The load (or dynamic import) that created it. */
  readonly generation: number;
  /** What importers and the engine see: live getters onto the module's bindings. */
  readonly namespace: Namespace;
  status: 'linking' | 'linked' | 'evaluating' | 'evaluated' | 'failed';
  imports: ImportEdge[];
  /** Specifier → namespace, filled just before the body runs; what the module's `require` answers. */
  readonly linked: Map<string, unknown>;
  body?: Body;
  /** Settles when the module is compiled and its imports resolved (its local imports are linking by then). */
  ready: Promise<void>;
  evaluation?: Promise<void>;
  /** The module this one's evaluation is waiting for: walked to never wait in a circle. */
  waitingFor?: RunnerModule;
  /** When its body (its own top-level code, after its imports) started running. */
  bodyAt?: number;
  error?: HotMcpError;
  /** Kept while loading, to point a failed import at its line. */
  source?: string;
}

/** An empty module namespace object. */
export function createNamespace(): Namespace {
  const namespace = Object.create(null) as Namespace;
  Object.defineProperty(namespace, Symbol.toStringTag, { value: 'Module' });
  return namespace;
}

/** True when `module` imports, directly or not, a module that already failed. */
export function reachesFailed(module: RunnerModule, seen = new Set<RunnerModule>()): boolean {
  seen.add(module);
  return module.imports.some(
    ({ module: next }) =>
      next !== undefined && !seen.has(next) && (next.status === 'failed' || reachesFailed(next, seen)),
  );
}
