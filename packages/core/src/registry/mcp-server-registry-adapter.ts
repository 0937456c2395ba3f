import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AnyDefinition, type DefinitionKind, definitionKey, listOf, normaliseUri } from '../define.js';
import { HotMcpError } from '../errors.js';
import type {
  ClientLogMessage,
  CommitResult,
  ListKind,
  PreparedChange,
  RegistryChange,
  RegistryEntryRef,
  RegistrySnapshot,
  ToolRegistryAdapter,
} from '../ports/tool-registry-adapter.js';
import { isToolName, TOOL_NAME_RULE } from '../tool-name.js';

/** The parts of an SDK `RegisteredTool` / `RegisteredPrompt` / `RegisteredResource(Template)` the adapter uses. */
export interface RegisteredEntryLike {
  /** Take the entry off its registry (the SDK sends list_changed). */
  remove(): void;
}

type Registry = Record<string, RegisteredEntryLike>;
type Callback = (...args: any[]) => unknown;

/** Server capabilities, as far as list_changed is concerned. */
type ListCapabilities = Partial<Record<'tools' | 'prompts' | 'resources', { listChanged?: boolean } | undefined>> & {
  logging?: object;
};

/** The low-level `Server` behind an `McpServer`, in both SDK majors. */
export interface LowLevelServerLike {
  /** The capabilities the server advertises. */
  getCapabilities?(): ListCapabilities | undefined;
  /** The same, where there is no `getCapabilities`. */
  _capabilities?: ListCapabilities;
  /** Request handlers by method (`tools/list`...). */
  _requestHandlers?: Map<string, (request: unknown, extra: unknown) => unknown>;
  /** The server's `{ name, version }`. */
  _serverInfo?: { name?: string };
  /** Where the server reports errors it does not throw. */
  onerror?: ((error: Error) => void) | undefined;
  /** Send `notifications/tools/list_changed`. */
  sendToolListChanged(): Promise<void>;
  /** Send `notifications/prompts/list_changed`. */
  sendPromptListChanged(): Promise<void>;
  /** Send `notifications/resources/list_changed`. */
  sendResourceListChanged(): Promise<void>;
  /** Sends `notifications/message` when `logging` is advertised and the session's level lets it through. */
  sendLoggingMessage?(params: ClientLogMessage, sessionId?: string): Promise<void>;
  transport?: { sessionId?: string | undefined } | undefined;
}

/**
 * The internals of `McpServer` that `@modelcontextprotocol/sdk` 1.x and
 * `@modelcontextprotocol/server` 2.x share: four plain-object registries, read
 * afresh on every request, keyed by bare tool name, prompt name, resource URI
 * (as given to `registerResource`) and template name.
 */
export interface McpServerLike {
  /** Tools by name. */
  _registeredTools: Registry;
  /** Prompts by name. */
  _registeredPrompts: Registry;
  /** Fixed resources by URI. */
  _registeredResources: Registry;
  /** Resource templates by name. */
  _registeredResourceTemplates: Registry;
  /** Whether the tools request handlers are installed. */
  _toolHandlersInitialized?: boolean;
  /** Whether the prompts request handlers are installed. */
  _promptHandlersInitialized?: boolean;
  /** Whether the resources request handlers are installed. */
  _resourceHandlersInitialized?: boolean;
  /** Whether the completion request handler is installed. */
  _completionHandlerInitialized?: boolean;
  /** The SDK's `registerTool`. */
  registerTool(name: string, config: Record<string, unknown>, callback: Callback): RegisteredEntryLike;
  /** The SDK's `registerPrompt`. */
  registerPrompt(name: string, config: Record<string, unknown>, callback: Callback): RegisteredEntryLike;
  /** The SDK's `registerResource`, for a URI or a `ResourceTemplate`. */
  registerResource(
    name: string,
    uriOrTemplate: unknown,
    config: Record<string, unknown>,
    callback: Callback,
  ): RegisteredEntryLike;
  /** Whether a transport is connected. */
  isConnected(): boolean;
  /** The low-level server. */
  server: LowLevelServerLike;
}

/** How each kind of definition lives on an McpServer. */
const KINDS = {
  tool: {
    label: 'Tool',
    registry: '_registeredTools',
    initialized: '_toolHandlersInitialized',
    capability: 'tools',
    listMethod: 'tools/list',
    listKey: 'tools',
  },
  prompt: {
    label: 'Prompt',
    registry: '_registeredPrompts',
    initialized: '_promptHandlersInitialized',
    capability: 'prompts',
    listMethod: 'prompts/list',
    listKey: 'prompts',
  },
  resource: {
    label: 'Resource',
    registry: '_registeredResources',
    initialized: '_resourceHandlersInitialized',
    capability: 'resources',
    listMethod: 'resources/list',
    listKey: 'resources',
  },
  resourceTemplate: {
    label: 'Resource template',
    registry: '_registeredResourceTemplates',
    initialized: '_resourceHandlersInitialized',
    capability: 'resources',
    listMethod: 'resources/templates/list',
    listKey: 'resourceTemplates',
  },
} as const satisfies Record<DefinitionKind, unknown>;

const KIND_ORDER: readonly DefinitionKind[] = ['tool', 'prompt', 'resource', 'resourceTemplate'];
const LIST_ORDER: readonly ListKind[] = ['tool', 'prompt', 'resource'];

/** The McpServer methods shadowed during a commit, and the list each one notifies. */
const NOTIFIERS = [
  ['sendToolListChanged', 'tool'],
  ['sendPromptListChanged', 'prompt'],
  ['sendResourceListChanged', 'resource'],
] as const;

const SENDERS = {
  tool: 'sendToolListChanged',
  prompt: 'sendPromptListChanged',
  resource: 'sendResourceListChanged',
} as const satisfies Record<ListKind, keyof LowLevelServerLike>;

/** A schema field of a definition, as the subclass is asked to check it. */
export type SchemaField = 'inputSchema' | 'outputSchema' | 'argsSchema';

/** One definition, checked and turned into a registration. */
interface PreparedEntry {
  kind: DefinitionKind;
  /** The registry key: the name, or the normalised URI of a fixed resource. */
  key: string;
  /** The entry as the SDK lists it, as stable JSON: what clients see. */
  listed: string;
  /** Always notify when replaced (a template whose `list` callback feeds resources/list). */
  alwaysVisible: boolean;
  register(server: McpServerLike): RegisteredEntryLike;
}

interface CommitPlan {
  removals: Array<{ kind: DefinitionKind; key: string }>;
  upserts: PreparedEntry[];
  /** The adapter class that prepared it: any adapter of that class may commit it. */
  preparedBy: abstract new (
    ...args: never[]
  ) => McpServerRegistryAdapter;
}

/**
 * Prepared plans, shared by every adapter instance: a plan holds no reference
 * to the server it was checked against (entries register on whichever server
 * commits them), so one prepare can be committed to many servers of one SDK
 * (see `createFanOutAdapter`), each commit checking its own server's foreign
 * names and rolling back on its own.
 */
const PLANS = new WeakMap<PreparedChange, CommitPlan>();

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function ownEntry<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** JSON with object keys sorted, so two listings compare equal whatever order the SDK built them in. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (!isRecord(inner) || Array.isArray(inner)) return inner;
    return Object.fromEntries(
      Object.keys(inner)
        .sort()
        .map((key) => [key, inner[key]]),
    );
  });
}

/** Put `registry`'s keys back in `order` (keys not in it go last), keeping its identity. */
function reorder(registry: Registry, order: readonly string[]): void {
  const current = Object.keys(registry);
  const kept = order.filter((key) => Object.hasOwn(registry, key));
  const keptSet = new Set(kept);
  const wanted = [...kept, ...current.filter((key) => !keptSet.has(key))];
  if (wanted.every((key, index) => current[index] === key)) return;
  const entries = wanted.map((key) => [key, registry[key]] as const);
  for (const key of current) delete registry[key];
  for (const [key, value] of entries) registry[key] = value as RegisteredEntryLike;
}

/** Make `registry` hold exactly `entries`, in their order. */
function restore(registry: Registry, entries: ReadonlyArray<readonly [string, RegisteredEntryLike]>): void {
  for (const key of Object.keys(registry)) delete registry[key];
  for (const [key, value] of entries) registry[key] = value;
}

/**
 * The version in the `package.json` of package `name`, found by walking up
 * from a file inside it (a path or file URL, e.g. `require.resolve(name)`).
 * Undefined when it cannot be read. Lets an adapter report the SDK version it
 * actually drives. Read once per entry and name: adapters are built per
 * session (see the fan-out adapter), and an installed package does not change
 * under a running process.
 */
export function readPackageVersion(resolvedEntry: string, name: string): string | undefined {
  const key = `${name}\0${resolvedEntry}`;
  if (!PACKAGE_VERSIONS.has(key)) PACKAGE_VERSIONS.set(key, findPackageVersion(resolvedEntry, name));
  return PACKAGE_VERSIONS.get(key);
}

const PACKAGE_VERSIONS = new Map<string, string | undefined>();

function findPackageVersion(resolvedEntry: string, name: string): string | undefined {
  try {
    let dir = dirname(resolvedEntry.startsWith('file:') ? fileURLToPath(resolvedEntry) : resolvedEntry);
    for (;;) {
      const file = join(dir, 'package.json');
      if (existsSync(file)) {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name) return typeof pkg.version === 'string' ? pkg.version : undefined;
      }
      const parent = dirname(dir);
      if (parent === dir) return undefined;
      dir = parent;
    }
  } catch {
    return undefined;
  }
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
 * - Fixed resources are keyed by `new URL(uri).href` ({@link normaliseUri}),
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

  protected readonly server: McpServerLike;
  /** Entries this adapter registered; anything else on the server is foreign. */
  readonly #owned = new WeakSet<RegisteredEntryLike>();
  /** The listed form each owned entry was registered with. */
  readonly #listed = new WeakMap<RegisteredEntryLike, string>();
  #scratch: McpServerLike | undefined;

  protected constructor(server: McpServerLike) {
    this.server = server;
  }

  /** A fresh, unconnected McpServer of the same SDK, advertising tools, prompts and resources. */
  protected abstract createScratchServer(): McpServerLike;

  /** The SDK's `ResourceTemplate` for a URI template; throws when the template cannot be parsed. */
  protected abstract createResourceTemplate(template: string, list: Callback | undefined): unknown;

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
    const { capability, initialized } = KINDS[kind];
    const inner = server.server;
    const capabilities =
      typeof inner.getCapabilities === 'function' ? inner.getCapabilities() : (inner._capabilities ?? undefined);
    const name = inner._serverInfo?.name;
    const label = name === undefined ? 'The McpServer' : `McpServer "${name}"`;
    if (capabilities?.[capability]?.listChanged !== true) {
      return `${label} is already connected without the ${capability}.listChanged capability, so ${capability} cannot be hot-reloaded: ${this.constructionHint}.`;
    }
    if (server[initialized] === false) {
      return `${label} advertises ${capability}.listChanged but was connected before its ${capability} request handlers were installed, so the SDK refuses to add one: ${this.constructionHint}.`;
    }
    return undefined;
  }

  /** Bare names of every entry on the server, including foreign ones; fixed resources by URI. */
  list(): RegistrySnapshot {
    const server = this.server;
    return {
      tools: Object.keys(server._registeredTools ?? {}),
      prompts: Object.keys(server._registeredPrompts ?? {}),
      resources: Object.keys(server._registeredResources ?? {}),
      resourceTemplates: Object.keys(server._registeredResourceTemplates ?? {}),
    };
  }

  /** Check and convert a change; touches nothing on the live server. */
  async prepare(change: RegistryChange): Promise<PreparedChange> {
    const removals: CommitPlan['removals'] = [];
    for (const ref of change.remove) {
      const key = this.#keyOfRef(ref);
      this.#assertNotForeign(ref.kind, key);
      removals.push({ kind: ref.kind, key });
    }

    const upserts: PreparedEntry[] = [];
    const seen = new Set<string>();
    for (const definition of change.upsert) {
      const entry = this.#toPreparedEntry(definition);
      const id = definitionKey({ kind: entry.kind, name: entry.key });
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
      entry.listed = await this.#listOnScratch(entry);
      upserts.push(entry);
    }
    this.#assertNoTemplateCollision(change, removals, upserts);

    const prepared: PreparedChange = { change };
    PLANS.set(prepared, { removals, upserts, preparedBy: this.#adapterClass });
    return prepared;
  }

  /**
   * Whether {@link commit} takes `prepared`: a change prepared by this adapter
   * or by another adapter of the same class (on another server of the same
   * SDK). Lets one prepare serve many servers; the commit still checks this
   * server's own entries.
   */
  canCommit(prepared: PreparedChange): boolean {
    return PLANS.get(prepared)?.preparedBy === this.#adapterClass;
  }

  get #adapterClass(): CommitPlan['preparedBy'] {
    return this.constructor as CommitPlan['preparedBy'];
  }

  /**
   * Apply a prepared change in one synchronous step: removals, then upserts
   * (a replaced entry is removed and registered afresh). Rolls back and throws
   * `HOTMCP_ERR_COMMIT_FAILED` on any error, sending nothing. Takes a change
   * prepared by any adapter of the same class ({@link canCommit}).
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
    const plan = PLANS.get(prepared);
    if (plan === undefined || plan.preparedBy !== this.#adapterClass) {
      throw new HotMcpError(
        'HOTMCP_ERR_COMMIT_FAILED',
        `${this.adapterName} can only commit a change returned by prepare() of an adapter of its own kind.`,
      );
    }
    const server = this.server;
    const before = KIND_ORDER.map((kind) => [kind, Object.entries(this.#registry(kind))] as const);
    const changed = new Set<ListKind>();
    const unshadow = this.#shadowNotifiers();
    try {
      for (const { kind, key } of plan.removals) {
        const entry = ownEntry(this.#registry(kind), key);
        if (entry === undefined) continue;
        this.#assertNotForeign(kind, key);
        entry.remove();
        changed.add(listOf(kind));
      }
      for (const upsert of plan.upserts) {
        const existing = ownEntry(this.#registry(upsert.kind), upsert.key);
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
      for (const [kind, entries] of before) {
        reorder(
          this.#registry(kind),
          entries.map(([key]) => key),
        );
      }
    } catch (error) {
      for (const [kind, entries] of before) restore(this.#registry(kind), entries);
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
    for (const kind of kinds) this.#sendListChanged(kind);
  }

  #registry(kind: DefinitionKind): Registry {
    const server = this.server as unknown as Record<string, Registry | undefined>;
    const name = KINDS[kind].registry;
    server[name] ??= {};
    return server[name];
  }

  #keyOfRef(ref: RegistryEntryRef): string {
    if (ref.kind !== 'resource') return ref.name;
    try {
      return normaliseUri(ref.name);
    } catch {
      return ref.name;
    }
  }

  #assertNotForeign(kind: DefinitionKind, key: string): void {
    const entry = ownEntry(this.#registry(kind), key);
    if (entry !== undefined && !this.#owned.has(entry)) {
      throw new HotMcpError(
        'HOTMCP_ERR_NAME_CONFLICT',
        `${KINDS[kind].label} "${key}" is already registered on the server outside the reloader; it is left as it is.`,
        { details: { kind, name: key } },
      );
    }
  }

  /** A template's URI template may not equal another's: the SDK would route reads to whichever comes first. */
  #assertNoTemplateCollision(change: RegistryChange, removals: CommitPlan['removals'], upserts: PreparedEntry[]): void {
    const leaving = new Set(
      [...removals, ...upserts].filter((entry) => entry.kind === 'resourceTemplate').map((entry) => entry.key),
    );
    const taken = new Map<string, string>();
    for (const [name, entry] of Object.entries(this.#registry('resourceTemplate'))) {
      if (leaving.has(name)) continue;
      const uriTemplate = templateOf(entry);
      if (uriTemplate !== undefined) taken.set(uriTemplate, name);
    }
    for (const definition of change.upsert) {
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

  /** Check one definition's fields and turn it into a registration. */
  #toPreparedEntry(definition: AnyDefinition): PreparedEntry {
    const value = definition as unknown;
    if (!isRecord(value)) throw invalid(undefined, undefined, 'a definition must be an object');
    const { kind, name } = value;
    if (typeof kind !== 'string' || !Object.hasOwn(KINDS, kind)) {
      throw invalid(kind, name, `the kind ${JSON.stringify(kind)} is not one of ${KIND_ORDER.join(', ')}`);
    }
    const typed = kind as DefinitionKind;
    const key = registryKey(typed, value);
    if (typeof name !== 'string' || name.trim() === '') throw invalid(typed, key, 'it needs a name');
    if (typed === 'tool' && !isToolName(name)) {
      throw invalid(typed, key, `the name must be ${TOOL_NAME_RULE}`);
    }
    if (key in Object.prototype) {
      throw invalid(
        typed,
        key,
        'the SDK keeps entries in a plain object, where this name is taken by Object.prototype',
      );
    }
    if (typeof value.handler !== 'function') throw invalid(typed, key, 'handler must be a function');
    for (const field of ['title', 'description', 'mimeType'] as const) {
      if (value[field] !== undefined && typeof value[field] !== 'string') {
        throw invalid(typed, key, `${field} must be a string`);
      }
    }
    for (const field of ['annotations', '_meta'] as const) {
      if (value[field] !== undefined && (!isRecord(value[field]) || Array.isArray(value[field]))) {
        throw invalid(typed, key, `${field} must be a plain object`);
      }
    }
    const fields = (list: readonly string[]) => {
      const config: Record<string, unknown> = {};
      for (const field of list) {
        if (value[field] === undefined) continue;
        const isSchema = field === 'inputSchema' || field === 'outputSchema' || field === 'argsSchema';
        config[field] = isSchema ? this.normaliseSchema(field, value[field]) : value[field];
      }
      return config;
    };
    const handler = value.handler as Callback;
    const base = { kind: typed, key, listed: '', alwaysVisible: false };

    switch (typed) {
      case 'tool': {
        for (const field of ['inputSchema', 'outputSchema'] as const)
          this.#checkSchema(typed, key, field, value[field]);
        const config = fields(['title', 'description', 'inputSchema', 'outputSchema', 'annotations', '_meta']);
        // The SDK calls (args, extra) with an input schema and (extra) without; a definition's
        // handler always gets (args, extra). Closing over this version's handler keeps calls
        // already running on it after a replace.
        const callback: Callback =
          value.inputSchema === undefined ? (extra) => handler({}, extra) : (args, extra) => handler(args, extra);
        return { ...base, register: (server) => server.registerTool(key, config, callback) };
      }
      case 'prompt': {
        this.#checkSchema(typed, key, 'argsSchema', value.argsSchema);
        const config = fields(['title', 'description', 'argsSchema', '_meta']);
        const callback: Callback =
          value.argsSchema === undefined ? (extra) => handler({}, extra) : (args, extra) => handler(args, extra);
        return { ...base, register: (server) => server.registerPrompt(key, config, callback) };
      }
      case 'resource': {
        const config = fields(['title', 'description', 'mimeType', '_meta']);
        const callback: Callback = (uri, extra) => handler(uri, extra);
        // Registered under the normalised URI: the SDK stores the key as given but reads it back by `new URL(uri).href`.
        return { ...base, register: (server) => server.registerResource(name, key, config, callback) };
      }
      case 'resourceTemplate': {
        if (typeof value.template !== 'string' || value.template === '') {
          throw invalid(typed, key, 'it needs a URI template');
        }
        if (value.list !== undefined && typeof value.list !== 'function') {
          throw invalid(typed, key, 'list must be a function');
        }
        const template = value.template;
        const list = value.list as Callback | undefined;
        const listCallback: Callback | undefined = list === undefined ? undefined : (extra) => list(extra);
        try {
          this.createResourceTemplate(template, listCallback);
        } catch (error) {
          throw invalid(
            typed,
            key,
            `the URI template ${JSON.stringify(template)} cannot be parsed (${messageOf(error)})`,
          );
        }
        const config = fields(['title', 'description', 'mimeType', '_meta']);
        const callback: Callback = (uri, variables, extra) => handler(uri, variables, extra);
        return {
          ...base,
          // What its list callback returns shows up in resources/list, and code cannot be compared.
          alwaysVisible: list !== undefined,
          register: (server) =>
            server.registerResource(key, this.createResourceTemplate(template, listCallback), config, callback),
        };
      }
    }
  }

  #checkSchema(kind: DefinitionKind, name: string, field: SchemaField, schema: unknown): void {
    if (schema === undefined) return;
    const problem = this.schemaProblem(field, schema);
    if (problem !== undefined) throw invalid(kind, name, `${field} ${problem}`);
  }

  /**
   * Register the entry on the private scratch server and run the SDK's own
   * list handler for its kind, so every schema goes through exactly the SDK's
   * conversion. Returns the listed entry as stable JSON.
   */
  async #listOnScratch(entry: PreparedEntry): Promise<string> {
    this.#scratch ??= this.createScratchServer();
    const scratch = this.#scratch;
    const spec = KINDS[entry.kind];
    const clear = () => {
      for (const kind of KIND_ORDER) {
        const registry = scratch[KINDS[kind].registry];
        for (const key of Object.keys(registry)) delete registry[key];
      }
    };
    clear();
    const completionsBefore = scratch._completionHandlerInitialized;
    try {
      entry.register(scratch);
      if (
        scratch._completionHandlerInitialized === true &&
        completionsBefore !== true &&
        this.server.isConnected() &&
        this.server._completionHandlerInitialized !== true
      ) {
        throw new HotMcpError(
          'HOTMCP_ERR_CAPABILITY_MISSING',
          `${spec.label} "${entry.key}" offers completions, but the server was connected without a completion handler; register a completable entry before connect().`,
          { details: { kind: entry.kind, name: entry.key, capability: 'completions' } },
        );
      }
      const handler = scratch.server._requestHandlers?.get(spec.listMethod);
      if (handler === undefined) {
        throw new HotMcpError(
          'HOTMCP_ERR_ADAPTER_INCOMPATIBLE',
          `${this.adapterName} cannot find the ${spec.listMethod} handler of ${this.sdk.name}; supported range ${this.sdk.range}.`,
        );
      }
      const result = (await handler({ jsonrpc: '2.0', id: 0, method: spec.listMethod, params: {} }, {})) as Record<
        string,
        unknown
      >;
      const listed = (result[spec.listKey] as unknown[] | undefined)?.[0];
      if (!isRecord(listed)) throw new Error(`${spec.listMethod} did not list it`);
      this.assertListed(entry.kind, listed);
      return stableJson(listed);
    } catch (error) {
      if (error instanceof HotMcpError) throw error;
      throw invalid(entry.kind, entry.key, `the SDK cannot list it (${messageOf(error)})`);
    } finally {
      clear();
    }
  }

  /**
   * Send a log message to the client when the server advertises `logging`
   * (the SDK drops it when the client's `logging/setLevel` filters it out).
   * A failed send goes to the server's `onerror`; nothing is thrown.
   */
  sendLog(message: ClientLogMessage): void {
    const server = this.server;
    const inner = server.server;
    const report = (error: unknown) => {
      try {
        inner.onerror?.(error instanceof Error ? error : new Error(String(error)));
      } catch {}
    };
    try {
      if (!server.isConnected() || typeof inner.sendLoggingMessage !== 'function') return;
      const capabilities =
        typeof inner.getCapabilities === 'function' ? inner.getCapabilities() : (inner._capabilities ?? undefined);
      if (capabilities?.logging === undefined) return;
      inner.sendLoggingMessage(message, inner.transport?.sessionId).catch(report);
    } catch (error) {
      report(error);
    }
  }

  /** Replace the server's list_changed senders with no-ops for the commit. Returns a function that puts them back. */
  #shadowNotifiers(): () => void {
    const target = this.server as unknown as Record<string, unknown>;
    const saved = NOTIFIERS.map(([method]) => [method, Object.getOwnPropertyDescriptor(target, method)] as const);
    for (const [method] of NOTIFIERS) {
      Object.defineProperty(target, method, { configurable: true, writable: true, value: () => {} });
    }
    return () => {
      for (const [method, descriptor] of saved) {
        if (descriptor === undefined) delete target[method];
        else Object.defineProperty(target, method, descriptor);
      }
    };
  }

  /** Send one list_changed of `kind` when connected; a failed send goes to the server's onerror. */
  #sendListChanged(kind: ListKind): void {
    const server = this.server;
    if (!server.isConnected()) return;
    const inner = server.server;
    const report = (error: unknown) => {
      inner.onerror?.(error instanceof Error ? error : new Error(String(error)));
    };
    try {
      inner[SENDERS[kind]]().catch(report);
    } catch (error) {
      report(error);
    }
  }
}

/**
 * The key an entry is registered under: its name, or for a fixed resource its
 * URI normalised as the SDK reads it back. That projection is the TypeScript
 * counterpart of the original hot reloader's key-projection shim. Throws
 * `HOTMCP_ERR_INVALID_DEFINITION` for a URI that is not a URL.
 */
function registryKey(kind: DefinitionKind, value: Record<string, unknown>): string {
  if (kind !== 'resource') return String(value.name);
  if (typeof value.uri !== 'string') throw invalid(kind, value.name, 'it needs a uri');
  try {
    return normaliseUri(value.uri);
  } catch {
    throw invalid(kind, value.uri, `its uri is not a valid URL: ${JSON.stringify(value.uri)}`);
  }
}

function templateOf(entry: RegisteredEntryLike): string | undefined {
  const template = (entry as { resourceTemplate?: { uriTemplate?: { toString(): string } } }).resourceTemplate;
  const uriTemplate = template?.uriTemplate?.toString();
  return typeof uriTemplate === 'string' ? uriTemplate : undefined;
}

/** `HOTMCP_ERR_INVALID_DEFINITION` for one definition, with `kind` and `name` in its details. */
function invalid(kind: unknown, name: unknown, problem: string): HotMcpError {
  const label =
    typeof name === 'string' && name !== ''
      ? `${typeof kind === 'string' && kind in KINDS ? KINDS[kind as DefinitionKind].label : 'Definition'} "${name}"`
      : 'A definition';
  return new HotMcpError('HOTMCP_ERR_INVALID_DEFINITION', `${label} cannot be registered: ${problem}.`, {
    details: { kind, name },
  });
}
