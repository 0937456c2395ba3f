import { sep } from 'node:path';
import { createRecordingServer, type RecordingServer, routeToRecording, stableJson } from '@hotmcp/adapter-mcp-server';
import { type AnyDefinition, guardStdout, HotMcpError } from '@hotmcp/core';
import { restarted } from '../supervisor/child-stdio.js';
import { mark } from '../timing.js';
import { callSite } from './call-site.js';
import { listChangedWarning, withListChanged } from './capabilities.js';
import { type NativeStart, REGISTRATION_METHODS, useRealStdout } from './native-start.js';

type AnyServer = Record<string, unknown> & { server: Record<string, unknown> };
type ServerClass = new (info: unknown, options?: unknown) => AnyServer;
type Handler = (...args: unknown[]) => unknown;
/** The factory SDK 2.x's `serveStdio()` takes. */
type ServerFactory = (context: unknown) => unknown;

interface Instance {
  recording: RecordingServer;
  /** The server's identity as the entry wrote it (info and options, before the CLI added capabilities). */
  identity: string;
  connected: boolean;
  /** Low-level handlers it set for what the live server already handles, in order: applied with it. */
  lowLevel: Array<[call: LowLevelCall, method: unknown, handler: Handler]>;
}

/** What one evaluation of the entry built. */
export type EvaluationOutcome =
  | { ok: true; definitions: AnyDefinition[]; server: object }
  | { ok: false; error: HotMcpError };

const HANDLE_METHODS = ['update', 'enable', 'disable', 'remove'];
/** Request methods the SDK's McpServer and Server handle themselves (not the entry's own low-level handlers; neither
 * SDK handles resources/subscribe or unsubscribe: a server that offers them sets its own). */
const SDK_METHODS = new Set([
  'initialize',
  'ping',
  'server/discover',
  'logging/setLevel',
  'completion/complete',
  'tools/list',
  'tools/call',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/templates/list',
  'resources/read',
]);
/** Low-level Server methods that change its capabilities or handlers: a restart applies a re-evaluation calling one. */
const RESTART_APPLIES = [
  'registerCapabilities',
  'removeRequestHandler',
  'removeNotificationHandler',
  'assertCanSetRequestHandler',
] as const;
/** Notifications the SDK's Server handles itself. */
const SDK_NOTIFICATIONS = new Set(['notifications/initialized', 'notifications/cancelled', 'notifications/progress']);
/** How the entry gives its low-level Server a handler of its own, each with what the SDK handles itself. */
type LowLevelCall = 'setRequestHandler' | 'setNotificationHandler';
const LOW_LEVEL: ReadonlyArray<{ call: LowLevelCall; kind: string; table: string; sdk: ReadonlySet<string> }> = [
  { call: 'setRequestHandler', kind: 'request', table: '_requestHandlers', sdk: SDK_METHODS },
  { call: 'setNotificationHandler', kind: 'notification', table: '_notificationHandlers', sdk: SDK_NOTIFICATIONS },
];

/**
 * The McpServer side of `hotmcp dev`: hands the entry's modules an McpServer
 * class whose registrations are recorded (by `@hotmcp/adapter-mcp-server`'s
 * recording server), picks the first server the entry connects as the live
 * one (its transport stays live for the whole run), and makes every server
 * built by a later re-evaluation record without serving.
 */
export class DevSession {
  /** The live server, once the entry connected it. */
  live: AnyServer | undefined;
  /** The server whose recording is what the live server should hold. */
  private current: Instance | undefined;
  private liveIdentity: string | undefined;
  private readonly instances = new WeakMap<object, Instance>();
  private readonly classes = new WeakMap<object, ServerClass>();
  private readonly serveStdios = new WeakMap<object, (factory: ServerFactory, options?: unknown) => unknown>();
  /** What SDK 2.x's `serveStdio` handed the factory of the live server (its protocol era). */
  private liveEra: unknown;
  /** Servers built by the evaluation under way (undefined outside one). */
  private building: AnyServer[] | undefined;
  private liveConnected: ((server: AnyServer) => Promise<void>) | undefined;
  /** Request methods and notifications the live server's low-level Server was given handlers for by the entry itself. */
  private readonly own: Record<LowLevelCall, Set<unknown>> = {
    setRequestHandler: new Set(),
    setNotificationHandler: new Set(),
  };
  /** True while the registry adapter writes to the live server: registrations go through. */
  passThrough = false;
  /** What the evaluation under way asked a restart for first (told rather than what its catch did about it). */
  restartAsked: HotMcpError | undefined;
  private warnedCapabilities = restarted(); // said by the first process

  constructor(
    private readonly root: string,
    private readonly warn: (line: string) => void,
    /** Called when what the live server should hold changed outside an evaluation (a handle's update()). */
    private readonly onLiveChange: () => void,
  ) {}

  /** Called with the live server when the entry connects it; resolves when it may really connect. */
  onLiveConnect(listener: (server: AnyServer) => Promise<void>): void {
    this.liveConnected = listener;
  }

  /** What the live server should hold now. */
  definitions(): AnyDefinition[] {
    return this.current?.recording.definitions() ?? [];
  }

  /**
   * SDK 2.x's `serveStdio(factory, options)` as the entry's modules see it. The first run's is the real one (its
   * factory builds the live server when the client's first message comes). A re-evaluation's calls the factory at
   * once, for the era the live server was built for, to record the server it builds: a second `serveStdio` would
   * read stdin beside the live one, and its lazy factory would build nothing in the evaluation.
   */
  serveStdioFor(real: (factory: ServerFactory, options?: unknown) => unknown): typeof real {
    const known = this.serveStdios.get(real);
    if (known) return known;
    const serve = (factory: ServerFactory, options?: unknown) => {
      if (this.live === undefined || this.building === undefined) {
        return real((context) => {
          this.liveEra ??= context;
          return factory(context);
        }, options);
      }
      const built = Promise.resolve(factory(this.liveEra ?? { era: 'legacy' })).then((server) =>
        (server as { connect?(transport?: unknown): unknown }).connect?.(undefined),
      );
      return { close: async () => {}, ready: built };
    };
    this.serveStdios.set(real, serve);
    return serve;
  }

  /** The class handed to the entry's modules in place of the SDK's `McpServer`. */
  classFor(Base: ServerClass): ServerClass {
    const known = this.classes.get(Base);
    if (known) return known;
    const session = this;
    const Dev = class extends Base {
      constructor(info: unknown, options?: unknown) {
        super(info, session.withCapabilities(options));
        session.constructed(this as unknown as AnyServer, info, options);
      }
    };
    Object.defineProperty(Dev, 'name', { value: Base.name });
    for (const method of REGISTRATION_METHODS) {
      const original = (Base.prototype as Record<string, unknown>)[method];
      if (typeof original !== 'function') continue;
      Object.defineProperty(Dev.prototype, method, {
        configurable: true,
        writable: true,
        value(this: AnyServer, ...args: unknown[]) {
          const instance = session.instances.get(this);
          if (!instance || session.passThrough) return original.apply(this, args);
          return session.watched(
            instance,
            (instance.recording.server as unknown as Record<string, Handler>)[method]?.(...args),
          );
        },
      });
    }
    const connect = (Base.prototype as unknown as { connect: (transport: unknown) => Promise<void> }).connect;
    Object.defineProperty(Dev.prototype, 'connect', {
      configurable: true,
      writable: true,
      value(this: AnyServer, transport: unknown) {
        return session.connect(this, transport, (target) => connect.call(this, target));
      },
    });
    this.classes.set(Base, Dev as unknown as ServerClass);
    return Dev as unknown as ServerClass;
  }

  /**
   * Take over the live server a native first run of the entry connected: its
   * registrations so far are replayed on a recording (each at the call site
   * it was made at), which becomes what the live server should hold; the
   * handles the entry got now change the recording; its later registrations
   * record too.
   */
  adoptNative(start: NativeStart): void {
    const server = start.live as AnyServer;
    const recording = createRecordingServer({
      attribute: (file) => file.startsWith(this.root) && !file.includes(`${sep}node_modules${sep}`),
    });
    const instance: Instance = {
      recording,
      identity: identityOf(start.identity.info, start.identity.options),
      connected: true,
      lowLevel: [],
    };
    const surface = recording.server as unknown as Record<string, Handler>;
    for (const call of start.calls) {
      const stack = call.stack.stack;
      const prepare = Error.prepareStackTrace;
      Error.prepareStackTrace = () => stack;
      let handle: unknown;
      try {
        handle = surface[call.method]?.(...call.args);
      } catch {
        // refused: the recording keeps the refusal; the first run's entry stays as the SDK took it
      } finally {
        Error.prepareStackTrace = prepare;
      }
      if (typeof handle !== 'object' || handle === null) continue;
      for (const [name, args] of call.ops) {
        try {
          (handle as Record<string, Handler>)[name]?.(...args);
        } catch {
          // as above
        }
      }
      call.recorded = this.watched(instance, handle) as object;
    }
    this.instances.set(server, instance);
    this.live = server;
    this.liveIdentity = instance.identity;
    this.current = instance;
    this.warnedCapabilities = true; // the first run said it, when it had to
    for (const { call, table, sdk } of LOW_LEVEL) {
      const handlers = (server.server as Record<string, Map<unknown, unknown> | undefined>)[table];
      for (const method of handlers?.keys() ?? []) if (!sdk.has(method as string)) this.own[call].add(method);
    }
    start.takeOver(
      (method, args) => this.watched(instance, surface[method]?.(...args)),
      () => this.passThrough,
    );
  }

  /** Start an evaluation of the entry: every McpServer built from now on records. */
  beginEvaluation(): void {
    this.building = [];
    this.restartAsked = undefined;
  }

  /** End the first evaluation: servers built after it (at run time) are plain servers. */
  endFirstEvaluation(): void {
    this.building = undefined;
  }

  /** End a re-evaluation: the server it built (the one it connected, else the only one), checked against the live one. */
  endEvaluation(entry: string): EvaluationOutcome {
    const built = this.building ?? [];
    this.building = undefined;
    const chosen =
      built.find((server) => this.instances.get(server)?.connected) ?? (built.length === 1 ? built[0] : undefined);
    const instance = chosen && this.instances.get(chosen);
    if (!chosen || !instance) {
      const why = built.length === 0 ? 'builds no McpServer' : `builds ${built.length} McpServers and connects none`;
      return {
        ok: false,
        error: new HotMcpError(
          'HOTMCP_ERR_NO_SERVER',
          `${entry}: the new version ${why}; the last good version keeps serving`,
          { file: entry },
        ),
      };
    }
    const [refusal] = instance.recording.refusals();
    if (refusal) return { ok: false, error: refusal };
    if (instance.identity !== this.liveIdentity) {
      return {
        ok: false,
        error: new HotMcpError(
          'HOTMCP_ERR_RESTART_NEEDED',
          `${entry}: the server's name, version, capabilities or options changed; that cannot be applied to the running server in place (restart hotmcp dev)`,
          { file: entry, details: { reason: 'identity' } },
        ),
      };
    }
    return { ok: true, definitions: instance.recording.definitions(), server: chosen };
  }

  /** Make the server an applied evaluation built the source of what the live server holds. */
  adopt(server: object): void {
    const instance = this.instances.get(server);
    if (!instance || !this.live) return;
    this.current = instance;
    const inner = this.live.server as Record<LowLevelCall, (method: unknown, handler: Handler) => void>;
    for (const [call, method, handler] of instance.lowLevel.splice(0)) inner[call](method, handler);
  }

  /** A registration's handle, reporting each change made through it once its server is the live one's source. */
  private watched(instance: Instance, handle: unknown): unknown {
    if (typeof handle !== 'object' || handle === null) return handle;
    for (const name of HANDLE_METHODS) {
      const method = (handle as Record<string, unknown>)[name];
      if (typeof method !== 'function') continue;
      Object.defineProperty(handle, name, {
        configurable: true,
        value: (...args: unknown[]) => {
          const result = method.apply(handle, args);
          if (this.current === instance && this.building === undefined) this.onLiveChange();
          return result;
        },
      });
    }
    return handle;
  }

  private withCapabilities(options: unknown): unknown {
    const given = (typeof options === 'object' && options !== null ? options : {}) as Record<string, unknown>;
    const capabilities = withListChanged(given.capabilities, (missing) => {
      if (this.warnedCapabilities) return;
      this.warnedCapabilities = true;
      this.warn(listChangedWarning(missing, 'an edit'));
    });
    return { ...given, capabilities };
  }

  private constructed(server: AnyServer, info: unknown, options: unknown): void {
    if (this.building === undefined) return; // built at run time, outside any evaluation: a plain server
    const live = this.live;
    const recording = createRecordingServer({ attribute: this.root, ...(live && { forward: live }) });
    const instance: Instance = {
      recording,
      identity: identityOf(info, options),
      connected: false,
      lowLevel: [],
    };
    this.instances.set(server, instance);
    this.building.push(server);
    const inner = server.server as Record<string, unknown>;
    if (!live) {
      // A server of the first run: it may become the live one, and what it sets on its low-level Server is real.
      for (const { call } of LOW_LEVEL) {
        const original = inner[call] as (method: unknown, handler: unknown) => unknown;
        inner[call] = (method: unknown, handler: unknown) => {
          if (!this.passThrough) this.own[call].add(methodOf(method));
          return original.call(inner, method, handler);
        };
      }
      return;
    }
    // A re-evaluation's server records everything and serves nothing.
    routeToRecording(server, recording);
    for (const method of REGISTRATION_METHODS) {
      const recorded = server[method];
      if (typeof recorded !== 'function') continue;
      Object.defineProperty(server, method, {
        configurable: true,
        writable: true,
        value: (...args: unknown[]) => this.watched(instance, recorded(...args)),
      });
    }
    Object.defineProperty(server, 'connect', {
      configurable: true,
      writable: true,
      value: async () => {
        instance.connected = true;
      },
    });
    // A low-level handler for what the live server already handles replaces its handler when this version is
    // applied; one for anything else would change the running server (a restart applies it).
    for (const { call, kind } of LOW_LEVEL) {
      inner[call] = (method: unknown, handler: Handler) => {
        if (!this.own[call].has(methodOf(method))) {
          return this.restartNeeded(
            call,
            `server.server.${call}(${JSON.stringify(methodOf(method) ?? '?')}) adds a low-level ${kind} handler the running server does not have; that cannot be applied in place (restart hotmcp dev)`,
          );
        }
        instance.lowLevel.push([call, method, handler]);
      };
    }
    // What changes the low-level server's capabilities or handlers otherwise: a fresh process runs it for real.
    for (const name of RESTART_APPLIES) {
      inner[name] = (...args: unknown[]) => {
        // Capabilities the running server already has (an entry that registers them before connect, every run).
        if (name === 'registerCapabilities' && covers(capabilitiesOf(live), args[0])) return;
        return this.restartNeeded(
          name,
          `server.server.${name}() changes the low-level server, which cannot be done to the running server in place (restart hotmcp dev)`,
        );
      };
    }
  }

  /** Throw (and keep, for the evaluation's outcome) a HOTMCP_ERR_RESTART_NEEDED pointing at the caller's line. */
  private restartNeeded(reason: string, message: string): never {
    const site = callSite(new Error().stack, this.root);
    const error = new HotMcpError('HOTMCP_ERR_RESTART_NEEDED', message, { ...site, details: { reason } });
    this.restartAsked ??= error;
    throw error;
  }

  private async connect(
    server: AnyServer,
    transport: unknown,
    connect: (transport: unknown) => Promise<void>,
  ): Promise<void> {
    const instance = this.instances.get(server);
    if (!instance || this.live !== undefined || this.liveConnected === undefined) return connect(transport);
    instance.connected = true;
    this.live = server;
    this.liveIdentity = instance.identity;
    this.current = instance;
    await this.liveConnected(server);
    // stdout is guarded (everything written there goes to stderr): the transport gets the real stdout.
    useRealStdout(transport, guardStdout());
    await connect(transport);
    mark('transport connected');
  }
}

/** The capabilities `server`'s low-level Server advertises. */
function capabilitiesOf(server: AnyServer): unknown {
  const inner = server.server as { getCapabilities?(): unknown; _capabilities?: unknown };
  return typeof inner.getCapabilities === 'function' ? inner.getCapabilities() : inner._capabilities;
}

/** Whether `has` holds everything `wanted` sets (objects compared key by key, anything else by value). */
function covers(has: unknown, wanted: unknown): boolean {
  if (typeof wanted !== 'object' || wanted === null) return Object.is(has, wanted);
  if (typeof has !== 'object' || has === null) return false;
  return Object.entries(wanted).every(([key, value]) => covers((has as Record<string, unknown>)[key], value));
}

function identityOf(info: unknown, options: unknown): string {
  try {
    return stableJson({ info, options });
  } catch {
    return String(Math.random()); // not comparable: any change of it asks for a restart
  }
}

function methodOf(schemaOrMethod: unknown): unknown {
  if (typeof schemaOrMethod === 'string') return schemaOrMethod;
  const shape = (schemaOrMethod as { shape?: { method?: { value?: unknown; _def?: { value?: unknown } } } })?.shape;
  return shape?.method?.value ?? shape?.method?._def?.value ?? schemaOrMethod;
}
