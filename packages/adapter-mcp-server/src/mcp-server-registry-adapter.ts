import {
  type AnyDefinition,
  type CaptureOptions,
  type CaptureResult,
  type ClientLogMessage,
  type CommitResult,
  type DefinitionKind,
  HotMcpError,
  keyOf,
  type ListKind,
  listOf,
  type PreparedChange,
  type RegisterFunction,
  type RegistryChange,
  type RegistrySnapshot,
  registryName,
  type ToolRegistryAdapter,
} from '@hotmcp/core';
import {
  type Callback,
  capabilitiesOf,
  handlersInstalled,
  KINDS,
  LIST_ORDER,
  type McpServerLike,
  messageOf,
  ownEntry,
  type RegisteredEntryLike,
  registryKeys,
  registryOf,
  templateOf,
} from './mcp-server-shape.js';
import { type PreparedEntry, type SchemaField, toPreparedEntry } from './prepared-entry.js';
import { captureOnServer } from './recording/capture.js';
import { checkpoint } from './registry-rollback.js';
import { ScratchListing } from './scratch-listing.js';
import { sendListChanged, sendLog, shadowNotifiers } from './server-notifications.js';

/**
 * A change checked and listed by an {@link McpServerRegistryAdapter}, carrying
 * its plan. The plan holds no reference to the server it was checked against
 * (entries register on whichever server commits them), so any adapter of the
 * same name (the same SDK adapter, on another server) can commit it — see the
 * fan-out adapter — each commit checking its own server's foreign names and
 * rolling back on its own.
 */
class McpServerPreparedChange implements PreparedChange {
  constructor(
    readonly change: RegistryChange,
    /** The `adapterName` of the adapter that prepared it. */
    readonly preparedBy: string,
    readonly removals: ReadonlyArray<{ kind: DefinitionKind; key: string }>,
    readonly upserts: readonly PreparedEntry[],
  ) {}
}

/**
 * A {@link ToolRegistryAdapter} for servers shaped like the official SDK's
 * `McpServer` (both majors keep the same four registries). SDK-free: each
 * adapter package subclasses it and supplies what differs between SDKs — a
 * scratch server, the `ResourceTemplate` class, the schema rules.
 *
 * - `prepare` checks every definition and lists it on a private scratch
 *   server through the SDK's own list handler, so a schema the SDK cannot
 *   convert to JSON Schema is refused before the live server is touched (it
 *   would otherwise break `tools/list` for every client).
 * - Fixed resources are keyed by `new URL(uri).href` (core's `normaliseUri`),
 *   the key the SDK reads them back by: this is the TypeScript counterpart of
 *   the original hot reloader's key-projection shim, which mapped bare names
 *   onto what the SDK stores.
 * - `commit` is synchronous: it removes and registers afresh (never
 *   `update()`), so a request already running finishes on the entry it
 *   started with. The server's list_changed senders are shadowed meanwhile;
 *   afterwards one list_changed goes out per list whose listed form changed
 *   (a change of handler body alone swaps the code silently). On any error
 *   every registry is restored exactly and nothing is sent.
 */
export abstract class McpServerRegistryAdapter implements ToolRegistryAdapter {
  readonly contractVersion = 1 as const;
  abstract readonly adapterName: string;
  abstract readonly sdk: { name: string; range: string; version?: string };

  /** The live server this adapter writes to. */
  protected readonly server: McpServerLike;
  /** Entries this adapter registered; anything else on the server is foreign. */
  readonly #owned = new WeakSet<RegisteredEntryLike>();
  /** The listed form each owned entry was registered with. */
  readonly #listed = new WeakMap<RegisteredEntryLike, string>();
  readonly #scratch = new ScratchListing({
    createScratchServer: () => this.createScratchServer(),
    assertListed: (kind, entry) => this.assertListed(kind, entry),
    incompatible: (method) =>
      `${this.adapterName} cannot find the ${method} handler of ${this.sdk.name}; supported range ${this.sdk.range}.`,
  });

  protected constructor(server: McpServerLike) {
    this.server = server;
  }

  /** A fresh, unconnected McpServer of the same SDK, advertising tools, prompts and resources. */
  protected abstract createScratchServer(): McpServerLike;

  /**
   * The SDK's `ResourceTemplate` for a URI template, with its list callback and
   * its completions by variable; throws when the template cannot be parsed.
   */
  protected abstract createResourceTemplate(
    template: string,
    list: Callback | undefined,
    complete?: Record<string, Callback>,
  ): unknown;

  /** Why a schema cannot be registered with this SDK, or undefined when it can. */
  protected abstract schemaProblem(field: SchemaField, schema: unknown): string | undefined;

  /** The schema in the form this SDK's register method takes (a checked schema goes in). Default: as given. */
  protected normaliseSchema(_field: SchemaField, schema: unknown): unknown {
    return schema;
  }

  /** Throw when a listed entry is not valid MCP (beyond what the SDK checks itself). */
  protected assertListed(_kind: DefinitionKind, _entry: Record<string, unknown>): void {}

  /** How to construct a server this adapter can drive, for capability errors. */
  protected get constructionHint(): string {
    return 'construct it as new McpServer(info, { capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true } } }) before calling connect()';
  }

  /**
   * Throw `HOTMCP_ERR_CAPABILITY_MISSING` when the server is connected and
   * can take no hot-reloaded entry of any kind. Subclasses call it last in
   * their constructor.
   */
  protected assertUsable(): void {
    if (!this.server.isConnected()) return;
    const problems = (['tool', 'prompt', 'resource'] as const).map((kind) => this.capabilityProblem(kind));
    const first = problems[0];
    if (problems.every((problem) => problem !== undefined) && first !== undefined) {
      throw new HotMcpError('HOTMCP_ERR_CAPABILITY_MISSING', first, { details: { capability: 'tools.listChanged' } });
    }
  }

  /** Why entries of `kind` cannot be added to the live server now, or undefined. */
  protected capabilityProblem(kind: DefinitionKind): string | undefined {
    const server = this.server;
    if (!server.isConnected()) return undefined;
    const { capability } = KINDS[kind];
    const name = server.server._serverInfo?.name;
    const label = name === undefined ? 'The McpServer' : `McpServer "${name}"`;
    if (capabilitiesOf(server)?.[capability]?.listChanged !== true) {
      return `${label} is already connected without the ${capability}.listChanged capability, so ${capability} cannot be hot-reloaded: ${this.constructionHint}.`;
    }
    if (!handlersInstalled(server, kind)) {
      return `${label} advertises ${capability}.listChanged but was connected before its ${capability} request handlers were installed, so the SDK refuses to add one: ${this.constructionHint}.`;
    }
    return undefined;
  }

  /** Bare names of every entry on the server, including foreign ones; fixed resources by URI. */
  list(): RegistrySnapshot {
    const server = this.server;
    return {
      tools: registryKeys(server, 'tool'),
      prompts: registryKeys(server, 'prompt'),
      resources: registryKeys(server, 'resource'),
      resourceTemplates: registryKeys(server, 'resourceTemplate'),
    };
  }

  /** Check and convert a change; touches nothing on the live server. */
  async prepare(change: RegistryChange): Promise<PreparedChange> {
    const removals: Array<{ kind: DefinitionKind; key: string }> = [];
    for (const ref of change.remove) {
      const key = registryName(ref);
      this.#assertNotForeign(ref.kind, key);
      removals.push({ kind: ref.kind, key });
    }

    const rules = {
      schemaProblem: (field: SchemaField, schema: unknown) => this.schemaProblem(field, schema),
      normaliseSchema: (field: SchemaField, schema: unknown) => this.normaliseSchema(field, schema),
      createResourceTemplate: (template: string, list: Callback | undefined, complete?: Record<string, Callback>) =>
        this.createResourceTemplate(template, list, complete),
    };
    const upserts: PreparedEntry[] = [];
    const seen = new Set<string>();
    for (const definition of change.upsert) {
      const entry = toPreparedEntry(definition, rules);
      const id = keyOf({ kind: entry.kind, name: entry.key });
      if (seen.has(id)) {
        throw new HotMcpError(
          'HOTMCP_ERR_DUPLICATE_NAME',
          `${KINDS[entry.kind].label} "${entry.key}" appears more than once in one change.`,
          { details: { kind: entry.kind, name: entry.key } },
        );
      }
      seen.add(id);
      const problem = this.capabilityProblem(entry.kind);
      if (problem !== undefined) {
        throw new HotMcpError('HOTMCP_ERR_CAPABILITY_MISSING', problem, {
          details: { kind: entry.kind, name: entry.key, capability: `${KINDS[entry.kind].capability}.listChanged` },
        });
      }
      this.#assertNotForeign(entry.kind, entry.key);
      entry.listed = await this.#scratch.list(entry, this.server);
      upserts.push(entry);
    }
    this.#assertNoTemplateCollision(change.upsert, removals, upserts);

    return new McpServerPreparedChange(change, this.adapterName, removals, upserts);
  }

  /**
   * Whether {@link commit} takes `prepared`: a change prepared by this adapter
   * or by another adapter of the same `adapterName` (on another server of the
   * same SDK). Lets one prepare serve many servers; the commit still checks this
   * server's own entries.
   */
  canCommit(prepared: PreparedChange): boolean {
    return prepared instanceof McpServerPreparedChange && prepared.preparedBy === this.adapterName;
  }

  /**
   * Apply a prepared change in one synchronous step: removals, then upserts
   * (a replaced entry is removed and registered afresh). Rolls back and throws
   * `HOTMCP_ERR_COMMIT_FAILED` on any error, sending nothing. Takes a change
   * prepared by any adapter of the same name ({@link canCommit}).
   */
  commit(prepared: PreparedChange): CommitResult {
    const result = this.commitQuietly(prepared);
    this.sendListChanged(result.notified);
    return result;
  }

  /**
   * {@link commit} without sending the list_changed notifications: the
   * registries change at once, and the caller sends `result.notified` later
   * with {@link sendListChanged}. Lets the fan-out adapter update every
   * session in one step and then spread the sends over event-loop turns, so
   * the first clients hear of a batch while the last sessions are still
   * being told.
   */
  commitQuietly(prepared: PreparedChange): CommitResult {
    if (!this.canCommit(prepared)) {
      throw new HotMcpError(
        'HOTMCP_ERR_COMMIT_FAILED',
        `${this.adapterName} can only commit a change returned by prepare() of an adapter of its own name.`,
      );
    }
    const plan = prepared as McpServerPreparedChange;
    const server = this.server;
    const before = checkpoint(server);
    const changed = new Set<ListKind>();
    const unshadow = shadowNotifiers(server);
    try {
      for (const { kind, key } of plan.removals) {
        const entry = ownEntry(registryOf(server, kind), key);
        if (entry === undefined) continue;
        this.#assertNotForeign(kind, key);
        entry.remove();
        changed.add(listOf(kind));
      }
      for (const upsert of plan.upserts) {
        const existing = ownEntry(registryOf(server, upsert.kind), upsert.key);
        if (existing !== undefined) {
          this.#assertNotForeign(upsert.kind, upsert.key);
          existing.remove();
        }
        const registered = upsert.register(server);
        this.#owned.add(registered);
        this.#listed.set(registered, upsert.listed);
        const visible = existing === undefined || upsert.alwaysVisible || this.#listed.get(existing) !== upsert.listed;
        if (visible) changed.add(listOf(upsert.kind));
      }
      before.keepOrder();
    } catch (error) {
      before.rollback();
      unshadow();
      throw new HotMcpError(
        'HOTMCP_ERR_COMMIT_FAILED',
        `${this.adapterName} could not apply the change and restored the previous registry: ${messageOf(error)}`,
        { cause: error },
      );
    }
    unshadow();
    return { notified: LIST_ORDER.filter((kind) => changed.has(kind)) };
  }

  /**
   * Send one list_changed per kind to the connected client; nothing when the
   * server is not connected. Never throws: a failed send goes to the server's
   * `onerror`.
   */
  sendListChanged(kinds: readonly ListKind[]): void {
    for (const kind of kinds) sendListChanged(this.server, kind);
  }

  /**
   * Send a log message to the client when the server advertises `logging`
   * (the SDK drops it when the client's `logging/setLevel` filters it out).
   * A failed send goes to the server's `onerror`; nothing is thrown.
   */
  sendLog(message: ClientLogMessage): void {
    sendLog(this.server, message);
  }

  /**
   * Run a module's register function against a recording server shaped like
   * this SDK's `McpServer` (see `createRecordingServer`), and return what it
   * registered as definitions; the live server is not touched. Run-time calls
   * a handler makes through that server (`sendLoggingMessage`,
   * `server.createMessage`…) go to the live server. Rejects with what the
   * function threw, or `HOTMCP_ERR_CAPTURE_UNSUPPORTED` naming the call, file
   * and line of anything the recorder cannot honour.
   */
  capture(register: RegisterFunction, options: CaptureOptions): Promise<CaptureResult> {
    return captureOnServer(this.server, register, options);
  }

  #assertNotForeign(kind: DefinitionKind, key: string): void {
    const entry = ownEntry(registryOf(this.server, kind), key);
    if (entry !== undefined && !this.#owned.has(entry)) {
      throw new HotMcpError(
        'HOTMCP_ERR_NAME_CONFLICT',
        `${KINDS[kind].label} "${key}" is already registered on the server outside the reloader; it is left as it is.`,
        { details: { kind, name: key } },
      );
    }
  }

  /** A template's URI template may not equal another's: the SDK would route reads to whichever comes first. */
  #assertNoTemplateCollision(
    upsert: readonly AnyDefinition[],
    removals: ReadonlyArray<{ kind: DefinitionKind; key: string }>,
    upserts: readonly PreparedEntry[],
  ): void {
    const leaving = new Set(
      [...removals, ...upserts].filter((entry) => entry.kind === 'resourceTemplate').map((entry) => entry.key),
    );
    const taken = new Map<string, string>();
    for (const [name, entry] of Object.entries(registryOf(this.server, 'resourceTemplate'))) {
      if (leaving.has(name)) continue;
      const uriTemplate = templateOf(entry);
      if (uriTemplate !== undefined) taken.set(uriTemplate, name);
    }
    for (const definition of upsert) {
      if (definition.kind !== 'resourceTemplate') continue;
      const other = taken.get(definition.template);
      if (other !== undefined && other !== definition.name) {
        throw new HotMcpError(
          'HOTMCP_ERR_NAME_CONFLICT',
          `Resource template "${definition.name}" has the URI template ${definition.template}, which resource template "${other}" already uses; it was not registered.`,
          { details: { kind: 'resourceTemplate', name: definition.name, uriTemplate: definition.template } },
        );
      }
      taken.set(definition.template, definition.name);
    }
  }
}
