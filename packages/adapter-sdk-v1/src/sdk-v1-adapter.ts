import type {
  AnyDefinition,
  CommitResult,
  DefinitionKind,
  ListKind,
  PreparedChange,
  RegistryChange,
  RegistrySnapshot,
  ToolRegistryAdapter,
} from '@hotmcp/core';
import { HotMcpError } from '@hotmcp/core';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ToolSchema } from '@modelcontextprotocol/sdk/types.js';

/**
 * The `@modelcontextprotocol/sdk` versions this adapter supports: 1.23.0 is
 * the first 1.x release that accepts zod v4 schemas as well as zod v3.
 */
export const SDK_V1_RANGE = '^1.23.0';

const ADAPTER_NAME = '@hotmcp/adapter-sdk-v1';

/** The MCP tool-name rule (SEP-986). */
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

const HOW_TO_CONSTRUCT =
  'construct it as new McpServer(info, { capabilities: { tools: { listChanged: true } } }) before calling connect()';

/** The parts of an SDK `RegisteredTool` the adapter uses. */
interface RegisteredToolLike {
  remove(): void;
}

type SdkToolCallback = (...args: unknown[]) => unknown;

/** The SDK `registerTool` config the adapter passes. */
interface SdkToolConfig {
  title?: string;
  description?: string;
  inputSchema?: unknown;
  outputSchema?: unknown;
  annotations?: Record<string, unknown>;
  _meta?: Record<string, unknown>;
}

/**
 * The McpServer internals of SDK 1.x the adapter reads and writes: the
 * registries are plain objects keyed by bare tool name, prompt name and
 * resource URI, read afresh on every request.
 */
interface McpServerInternals {
  _registeredTools: Record<string, RegisteredToolLike>;
  _registeredPrompts?: Record<string, unknown>;
  _registeredResources?: Record<string, unknown>;
  _registeredResourceTemplates?: Record<string, unknown>;
  _toolHandlersInitialized?: boolean;
  registerTool(name: string, config: SdkToolConfig, cb: SdkToolCallback): RegisteredToolLike;
  isConnected(): boolean;
  server: UnderlyingServer;
}

/** The low-level `Server` behind an McpServer. */
interface UnderlyingServer {
  getCapabilities?(): { tools?: { listChanged?: boolean } } | undefined;
  _capabilities?: { tools?: { listChanged?: boolean } };
  _requestHandlers?: Map<string, (request: unknown, extra: unknown) => unknown>;
  _serverInfo?: { name?: string };
  onerror?: (error: Error) => void;
  sendToolListChanged(): Promise<void>;
  sendPromptListChanged(): Promise<void>;
  sendResourceListChanged(): Promise<void>;
}

/** A tool ready to be handed to `registerTool`. */
interface PreparedTool {
  name: string;
  config: SdkToolConfig;
  callback: SdkToolCallback;
}

/** What `commit` applies for one prepared change. */
interface CommitPlan {
  removals: string[];
  tools: PreparedTool[];
}

/** The McpServer methods shadowed during a commit, and the list kind each notifies. */
const NOTIFIERS = [
  ['sendToolListChanged', 'tool'],
  ['sendPromptListChanged', 'prompt'],
  ['sendResourceListChanged', 'resource'],
] as const;

const LIST_CHANGED_SENDERS = {
  tool: 'sendToolListChanged',
  prompt: 'sendPromptListChanged',
  resource: 'sendResourceListChanged',
} as const satisfies Record<ListKind, keyof UnderlyingServer>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** A zod v3 (`_def`) or v4 (`_zod`) schema. */
function isZodSchema(value: unknown): value is Record<string, unknown> {
  return isRecord(value) && ('_def' in value || '_zod' in value);
}

/** A zod object schema, recognised the way the SDK's `normalizeObjectSchema` does. */
function isZodObjectSchema(value: Record<string, unknown>): boolean {
  const zod = value._zod;
  if (isRecord(zod)) {
    const def = zod.def;
    return isRecord(def) && (def.type === 'object' || def.shape !== undefined);
  }
  return value.shape !== undefined;
}

/** Why a schema cannot be registered, or undefined when it can. */
function schemaProblem(schema: unknown): string | undefined {
  if (schema === undefined) return undefined;
  if (isZodSchema(schema)) {
    return isZodObjectSchema(schema) ? undefined : 'is a zod schema but not an object schema (use z.object(...))';
  }
  if (!isRecord(schema) || Array.isArray(schema)) {
    return 'must be a zod object schema or a raw shape of zod schemas';
  }
  const notZod = Object.entries(schema)
    .filter(([, value]) => !isZodSchema(value))
    .map(([key]) => key);
  return notZod.length === 0
    ? undefined
    : `must be a zod object schema or a raw shape of zod schemas; not a zod schema: ${notZod.join(', ')}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function ownEntry<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Put `registry`'s keys back in `order` (keys not in it go last), keeping its identity. */
function reorder(registry: Record<string, RegisteredToolLike>, order: readonly string[]): void {
  const current = Object.keys(registry);
  const kept = order.filter((key) => Object.hasOwn(registry, key));
  const keptSet = new Set(kept);
  const wanted = [...kept, ...current.filter((key) => !keptSet.has(key))];
  if (wanted.every((key, index) => current[index] === key)) return;
  const entries = wanted.map((key) => [key, registry[key]] as const);
  for (const key of current) delete registry[key];
  for (const [key, value] of entries) registry[key] = value as RegisteredToolLike;
}

/** Make `registry` hold exactly `entries`, in their order. */
function restore(
  registry: Record<string, RegisteredToolLike>,
  entries: ReadonlyArray<readonly [string, RegisteredToolLike]>,
): void {
  for (const key of Object.keys(registry)) delete registry[key];
  for (const [key, value] of entries) registry[key] = value;
}

function invalid(kind: unknown, name: unknown, problem: string): HotMcpError {
  const label = typeof name === 'string' && name !== '' ? `Tool "${name}"` : 'A tool definition';
  return new HotMcpError('HOTMCP_ERR_INVALID_DEFINITION', `${label} cannot be registered: ${problem}.`, {
    details: { kind, name },
  });
}

/**
 * A {@link ToolRegistryAdapter} for `McpServer` of `@modelcontextprotocol/sdk` 1.x.
 *
 * `prepare` checks every definition against a private scratch McpServer, so a
 * schema the SDK cannot list is rejected before the live server is touched.
 * `commit` removes and re-registers tools synchronously with the server's
 * list_changed senders shadowed, then sends one `notifications/tools/list_changed`.
 */
export class SdkV1Adapter implements ToolRegistryAdapter {
  readonly contractVersion = 1 as const;
  readonly adapterName = ADAPTER_NAME;

  readonly #server: McpServerInternals;
  /** RegisteredTool objects this adapter created; anything else on the server is foreign. */
  readonly #owned = new WeakSet<RegisteredToolLike>();
  readonly #plans = new WeakMap<PreparedChange, CommitPlan>();
  #scratch: McpServerInternals | undefined;

  constructor(server: McpServer) {
    const candidate = server as unknown;
    if (
      !isRecord(candidate) ||
      !isRecord(candidate._registeredTools) ||
      typeof candidate.registerTool !== 'function' ||
      typeof candidate.isConnected !== 'function' ||
      !isRecord(candidate.server)
    ) {
      throw new HotMcpError(
        'HOTMCP_ERR_ADAPTER_INCOMPATIBLE',
        `${ADAPTER_NAME} needs an McpServer from @modelcontextprotocol/sdk ${SDK_V1_RANGE}; the value given has no _registeredTools registry or registerTool method.`,
        { details: { adapter: ADAPTER_NAME, range: SDK_V1_RANGE } },
      );
    }
    this.#server = candidate as unknown as McpServerInternals;
    this.#assertCanChangeTools();
  }

  /** Bare names of every tool, prompt and resource URI on the server, including foreign ones. */
  list(): RegistrySnapshot {
    const server = this.#server;
    return {
      tools: Object.keys(server._registeredTools),
      prompts: Object.keys(server._registeredPrompts ?? {}),
      resources: Object.keys(server._registeredResources ?? {}),
      resourceTemplates: Object.keys(server._registeredResourceTemplates ?? {}),
    };
  }

  /** Check and convert a change; touches nothing on the live server. */
  async prepare(change: RegistryChange): Promise<PreparedChange> {
    this.#assertCanChangeTools();
    const registry = this.#server._registeredTools;
    const removals: string[] = [];
    for (const ref of change.remove) {
      if (ref.kind !== 'tool') {
        throw invalid(ref.kind, ref.name, `${ref.kind} entries are not supported yet by ${ADAPTER_NAME}`);
      }
      this.#assertNotForeign(ownEntry(registry, ref.name), ref.name);
      removals.push(ref.name);
    }

    const tools: PreparedTool[] = [];
    const seen = new Set<string>();
    for (const definition of change.upsert) {
      const tool = this.#toPreparedTool(definition);
      if (seen.has(tool.name)) {
        throw new HotMcpError(
          'HOTMCP_ERR_DUPLICATE_NAME',
          `Tool "${tool.name}" appears more than once in one change.`,
          { details: { kind: 'tool', name: tool.name } },
        );
      }
      seen.add(tool.name);
      this.#assertNotForeign(ownEntry(registry, tool.name), tool.name);
      await this.#assertListable(tool);
      tools.push(tool);
    }

    const prepared: PreparedChange = { change };
    this.#plans.set(prepared, { removals, tools });
    return prepared;
  }

  /**
   * Apply a prepared change in one synchronous step: removals, then upserts
   * (a replaced tool is removed and registered afresh, so calls already
   * running finish on the version they started with). Rolls back and throws
   * `HOTMCP_ERR_COMMIT_FAILED` on any error, sending nothing.
   */
  commit(prepared: PreparedChange): CommitResult {
    const plan = this.#plans.get(prepared);
    if (plan === undefined) {
      throw new HotMcpError(
        'HOTMCP_ERR_COMMIT_FAILED',
        `${ADAPTER_NAME} can only commit a change returned by its own prepare().`,
      );
    }
    const server = this.#server;
    const registry = server._registeredTools;
    const before = Object.entries(registry);
    const pending = new Set<DefinitionKind>();
    const unshadow = this.#shadowNotifiers(pending);
    let applied = 0;
    try {
      for (const name of plan.removals) {
        const entry = ownEntry(registry, name);
        if (entry === undefined) continue;
        this.#assertNotForeign(entry, name);
        entry.remove();
        applied += 1;
      }
      for (const tool of plan.tools) {
        const existing = ownEntry(registry, tool.name);
        if (existing !== undefined) {
          this.#assertNotForeign(existing, tool.name);
          existing.remove();
        }
        this.#owned.add(server.registerTool(tool.name, tool.config, tool.callback));
        applied += 1;
      }
      reorder(
        registry,
        before.map(([key]) => key),
      );
    } catch (error) {
      restore(registry, before);
      unshadow();
      throw new HotMcpError(
        'HOTMCP_ERR_COMMIT_FAILED',
        `${ADAPTER_NAME} could not apply the change and restored the previous tools: ${messageOf(error)}`,
        { cause: error },
      );
    }
    unshadow();
    this.#plans.delete(prepared);
    if (applied > 0) pending.add('tool');
    const notified = (['tool', 'prompt', 'resource'] as const).filter((kind) => pending.has(kind));
    for (const kind of notified) this.#sendListChanged(kind);
    return { notified };
  }

  /** Throws when the server is connected but cannot take new or changed tools. */
  #assertCanChangeTools(): void {
    const server = this.#server;
    if (!server.isConnected()) return;
    const inner = server.server;
    const capabilities =
      typeof inner.getCapabilities === 'function' ? inner.getCapabilities() : (inner._capabilities ?? undefined);
    const name = inner._serverInfo?.name;
    const label = name === undefined ? 'The McpServer' : `McpServer "${name}"`;
    if (capabilities?.tools?.listChanged !== true) {
      throw new HotMcpError(
        'HOTMCP_ERR_CAPABILITY_MISSING',
        `${label} is already connected without the tools.listChanged capability, so tools cannot be hot-reloaded: ${HOW_TO_CONSTRUCT}.`,
        { details: { capability: 'tools.listChanged' } },
      );
    }
    if (server._toolHandlersInitialized === false) {
      throw new HotMcpError(
        'HOTMCP_ERR_CAPABILITY_MISSING',
        `${label} advertises tools.listChanged but was connected before its tool request handlers were installed, so the SDK refuses to add a tool: ${HOW_TO_CONSTRUCT}, or register a tool before connect().`,
        { details: { capability: 'tools.listChanged' } },
      );
    }
  }

  #assertNotForeign(entry: RegisteredToolLike | undefined, name: string): void {
    if (entry !== undefined && !this.#owned.has(entry)) {
      throw new HotMcpError(
        'HOTMCP_ERR_NAME_CONFLICT',
        `Tool "${name}" is already registered on the server outside the reloader; it is left as it is.`,
        { details: { kind: 'tool', name } },
      );
    }
  }

  /** Check one definition's fields and turn it into `registerTool` arguments. */
  #toPreparedTool(definition: AnyDefinition): PreparedTool {
    const value = definition as unknown;
    if (!isRecord(value)) throw invalid(undefined, undefined, 'a definition must be an object');
    const { kind, name } = value;
    if (kind !== 'tool') {
      throw invalid(kind, name, `${String(kind)} definitions are not supported yet by ${ADAPTER_NAME}`);
    }
    if (typeof name !== 'string' || !TOOL_NAME.test(name)) {
      throw invalid(kind, name, 'the name must be 1 to 128 characters of A-Z, a-z, 0-9, "_", "-" or "."');
    }
    if (name in Object.prototype) {
      throw invalid(kind, name, 'SDK 1.x keeps tools in a plain object, where this name is taken by Object.prototype');
    }
    if (typeof value.handler !== 'function') throw invalid(kind, name, 'handler must be a function');
    for (const field of ['title', 'description'] as const) {
      if (value[field] !== undefined && typeof value[field] !== 'string') {
        throw invalid(kind, name, `${field} must be a string`);
      }
    }
    for (const field of ['inputSchema', 'outputSchema'] as const) {
      const problem = schemaProblem(value[field]);
      if (problem !== undefined) throw invalid(kind, name, `${field} ${problem}`);
    }
    for (const field of ['annotations', '_meta'] as const) {
      if (value[field] !== undefined && (!isRecord(value[field]) || Array.isArray(value[field]))) {
        throw invalid(kind, name, `${field} must be a plain object`);
      }
    }

    const config: SdkToolConfig = {};
    for (const field of ['title', 'description', 'inputSchema', 'outputSchema', 'annotations', '_meta'] as const) {
      if (value[field] !== undefined) (config as Record<string, unknown>)[field] = value[field];
    }
    // The SDK calls (args, extra) when a tool has an input schema and (extra) when it has none;
    // a definition's handler always gets (args, extra). Closing over this version's handler keeps
    // calls that are already running on it after a replace.
    const handler = value.handler as (args: unknown, extra: unknown) => unknown;
    const callback: SdkToolCallback =
      value.inputSchema === undefined ? (extra) => handler({}, extra) : (args, extra) => handler(args, extra);
    return { name, config, callback };
  }

  /**
   * Register the tool on a private scratch McpServer and run its tools/list
   * handler, so the schema goes through exactly the SDK's own conversion, and
   * check the listed entry the way a client parses it.
   */
  async #assertListable(tool: PreparedTool): Promise<void> {
    const scratch = this.#scratchServer();
    const registry = scratch._registeredTools;
    for (const key of Object.keys(registry)) delete registry[key];
    try {
      scratch.registerTool(tool.name, tool.config, tool.callback);
      const listTools = scratch.server._requestHandlers?.get('tools/list');
      if (listTools === undefined) {
        throw new HotMcpError(
          'HOTMCP_ERR_ADAPTER_INCOMPATIBLE',
          `${ADAPTER_NAME} cannot find the tools/list handler of @modelcontextprotocol/sdk; supported range ${SDK_V1_RANGE}.`,
        );
      }
      const result = (await listTools({ method: 'tools/list', params: {} }, {})) as { tools?: unknown[] };
      const listed = result.tools?.[0];
      const parsed = ToolSchema.safeParse(listed);
      if (!parsed.success) throw new Error(`the listed tool is not a valid MCP Tool: ${parsed.error.message}`);
      JSON.stringify(listed);
    } catch (error) {
      if (error instanceof HotMcpError) throw error;
      throw invalid('tool', tool.name, `the SDK cannot list it (${messageOf(error)})`);
    } finally {
      for (const key of Object.keys(registry)) delete registry[key];
    }
  }

  #scratchServer(): McpServerInternals {
    this.#scratch ??= new McpServer(
      { name: 'hotmcp-prepare', version: '0' },
      { capabilities: { tools: { listChanged: true } } },
    ) as unknown as McpServerInternals;
    return this.#scratch;
  }

  /**
   * Replace the server's list_changed senders with own properties that only
   * record which kinds are pending. Returns a function that puts them back.
   */
  #shadowNotifiers(pending: Set<DefinitionKind>): () => void {
    const target = this.#server as unknown as Record<string, unknown>;
    const saved = NOTIFIERS.map(([method]) => [method, Object.getOwnPropertyDescriptor(target, method)] as const);
    for (const [method, kind] of NOTIFIERS) {
      Object.defineProperty(target, method, {
        configurable: true,
        writable: true,
        value: () => {
          pending.add(kind);
        },
      });
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
    const server = this.#server;
    if (!server.isConnected()) return;
    const inner = server.server;
    const report = (error: unknown) => {
      inner.onerror?.(error instanceof Error ? error : new Error(String(error)));
    };
    try {
      inner[LIST_CHANGED_SENDERS[kind]]().catch(report);
    } catch (error) {
      report(error);
    }
  }
}

/** Create the registry adapter for an `McpServer` of `@modelcontextprotocol/sdk` 1.x. */
export function createSdkV1Adapter(server: McpServer): SdkV1Adapter {
  return new SdkV1Adapter(server);
}
