import {
  type AnyDefinition,
  type DefinitionKind,
  definePrompt,
  defineResource,
  defineTool,
  HotMcpError,
} from '@hotmcp/core';
import { type Attribution, attributionFilter, type CallSite, callSite } from './call-site.js';

type Callback = (...args: any[]) => any;
type Fields = Record<string, unknown>;

/** Options of {@link createRecordingServer}. */
export interface RecordingServerOptions {
  /**
   * Which files registrations are attributed to: the first stack frame in
   * one of them is the call's file and line. A folder or file path, several,
   * or a predicate on absolute paths. Default: the first frame outside
   * `node_modules` and this package.
   */
  attribute?: Attribution;
  /**
   * The live `McpServer` (either SDK major). What a handler does at run time
   * through the server it was registered on — `sendLoggingMessage`,
   * `server.createMessage`, `server.elicitInput`, `server.notification`… —
   * goes to it. Without one those calls are refused (`isConnected()` is
   * false, the `send*ListChanged` methods do nothing).
   */
  forward?: object;
  /**
   * What `connect()` and `close()` do: `'ignore'` (default: resolve, connect
   * nothing; what a server entry re-evaluated for its registrations needs) or
   * `'refuse'` (`HOTMCP_ERR_CAPTURE_UNSUPPORTED`; what a tools module needs).
   */
  connect?: 'ignore' | 'refuse';
}

/** One registration as recorded: its definition, the call that made it and where. */
export interface RecordedEntry {
  /** The SDK-neutral definition (`defineTool` / `definePrompt` / `defineResource` shape), current version. */
  readonly definition: AnyDefinition;
  /** The method that made it: `registerTool`, `tool`, `registerPrompt`, `prompt`, `registerResource`, `resource`. */
  readonly call: string;
  /** Where that call was made (the first stack frame the attribution takes), when found. */
  readonly site?: CallSite;
  /** False after the handle's `disable()`: the entry is kept but not in {@link RecordingServer.definitions}. */
  readonly enabled: boolean;
}

/**
 * The registration surface of `McpServer`, as the recording server offers
 * it: SDK 1.x and 2.x forms alike. Typed loosely on purpose; register
 * functions are written against the SDK's own types.
 */
export interface RecordingMcpServer {
  /** `registerTool(name, config, callback)` (both majors). */
  registerTool(name: string, config: Record<string, unknown>, callback: (...args: any[]) => unknown): RecordedHandle;
  /** SDK 1.x `tool(name, [description], [paramsSchema], [annotations], callback)`. */
  tool(name: string, ...rest: unknown[]): RecordedHandle;
  /** `registerPrompt(name, config, callback)` (both majors). */
  registerPrompt(name: string, config: Record<string, unknown>, callback: (...args: any[]) => unknown): RecordedHandle;
  /** SDK 1.x `prompt(name, [description], [argsSchema], callback)`. */
  prompt(name: string, ...rest: unknown[]): RecordedHandle;
  /** `registerResource(name, uriOrTemplate, config, callback)` (both majors). */
  registerResource(
    name: string,
    uriOrTemplate: unknown,
    config: Record<string, unknown>,
    callback: (...args: any[]) => unknown,
  ): RecordedHandle;
  /** SDK 1.x `resource(name, uriOrTemplate, [metadata], callback)`. */
  resource(name: string, uriOrTemplate: unknown, ...rest: unknown[]): RecordedHandle;
  /** Per {@link RecordingServerOptions.connect}. */
  connect(transport?: unknown): Promise<void>;
  /** Per {@link RecordingServerOptions.connect}. */
  close(): Promise<void>;
  /** The forward target's, else false. */
  isConnected(): boolean;
  /** Forwarded, else resolves without sending. */
  sendLoggingMessage(params: unknown, sessionId?: string): Promise<void>;
  /** Forwarded, else nothing. */
  sendToolListChanged(): void;
  /** Forwarded, else nothing. */
  sendPromptListChanged(): void;
  /** Forwarded, else nothing. */
  sendResourceListChanged(): void;
  /** The low-level server: request and notification handlers and capabilities are refused, run-time calls forwarded. */
  readonly server: Record<string, any>;
}

/**
 * What a registration returns, as the SDKs' `RegisteredTool` /
 * `RegisteredPrompt` / `RegisteredResource(Template)` do. `update`,
 * `enable`, `disable` and `remove` change the recorded entry; a disabled
 * entry is neither listed nor served (it is not in
 * {@link RecordingServer.definitions}); `update({ name })` renames
 * (`name: null`, like `remove()`, drops it). After {@link RecordingServer.seal}
 * they are refused.
 */
export interface RecordedHandle {
  /** Whether the entry is enabled. */
  readonly enabled: boolean;
  /** Enable the entry. */
  enable(): void;
  /** Disable the entry: not listed, not served. */
  disable(): void;
  /** Change fields (the SDK's names: `paramsSchema`, `callback`, `metadata`, `uri`, `template`, `name`…). */
  update(updates: Record<string, unknown>): void;
  /** Drop the entry. */
  remove(): void;
  /** The current fields, read-only (`title`, `description`, `inputSchema`...). */
  readonly [field: string]: unknown;
}

/**
 * A recording server and what it recorded. Pass {@link server} to a
 * `register(server)` function (or route a real `McpServer` instance to it with
 * {@link routeToRecording}); read back {@link definitions} / {@link entries},
 * with the file and line of each registration, and {@link refusals}.
 */
export interface RecordingServer {
  /** The McpServer-shaped object to register on. Any member outside its surface is refused. */
  readonly server: RecordingMcpServer;
  /** Definitions of every entry registered, not removed and enabled, in registration order. */
  definitions(): AnyDefinition[];
  /** Every entry registered and not removed (disabled ones too), in registration order, with its call site. */
  entries(): RecordedEntry[];
  /** Every call refused so far (also thrown at the call), in order: each `HOTMCP_ERR_CAPTURE_UNSUPPORTED` with file and line. */
  refusals(): readonly HotMcpError[];
  /** Stop recording: from now on registrations and handle changes are refused (run-time calls still forward). */
  seal(reason?: string): void;
  /** Whether {@link seal} was called. */
  readonly sealed: boolean;
}

/** Members of the McpServer surface the recording server implements (routed by {@link routeToRecording}). */
const SURFACE = [
  'registerTool',
  'tool',
  'registerPrompt',
  'prompt',
  'registerResource',
  'resource',
  'connect',
  'close',
  'isConnected',
  'sendLoggingMessage',
  'sendToolListChanged',
  'sendPromptListChanged',
  'sendResourceListChanged',
] as const;

/** Low-level `Server` methods a handler may use at run time: forwarded to the live server. */
const LOW_LEVEL_FORWARDED = [
  'notification',
  'request',
  'sendLoggingMessage',
  'createMessage',
  'elicitInput',
  'listRoots',
  'ping',
  'getClientCapabilities',
  'getClientVersion',
  'getCapabilities',
  'sendToolListChanged',
  'sendPromptListChanged',
  'sendResourceListChanged',
  'sendResourceUpdated',
] as const;

/** Low-level `Server` methods that would change what the live server is: refused, with why. */
const LOW_LEVEL_REFUSED: Record<string, string> = {
  setRequestHandler:
    'a low-level request handler cannot be recorded as a tool, prompt or resource; register them with registerTool / registerPrompt / registerResource, or keep this call in the server entry, outside the reloaded modules',
  setNotificationHandler:
    'a low-level notification handler cannot be hot-reloaded; keep this call in the server entry, outside the reloaded modules',
  removeRequestHandler: 'request handlers belong to the live server; keep this call in the server entry',
  removeNotificationHandler: 'notification handlers belong to the live server; keep this call in the server entry',
  assertCanSetRequestHandler: 'request handlers belong to the live server; keep this call in the server entry',
  registerCapabilities:
    'capabilities cannot change once the live server is connected; declare them in new McpServer(info, { capabilities }) in the server entry',
  connect: 'the live server is already connected; the reloaded modules register on it',
  close: 'closing belongs to the live server, not to a reloaded module',
};

/** Property reads that are probes (await, JSON, test matchers, inspectors), answered with undefined. */
const PROBES = new Set(['then', 'toJSON', 'asymmetricMatch', 'nodeType', 'tagName', '$$typeof', 'inspect']);

const CAPTURE = 'HOTMCP_ERR_CAPTURE_UNSUPPORTED';

const KIND_LABEL: Record<DefinitionKind, string> = {
  tool: 'Tool',
  prompt: 'Prompt',
  resource: 'Resource',
  resourceTemplate: 'Resource template',
};

interface Entry {
  kind: DefinitionKind;
  /** The table key: name, or for a fixed resource its URI as given. */
  key: string;
  call: string;
  site?: CallSite;
  enabled: boolean;
  removed: boolean;
  fields: Fields;
  definition: AnyDefinition;
  handle: RecordedHandle;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** A zod schema of either major (or a lookalike with parse and safeParse). */
function isSchema(value: unknown): boolean {
  if (!isRecord(value)) return false;
  return (
    '_def' in value ||
    '_zod' in value ||
    '~standard' in value ||
    (typeof value.parse === 'function' && typeof value.safeParse === 'function')
  );
}

/** A raw shape (`{ text: z.string() }`), as SDK 1.x's `tool()` tells it from annotations. */
function isRawShape(value: unknown): boolean {
  if (!isRecord(value) || isSchema(value)) return false;
  const values = Object.values(value);
  return values.length === 0 || values.some(isSchema);
}

/** A `ResourceTemplate` of either SDK, told by shape: `uriTemplate` and `listCallback`. */
function isResourceTemplate(value: unknown): value is {
  uriTemplate: { toString(): string; variableNames?: unknown };
  listCallback?: Callback;
  completeCallback?(variable: string): Callback | undefined;
} {
  return isRecord(value) && isRecord(value.uriTemplate) && 'listCallback' in value;
}

function only(fields: Fields, names: readonly string[]): Fields {
  const picked: Fields = {};
  for (const name of names) if (fields[name] !== undefined) picked[name] = fields[name];
  return picked;
}

/** The completion callbacks of a template, by variable. */
function completionsOf(template: {
  uriTemplate: { variableNames?: unknown };
  completeCallback?(variable: string): Callback | undefined;
}): Record<string, Callback> | undefined {
  const names = template.uriTemplate.variableNames;
  if (!Array.isArray(names) || typeof template.completeCallback !== 'function') return undefined;
  const complete: Record<string, Callback> = {};
  for (const name of names) {
    const callback = template.completeCallback(String(name));
    if (typeof callback === 'function') complete[String(name)] = callback;
  }
  return Object.keys(complete).length > 0 ? complete : undefined;
}

/**
 * A recording `McpServer`: the registration surface of `McpServer` of
 * `@modelcontextprotocol/sdk` 1.x and of `@modelcontextprotocol/server` 2.x,
 * without either SDK. Each registration becomes an SDK-neutral definition
 * (what `defineTool` / `definePrompt` / `defineResource` make) with the file
 * and line of the call; anything it cannot honour (low-level request
 * handlers, capabilities, members outside the surface) throws
 * `HOTMCP_ERR_CAPTURE_UNSUPPORTED` naming the call, file and line.
 *
 * ```ts
 * const recording = createRecordingServer({ attribute: root });
 * await register(recording.server);
 * recording.seal();
 * for (const { definition, site } of recording.entries()) console.error(definition.name, site?.file, site?.line);
 * ```
 */
export function createRecordingServer(options: RecordingServerOptions = {}): RecordingServer {
  const accept = attributionFilter(options.attribute);
  const forward = options.forward as Record<string, any> | undefined;
  const tables: Record<DefinitionKind, Map<string, Entry>> = {
    tool: new Map(),
    prompt: new Map(),
    resource: new Map(),
    resourceTemplate: new Map(),
  };
  const order: Entry[] = [];
  const refused: HotMcpError[] = [];
  let sealed: string | undefined;

  const here = () => callSite(accept);

  function refuse(call: string, why: string): never {
    const site = here();
    const at = site ? `${site.file}:${site.line}: ` : '';
    const error = new HotMcpError(CAPTURE, `${at}${call} cannot be captured by hotmcp's recording server: ${why}`, {
      ...(site && { file: site.file, line: site.line }),
      ...(site?.column !== undefined && { column: site.column }),
      details: { call },
    });
    refused.push(error);
    throw error;
  }

  function assertOpen(call: string): void {
    if (sealed !== undefined) refuse(call, sealed);
  }

  function duplicate(kind: DefinitionKind, key: string): never {
    const site = here();
    throw new HotMcpError(
      'HOTMCP_ERR_DUPLICATE_NAME',
      `${site ? `${site.file}:${site.line}: ` : ''}${KIND_LABEL[kind]} ${key} is already registered`,
      { ...(site && { file: site.file, line: site.line }), details: { kind, name: key } },
    );
  }

  /** Build the entry's definition afresh; called inside the user's call, so its stack points there. */
  function define(entry: Entry): AnyDefinition {
    const { fields } = entry;
    const callback = fields.callback as Callback;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 64;
    try {
      switch (entry.kind) {
        case 'tool': {
          const withArgs = fields.inputSchema !== undefined;
          return defineTool({
            name: entry.key,
            ...only(fields, ['title', 'description', 'inputSchema', 'outputSchema', 'annotations', '_meta']),
            handler: withArgs
              ? (args: unknown, extra: unknown) => callback(args, extra)
              : (_args, extra) => callback(extra),
          } as Parameters<typeof defineTool>[0]);
        }
        case 'prompt': {
          const withArgs = fields.argsSchema !== undefined;
          return definePrompt({
            name: entry.key,
            ...only(fields, ['title', 'description', 'argsSchema', '_meta']),
            handler: withArgs
              ? (args: unknown, extra: unknown) => callback(args, extra)
              : (_args, extra) => callback(extra),
          } as Parameters<typeof definePrompt>[0]);
        }
        case 'resource': {
          const metadata = isRecord(fields.metadata) ? fields.metadata : {};
          return defineResource({
            ...only(metadata, ['description', 'mimeType', '_meta']),
            ...only(fields, ['title']),
            name: String(fields.name),
            uri: entry.key,
            handler: (uri: URL, extra: unknown) => callback(uri, extra),
          });
        }
        case 'resourceTemplate': {
          const metadata = isRecord(fields.metadata) ? fields.metadata : {};
          const template = fields.template as Parameters<typeof completionsOf>[0] & {
            uriTemplate: { toString(): string };
            listCallback?: Callback;
          };
          const list = template.listCallback;
          const complete = completionsOf(template);
          return defineResource({
            ...only(metadata, ['description', 'mimeType', '_meta']),
            ...only(fields, ['title']),
            name: entry.key,
            template: template.uriTemplate.toString(),
            ...(typeof list === 'function' && { list: (extra: unknown) => list(extra) }),
            ...(complete !== undefined && { complete }),
            handler: (uri: URL, variables: Record<string, string | string[]>, extra: unknown) =>
              callback(uri, variables, extra),
          });
        }
      }
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  function add(kind: DefinitionKind, key: string, call: string, fields: Fields): RecordedHandle {
    if (typeof fields.callback !== 'function') refuse(`${call}('${key}')`, 'its last argument must be the callback');
    const table = tables[kind];
    if (table.has(key)) duplicate(kind, key);
    const entry = { kind, key, call, enabled: true, removed: false, fields } as Entry;
    const site = here();
    if (site) entry.site = site;
    entry.definition = define(entry);
    entry.handle = handleOf(entry);
    table.set(key, entry);
    order.push(entry);
    return entry.handle;
  }

  function handleOf(entry: Entry): RecordedHandle {
    const label = () => `${KIND_LABEL[entry.kind]} '${entry.key}'`;
    const update = (updates: Fields) => {
      assertOpen(`${label()}.update()`);
      if (entry.removed || !isRecord(updates)) return;
      const table = tables[entry.kind];
      const renameField = entry.kind === 'resource' ? 'uri' : 'name';
      const next = updates[renameField];
      if (next !== undefined && next !== entry.key) {
        if (next === null) {
          table.delete(entry.key);
          entry.removed = true;
          order.splice(order.indexOf(entry), 1);
          return;
        }
        if (table.has(String(next))) duplicate(entry.kind, String(next));
        table.delete(entry.key);
        entry.key = String(next);
        table.set(entry.key, entry);
      }
      const rename: Record<string, string> = { paramsSchema: 'inputSchema' };
      for (const [field, value] of Object.entries(updates)) {
        if (value === undefined || field === renameField) continue;
        if (field === 'enabled') entry.enabled = value === true;
        else if (entry.kind === 'tool' && (field === 'paramsSchema' || field === 'inputSchema')) {
          entry.fields.inputSchema = value;
        } else entry.fields[rename[field] ?? field] = value;
      }
      entry.definition = define(entry);
    };
    const handle: Record<string, unknown> = {
      update,
      enable: () => update({ enabled: true }),
      disable: () => update({ enabled: false }),
      remove: () => update({ [entry.kind === 'resource' ? 'uri' : 'name']: null }),
    };
    Object.defineProperty(handle, 'enabled', { enumerable: true, get: () => entry.enabled });
    for (const field of ['title', 'description', 'inputSchema', 'outputSchema', 'annotations', '_meta', 'argsSchema']) {
      Object.defineProperty(handle, field, { enumerable: true, get: () => entry.fields[field] });
    }
    Object.defineProperty(
      handle,
      entry.kind === 'tool' ? 'handler' : entry.kind === 'prompt' ? 'callback' : 'readCallback',
      {
        enumerable: true,
        get: () => entry.fields.callback,
      },
    );
    if (entry.kind === 'resource') {
      Object.defineProperty(handle, 'name', { enumerable: true, get: () => entry.fields.name });
      Object.defineProperty(handle, 'metadata', { enumerable: true, get: () => entry.fields.metadata });
    }
    if (entry.kind === 'resourceTemplate') {
      Object.defineProperty(handle, 'resourceTemplate', { enumerable: true, get: () => entry.fields.template });
      Object.defineProperty(handle, 'metadata', { enumerable: true, get: () => entry.fields.metadata });
    }
    return handle as unknown as RecordedHandle;
  }

  function forwarded(target: Record<string, any> | undefined, name: string, path: string, fallback?: () => unknown) {
    return (...args: unknown[]) => {
      const method = target?.[name];
      if (typeof method === 'function') return method.apply(target, args);
      if (fallback) return fallback();
      return refuse(`${path}.${name}()`, 'it needs the live server, and this recording server has none to forward to');
    };
  }

  const registerResource = (
    call: string,
    name: string,
    uriOrTemplate: unknown,
    metadata: unknown,
    callback: unknown,
  ) => {
    assertOpen(`server.${call}('${name}')`);
    const fields: Fields = { callback, ...(isRecord(metadata) && { metadata, title: metadata.title }) };
    if (typeof uriOrTemplate === 'string') return add('resource', uriOrTemplate, call, { ...fields, name });
    if (isResourceTemplate(uriOrTemplate)) {
      return add('resourceTemplate', name, call, { ...fields, template: uriOrTemplate });
    }
    return refuse(`server.${call}('${name}')`, 'its second argument must be a URI string or a ResourceTemplate');
  };

  const lifecycle = (name: 'connect' | 'close') => async () => {
    if (options.connect === 'refuse') refuse(`server.${name}()`, LOW_LEVEL_REFUSED[name] as string);
  };

  const surface: RecordingMcpServer = {
    registerTool(name, config, callback) {
      assertOpen(`server.registerTool('${name}')`);
      const fields = isRecord(config) ? config : {};
      return add('tool', name, 'registerTool', {
        ...only(fields, ['title', 'description', 'inputSchema', 'outputSchema', 'annotations', '_meta']),
        callback,
      });
    },
    tool(name, ...rest) {
      assertOpen(`server.tool('${name}')`);
      if (tables.tool.has(name)) duplicate('tool', name);
      const fields: Fields = {};
      if (typeof rest[0] === 'string') fields.description = rest.shift();
      if (rest.length > 1) {
        const first = rest[0];
        if (isRawShape(first)) {
          fields.inputSchema = rest.shift();
          if (rest.length > 1 && isRecord(rest[0]) && !isRawShape(rest[0])) fields.annotations = rest.shift();
        } else if (isRecord(first)) {
          if (Object.values(first).some(isRecord)) {
            refuse(`server.tool('${name}')`, 'it expected a zod raw shape or tool annotations, but got another object');
          }
          fields.annotations = rest.shift();
        }
      }
      return add('tool', name, 'tool', { ...fields, callback: rest[0] });
    },
    registerPrompt(name, config, callback) {
      assertOpen(`server.registerPrompt('${name}')`);
      const fields = isRecord(config) ? config : {};
      return add('prompt', name, 'registerPrompt', {
        ...only(fields, ['title', 'description', 'argsSchema', '_meta']),
        callback,
      });
    },
    prompt(name, ...rest) {
      assertOpen(`server.prompt('${name}')`);
      const fields: Fields = {};
      if (typeof rest[0] === 'string') fields.description = rest.shift();
      if (rest.length > 1) fields.argsSchema = rest.shift();
      return add('prompt', name, 'prompt', { ...fields, callback: rest[0] });
    },
    registerResource(name, uriOrTemplate, config, callback) {
      return registerResource('registerResource', name, uriOrTemplate, config, callback);
    },
    resource(name, uriOrTemplate, ...rest) {
      const metadata = isRecord(rest[0]) ? rest.shift() : undefined;
      return registerResource('resource', name, uriOrTemplate, metadata, rest[0]);
    },
    connect: lifecycle('connect'),
    close: lifecycle('close'),
    isConnected: forwarded(forward, 'isConnected', 'server', () => false) as () => boolean,
    sendLoggingMessage: forwarded(forward, 'sendLoggingMessage', 'server', async () => {}) as () => Promise<void>,
    sendToolListChanged: forwarded(forward, 'sendToolListChanged', 'server', () => {}) as () => void,
    sendPromptListChanged: forwarded(forward, 'sendPromptListChanged', 'server', () => {}) as () => void,
    sendResourceListChanged: forwarded(forward, 'sendResourceListChanged', 'server', () => {}) as () => void,
    server: {},
  };

  const liveLowLevel = () => (isRecord(forward?.server) ? (forward.server as Record<string, any>) : undefined);
  const lowLevel: Record<string, unknown> = {};
  for (const name of LOW_LEVEL_FORWARDED) {
    lowLevel[name] = (...args: unknown[]) => forwarded(liveLowLevel(), name, 'server.server')(...args);
  }
  for (const [name, why] of Object.entries(LOW_LEVEL_REFUSED)) {
    lowLevel[name] = () => refuse(`server.server.${name}()`, why);
  }
  Object.defineProperty(lowLevel, 'transport', { enumerable: true, get: () => liveLowLevel()?.transport });
  (surface as { server: unknown }).server = guard(lowLevel, 'server.server', refuse);

  const guarded = guard(
    surface as unknown as Record<string, unknown>,
    'server',
    refuse,
  ) as unknown as RecordingMcpServer;
  RAW.set(guarded, surface);

  return {
    server: guarded,
    definitions: () => order.filter((entry) => entry.enabled).map((entry) => entry.definition),
    entries: () =>
      order.map((entry) => ({
        definition: entry.definition,
        call: entry.call,
        enabled: entry.enabled,
        ...(entry.site && { site: entry.site }),
      })),
    refusals: () => [...refused],
    seal(reason = 'registrations are recorded only while register(server) runs; this one came after it finished') {
      sealed ??= reason;
    },
    get sealed() {
      return sealed !== undefined;
    },
  };
}

/** Each guarded recording server's plain surface, for {@link routeToRecording}. */
const RAW = new WeakMap<object, RecordingMcpServer>();

/** `target` behind a proxy that refuses reads of members it does not have, and every write. */
function guard<T extends Record<string, unknown>>(
  target: T,
  path: string,
  refuse: (call: string, why: string) => never,
): T {
  const outside = 'it is not part of the McpServer registration surface that hotmcp records';
  return new Proxy(target, {
    get(object, property, receiver) {
      if (typeof property === 'symbol' || property in object || PROBES.has(property) || property.startsWith('@@')) {
        return Reflect.get(object, property, receiver);
      }
      return refuse(`${path}.${property}`, outside);
    },
    set(_object, property) {
      return refuse(`assigning ${path}.${String(property)}`, outside);
    },
    defineProperty(_object, property) {
      return refuse(`defining ${path}.${String(property)}`, outside);
    },
    deleteProperty(_object, property) {
      return refuse(`deleting ${path}.${String(property)}`, outside);
    },
  });
}

/**
 * Make a real `McpServer` instance (either major) record instead of serve:
 * its registration methods, `connect` / `close`, its run-time senders and its
 * low-level server's handler and capability methods become the recording
 * server's, as own properties shadowing the prototype's; `experimental`
 * (tasks) is refused. The instance's constructor has already run. Returns a
 * function that puts the instance back.
 */
export function routeToRecording(instance: object, recording: RecordingServer): () => void {
  const surface = RAW.get(recording.server);
  if (surface === undefined) throw new TypeError('routeToRecording needs a recording made by createRecordingServer()');
  const restores: Array<() => void> = [];
  const shadow = (target: Record<string, unknown>, name: string, descriptor: PropertyDescriptor) => {
    const saved = Object.getOwnPropertyDescriptor(target, name);
    Object.defineProperty(target, name, { configurable: true, ...descriptor });
    restores.push(() => {
      if (saved === undefined) delete target[name];
      else Object.defineProperty(target, name, saved);
    });
  };
  const target = instance as Record<string, unknown>;
  for (const name of SURFACE) shadow(target, name, { writable: true, value: surface[name] });
  shadow(target, 'experimental', {
    get: () => (recording.server as unknown as Record<string, unknown>).experimental,
  });
  const inner = target.server;
  const lowLevel = surface.server as Record<string, unknown>;
  if (isRecord(inner)) {
    for (const name of [...LOW_LEVEL_FORWARDED, ...Object.keys(LOW_LEVEL_REFUSED)]) {
      shadow(inner, name, { writable: true, value: lowLevel[name] });
    }
  }
  return () => {
    for (const restore of restores.reverse()) restore();
  };
}

/** Options of {@link captureRegistrations}. */
export interface CaptureRegistrationsOptions extends RecordingServerOptions {
  /**
   * Aborting it (a time limit, say) seals the recording and rejects with the
   * signal's reason: an asynchronous register function that never settles
   * records nothing more.
   */
  signal?: AbortSignal;
}

/**
 * Run one register function against a fresh recording server: call it, await
 * it when it returns a promise, then seal the recording. Rejects with what
 * the function threw, or with the first refusal even when the function caught
 * it (the server would not be what the function meant), or with the signal's
 * reason on abort.
 *
 * @returns The sealed recording: read `definitions()` / `entries()`.
 */
export async function captureRegistrations(
  register: (server: any) => unknown,
  options: CaptureRegistrationsOptions = {},
): Promise<RecordingServer> {
  const recording = createRecordingServer(options);
  const { signal } = options;
  try {
    signal?.throwIfAborted();
    const result = register(recording.server);
    if (isRecord(result) && typeof (result as { then?: unknown }).then === 'function') {
      await new Promise<void>((resolve, reject) => {
        const aborted = () => reject(signal?.reason);
        signal?.addEventListener('abort', aborted, { once: true });
        (result as unknown as PromiseLike<unknown>).then(
          () => {
            signal?.removeEventListener('abort', aborted);
            resolve();
          },
          (error: unknown) => {
            signal?.removeEventListener('abort', aborted);
            reject(error);
          },
        );
      });
    }
  } finally {
    recording.seal();
  }
  const [refusal] = recording.refusals();
  if (refusal !== undefined) throw refusal;
  return recording;
}
