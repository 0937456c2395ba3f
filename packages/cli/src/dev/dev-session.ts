import { type AnyDefinition, guardStdout, HotMcpError, stableJson } from '@hotmcp/core';
import { callSite } from './call-site.js';
import { createRecorder, REGISTRATION_METHODS, type Recorder } from './recorder.js';

type AnyServer = Record<string, unknown> & { server: Record<string, unknown> };
type ServerClass = new (info: unknown, options?: unknown) => AnyServer;

interface Instance {
  recorder: Recorder;
  /** The server's identity as the entry wrote it (info and options, before the CLI added capabilities). */
  identity: string;
  connected: boolean;
}

/** What one evaluation of the entry built. */
export type EvaluationOutcome =
  | { ok: true; definitions: AnyDefinition[]; recorder: Recorder }
  | { ok: false; error: HotMcpError };

const LISTS = ['tools', 'prompts', 'resources'] as const;

/**
 * The McpServer side of `hotmcp dev`: hands the entry's modules an McpServer
 * class whose registrations are recorded, picks the first server the entry
 * connects as the live one (its transport stays live for the whole run), and
 * makes every server built by a later re-evaluation record without serving.
 */
export class DevSession {
  /** The live server, once the entry connected it. */
  live: AnyServer | undefined;
  /** The recorder whose definitions are what the live server should hold. */
  current: Recorder | undefined;
  private liveIdentity: string | undefined;
  private readonly instances = new WeakMap<object, Instance>();
  private readonly classes = new WeakMap<object, ServerClass>();
  /** Servers built by the evaluation under way (undefined outside one). */
  private building: AnyServer[] | undefined;
  private liveConnected: ((server: AnyServer) => Promise<void>) | undefined;
  /** Request methods the entry set on the live server's low-level Server itself. */
  private readonly ownHandlers = new Set<string>();
  /** True while the registry adapter writes to the live server: registrations go through. */
  passThrough = false;
  private warnedCapabilities = false;

  constructor(
    private readonly root: string,
    private readonly warn: (line: string) => void,
    /** Called when the live recorder changed outside an evaluation (a handle's update(), a late registration). */
    private readonly onLiveChange: () => void,
  ) {}

  /** Called with the live server when the entry connects it; resolves when it may really connect. */
  onLiveConnect(listener: (server: AnyServer) => Promise<void>): void {
    this.liveConnected = listener;
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
          return (instance.recorder[method] as (...args: unknown[]) => unknown)(...args);
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

  /** Start an evaluation of the entry: every McpServer built from now on records. */
  beginEvaluation(): void {
    this.building = [];
  }

  /** End the first evaluation: servers built after it (at run time) are plain servers. */
  endFirstEvaluation(): void {
    this.building = undefined;
  }

  /** End it: the server it built (the one it connected, else the only one), checked against the live one. */
  endEvaluation(entry: string): EvaluationOutcome {
    const built = this.building ?? [];
    this.building = undefined;
    const chosen =
      built.find((server) => this.instances.get(server)?.connected) ?? (built.length === 1 ? built[0] : undefined);
    const instance = chosen && this.instances.get(chosen);
    if (!instance) {
      const why = built.length === 0 ? 'builds no McpServer' : `builds ${built.length} McpServers and connects none`;
      return {
        ok: false,
        error: new HotMcpError(
          'HOTMCP_ERR_NO_SERVER',
          `${entry}: the new version ${why}; the last good version keeps serving`,
          {
            file: entry,
          },
        ),
      };
    }
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
    return { ok: true, definitions: instance.recorder.definitions(), recorder: instance.recorder };
  }

  /** Make `recorder` the live registry's source (after its evaluation was applied). */
  adopt(recorder: Recorder): void {
    if (this.current) this.current.onChange = undefined;
    this.current = recorder;
    recorder.onChange = () => {
      if (this.building === undefined) this.onLiveChange();
    };
  }

  private withCapabilities(options: unknown): unknown {
    const given = (typeof options === 'object' && options !== null ? options : {}) as Record<string, unknown>;
    const capabilities = { ...(given.capabilities as Record<string, Record<string, unknown> | undefined>) };
    const missing = LISTS.filter(
      (list) => capabilities[list] !== undefined && capabilities[list]?.listChanged !== true,
    );
    if (missing.length > 0 && !this.warnedCapabilities && this.live === undefined) {
      this.warnedCapabilities = true;
      this.warn(
        `the server does not advertise listChanged for ${missing.join(', ')}; hotmcp dev advertises it, so clients refresh their lists after an edit`,
      );
    }
    for (const list of LISTS) capabilities[list] = { ...capabilities[list], listChanged: true };
    capabilities.logging ??= {};
    return { ...given, capabilities };
  }

  private constructed(server: AnyServer, info: unknown, options: unknown): void {
    if (this.building === undefined) return; // built at run time, outside any evaluation: a plain server
    const recorder = createRecorder();
    this.instances.set(server, { recorder, identity: identityOf(info, options), connected: false });
    this.building?.push(server);
    const inner = server.server;
    const setRequestHandler = inner.setRequestHandler as ((method: unknown, handler: unknown) => unknown) | undefined;
    if (typeof setRequestHandler !== 'function') return;
    inner.setRequestHandler = (schemaOrMethod: unknown, handler: unknown) => {
      const method = methodOf(schemaOrMethod);
      if (this.passThrough || server === this.live || this.live === undefined) {
        if (!this.passThrough && method !== undefined) this.ownHandlers.add(method);
        return setRequestHandler.call(inner, schemaOrMethod, handler);
      }
      if (method !== undefined && this.ownHandlers.has(method)) return undefined; // the live one keeps its handler
      const site = callSite(new Error().stack, this.root);
      throw new HotMcpError(
        'HOTMCP_ERR_RESTART_NEEDED',
        `server.server.setRequestHandler(${JSON.stringify(method ?? '?')}) adds a low-level handler, which cannot be applied to the running server in place (restart hotmcp dev)`,
        { ...site, details: { reason: 'setRequestHandler', method } },
      );
    };
  }

  private async connect(
    server: AnyServer,
    transport: unknown,
    connect: (transport: unknown) => Promise<void>,
  ): Promise<void> {
    const instance = this.instances.get(server);
    if (!instance) return connect(transport); // a plain server
    instance.connected = true;
    if (this.live !== undefined || this.liveConnected === undefined) return; // a re-evaluation's server: records only
    this.live = server;
    this.liveIdentity = instance.identity;
    this.adopt(instance.recorder);
    await this.liveConnected(server);
    // stdout is guarded (everything written there goes to stderr): the transport gets the real stdout.
    const stdio = transport as { _stdout?: unknown };
    if (stdio && stdio._stdout === process.stdout) stdio._stdout = guardStdout();
    await connect(transport);
  }
}

function identityOf(info: unknown, options: unknown): string {
  try {
    return stableJson({ info, options });
  } catch {
    return String(Math.random()); // not comparable: any change of it asks for a restart
  }
}

function methodOf(schemaOrMethod: unknown): string | undefined {
  if (typeof schemaOrMethod === 'string') return schemaOrMethod;
  const shape = (schemaOrMethod as { shape?: { method?: { value?: unknown; _def?: { value?: unknown } } } })?.shape;
  const value = shape?.method?.value ?? shape?.method?._def?.value;
  return typeof value === 'string' ? value : undefined;
}
