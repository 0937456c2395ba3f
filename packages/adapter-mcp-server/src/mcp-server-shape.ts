import type { ClientLogMessage, DefinitionKind, ListKind } from '@hotmcp/core';

/** The parts of an SDK `RegisteredTool` / `RegisteredPrompt` / `RegisteredResource(Template)` the adapter uses. */
export interface RegisteredEntryLike {
  /** Take the entry off its registry (the SDK sends list_changed). */
  remove(): void;
}

/** One of McpServer's registries: entries by key, in registration order. */
export type Registry = Record<string, RegisteredEntryLike>;
/** A handler or callback as the SDK calls it. */
export type Callback = (...args: any[]) => unknown;

/** Server capabilities, as far as list_changed and logging are concerned. */
export type ListCapabilities = Partial<
  Record<'tools' | 'prompts' | 'resources', { listChanged?: boolean } | undefined>
> & {
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
  /** The connected transport, whose session id a log message is addressed to. */
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
export const KINDS = {
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

/** Every kind, in the order registries are read and restored. */
export const KIND_ORDER: readonly DefinitionKind[] = ['tool', 'prompt', 'resource', 'resourceTemplate'];
/** Every list with its own list_changed, in the order notifications go out. */
export const LIST_ORDER: readonly ListKind[] = ['tool', 'prompt', 'resource'];

/** A non-null object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The message of a thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The registry of `kind` on `server` (created empty when the SDK has not made it yet). */
export function registryOf(server: McpServerLike, kind: DefinitionKind): Registry {
  const fields = server as unknown as Record<string, Registry | undefined>;
  const name = KINDS[kind].registry;
  fields[name] ??= {};
  return fields[name];
}

/** The entry `key` of `registry`, never one inherited from `Object.prototype`. */
export function ownEntry(registry: Registry, key: string): RegisteredEntryLike | undefined {
  return Object.hasOwn(registry, key) ? registry[key] : undefined;
}

/** Keys of every entry on the server, per kind, in registration order. */
export function registryKeys(server: McpServerLike, kind: DefinitionKind): string[] {
  return Object.keys((server as unknown as Record<string, Registry | undefined>)[KINDS[kind].registry] ?? {});
}

/** The capabilities the low-level server advertises. */
export function capabilitiesOf(server: McpServerLike): ListCapabilities | undefined {
  const inner = server.server;
  return typeof inner.getCapabilities === 'function' ? inner.getCapabilities() : (inner._capabilities ?? undefined);
}

/** Whether `server` installed the request handlers of `kind` (false only when the SDK says so). */
export function handlersInstalled(server: McpServerLike, kind: DefinitionKind): boolean {
  return server[KINDS[kind].initialized] !== false;
}

/** The SDK's own request handler for `method`, or undefined. */
export function requestHandlerOf(
  server: McpServerLike,
  method: string,
): ((request: unknown, extra: unknown) => unknown) | undefined {
  return server.server._requestHandlers?.get(method);
}

/** The URI template a registered resource template answers, or undefined. */
export function templateOf(entry: RegisteredEntryLike): string | undefined {
  const template = (entry as { resourceTemplate?: { uriTemplate?: { toString(): string } } }).resourceTemplate;
  const uriTemplate = template?.uriTemplate?.toString();
  return typeof uriTemplate === 'string' ? uriTemplate : undefined;
}

/**
 * Whether `value` has the registries and methods of an `McpServer` of either
 * SDK major: what the SDK adapters' `matches(server)` probes start from.
 */
export function isMcpServerLike(value: unknown): value is McpServerLike {
  return (
    isRecord(value) &&
    isRecord(value._registeredTools) &&
    typeof value.registerTool === 'function' &&
    typeof value.isConnected === 'function' &&
    isRecord(value.server)
  );
}
