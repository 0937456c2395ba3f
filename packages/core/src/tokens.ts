import type { AuditSink } from './ports/audit-sink.js';
import type { ChangeSource, ChangeSourceOptions } from './ports/change-source.js';
import type { ModuleLoader } from './ports/module-loader.js';
import type { ToolRegistryAdapter } from './ports/tool-registry-adapter.js';

/** A DI token that carries the type registered under it. */
export type Token<T> = string & { readonly __port?: T };

/** Settings every part of one reloader shares. */
export interface ReloaderSettings extends ChangeSourceOptions {
  /** Globs relative to root whose files are never loaded. */
  deny: readonly string[];
  /** Absolute files that are never loaded (the server's entry module, the reloader itself). */
  denyFiles: readonly string[];
  /** How long a module's asynchronous `register(server)` may take, in ms. Default 2000. */
  captureTimeoutMs?: number;
}

/** The token table: one token per port, typed with the port. */
export const TOKENS = {
  /** The {@link ReloaderSettings} every part shares. */
  settings: 'hotmcp.settings' as Token<ReloaderSettings>,
  /** The {@link ChangeSource} port: which files changed. */
  changeSource: 'hotmcp.change-source' as Token<ChangeSource>,
  /** The {@link ModuleLoader} port: load modules, know the import graph. */
  moduleLoader: 'hotmcp.module-loader' as Token<ModuleLoader>,
  /** The {@link ToolRegistryAdapter} port: the live server's registry. */
  registryAdapter: 'hotmcp.registry-adapter' as Token<ToolRegistryAdapter>,
  /** The {@link AuditSink} port: where events are recorded. */
  auditSink: 'hotmcp.audit-sink' as Token<AuditSink>,
} as const;
