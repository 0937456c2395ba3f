import type { AnyDefinition, DefinitionKind } from '../define.js';

/** Bare names in a live registry, per kind. */
export interface RegistrySnapshot {
  /** Tool names. */
  tools: string[];
  /** Prompt names. */
  prompts: string[];
  /** Fixed resources, by normalised URI (`new URL(uri).href`). */
  resources: string[];
  /** Resource templates, by name. */
  resourceTemplates: string[];
}

/** One kind-and-name reference to a registry entry (for a fixed resource, the name is its normalised URI). */
export interface RegistryEntryRef {
  /** Which registry the entry lives in. */
  kind: DefinitionKind;
  /** Its bare name (normalised URI for a fixed resource). */
  name: string;
}

/** What one batch does to the registry. */
export interface RegistryChange {
  /** Definitions to add, or to put in place of the reloader's entry of the same name. */
  upsert: AnyDefinition[];
  /** Reloader-owned entries to remove. */
  remove: RegistryEntryRef[];
}

/** A change the adapter has checked and converted; opaque to the engine. */
export interface PreparedChange {
  /** The change this was prepared from. */
  readonly change: RegistryChange;
}

/** A list a client fetches, with its own list_changed notification. */
export type ListKind = 'tool' | 'prompt' | 'resource';

/** What a commit did. */
export interface CommitResult {
  /** The lists whose list_changed notification was sent (once each). */
  notified: ListKind[];
}

/**
 * A module's function that registers on a server the way SDK code does
 * (`export function register(server)` or a default-exported function,
 * whatever its parameter is named). It may return a promise.
 */
export type RegisterFunction = (server: any) => unknown;

/** What {@link ToolRegistryAdapter.capture} is told about one register function. */
export interface CaptureOptions {
  /** The module that exports the function (absolute path). */
  file: string;
  /** The watched root: each registration is attributed to the first call site in a file under it. */
  root: string;
  /** Aborted when the time limit passes: the capture stops recording and rejects with the signal's reason. */
  signal: AbortSignal;
}

/** What a capture recorded. */
export interface CaptureResult {
  /** One definition per registration left enabled, in registration order; each carries the stack of its call. */
  definitions: AnyDefinition[];
}

/** A log message for the server's clients: an MCP `notifications/message`. */
export interface ClientLogMessage {
  level: 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'critical' | 'alert' | 'emergency';
  /** The logger's name (hotmcp uses `hotmcp`). */
  logger: string;
  /** Any JSON value. Keep it free of absolute paths and file contents: clients see it. */
  data: unknown;
}

/**
 * Port: a bare-name view of one live server's registry.
 *
 * `prepare` is asynchronous and touches nothing; when one definition cannot be
 * registered it throws a `HotMcpError` whose `details` carry `kind` and `name`.
 * `commit` is synchronous, so no request sees half a batch; it rolls back and
 * throws on error, and sends at most one list_changed per list kind.
 */
export interface ToolRegistryAdapter {
  /** Adapter contract version this implementation follows. */
  readonly contractVersion: 1;
  /** Human-readable adapter name, for errors and audit events. */
  readonly adapterName: string;
  /**
   * The SDK the adapter drives: package name, the semver range it supports,
   * and the version it found (when it can tell). Core refuses the adapter
   * with `HOTMCP_ERR_ADAPTER_INCOMPATIBLE` when the version is outside the range.
   */
  readonly sdk?: { name: string; range: string; version?: string };
  /** What the live registry holds now, including entries registered outside the reloader. */
  list(): RegistrySnapshot;
  /**
   * Check and convert a change without touching the server.
   *
   * @throws `HotMcpError` with `details: { kind, name }` for a definition it cannot take.
   */
  prepare(change: RegistryChange): Promise<PreparedChange>;
  /**
   * Apply a prepared change synchronously and send at most one list_changed per list.
   *
   * @returns The lists whose list_changed was sent (none for a body-only change).
   * @throws `HotMcpError` (`HOTMCP_ERR_COMMIT_FAILED`) after restoring the registry exactly.
   */
  commit(prepared: PreparedChange): CommitResult;
  /**
   * Optional: send a log message to the connected clients, only when the
   * server advertises the `logging` capability and the client's
   * `logging/setLevel` lets the level through. Never throws; a failed send
   * is not retried.
   */
  sendLog?(message: ClientLogMessage): void;
  /**
   * Optional capability, shared plans: whether {@link commit} takes
   * `prepared`, a change prepared by another adapter (on another server of
   * the same kind). The fan-out adapter then prepares each batch once, on its
   * catalog, and commits that one prepared change to every session that says
   * yes; the others prepare their own. Each commit still checks its own
   * server's entries and rolls back on its own.
   */
  canCommit?(prepared: PreparedChange): boolean;
  /**
   * Optional capability, deferred list_changed: {@link commit} without
   * sending the notifications. The registry changes at once; the caller sends
   * `result.notified` later with {@link sendListChanged}. Implement both or
   * neither: the fan-out adapter then changes every session's registry in one
   * step and spreads the sends over event-loop turns.
   *
   * @returns The lists whose list_changed is due (none for a body-only change).
   * @throws `HotMcpError` (`HOTMCP_ERR_COMMIT_FAILED`) after restoring the registry exactly.
   */
  commitQuietly?(prepared: PreparedChange): CommitResult;
  /**
   * Optional capability, the other half of {@link commitQuietly}: send one
   * list_changed per kind to the connected clients. Never throws.
   */
  sendListChanged?(kinds: readonly ListKind[]): void;
  /**
   * Optional: run a module's register function against a recording server
   * shaped like this adapter's, and return what it registered as
   * definitions, without touching the live server. The engine then owns them
   * like exported definitions (same transaction, last good version,
   * conflicts). Rejects with what the function threw, or with a
   * `HotMcpError` `HOTMCP_ERR_CAPTURE_UNSUPPORTED` naming the call, file and
   * line of anything the recorder cannot honour. Without it, a module that
   * exports a register function fails with that code.
   */
  capture?(register: RegisterFunction, options: CaptureOptions): Promise<CaptureResult>;
}
