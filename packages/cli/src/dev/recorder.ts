import { type AnyDefinition, definePrompt, defineResource, defineTool } from '@hotmcp/core';

/** What the CLI needs of a recording server: the SDK's registration surface, and what it recorded. */
export interface Recorder {
  /** The definitions registered and enabled now, in registration order. */
  definitions(): AnyDefinition[];
  /** Called after every registration and every change made through a returned handle. */
  onChange?: () => void;
  [method: string]: unknown;
}

/** The McpServer methods a recorder answers in place of the server. */
export const REGISTRATION_METHODS = [
  'registerTool',
  'tool',
  'registerPrompt',
  'prompt',
  'registerResource',
  'resource',
] as const;

type Callback = (...args: unknown[]) => unknown;
type Kind = 'tool' | 'prompt' | 'resource';

interface Entry {
  kind: Kind;
  name: string;
  enabled: boolean;
  build(name: string): AnyDefinition;
}

function isSchema(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  return '_zod' in value || '_def' in value || '~standard' in value;
}

/** A raw shape of zod schemas (`{ text: z.string() }`), as the deprecated `tool()` takes. */
function isShape(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || isSchema(value)) return false;
  const values = Object.values(value);
  return values.length === 0 || values.some(isSchema);
}

/** A `ResourceTemplate` of either SDK: an object with a `uriTemplate`. */
function templateOf(value: unknown): { template: string; list?: Callback } | undefined {
  if (typeof value !== 'object' || value === null || !('uriTemplate' in value)) return undefined;
  const { uriTemplate, listCallback } = value as { uriTemplate: unknown; listCallback?: Callback };
  return { template: String(uriTemplate), ...(typeof listCallback === 'function' && { list: listCallback }) };
}

/**
 * A minimal recording server: each registration call becomes a hotmcp
 * definition instead of an SDK registration.
 */
export function createRecorder(): Recorder {
  const entries = new Map<string, Entry>();
  const recorder: Recorder = {
    definitions: () => [...entries.values()].filter((entry) => entry.enabled).map((entry) => entry.build(entry.name)),
  };
  const changed = () => recorder.onChange?.();

  function add(kind: Kind, name: string, build: (name: string) => AnyDefinition) {
    const key = `${kind}:${name}`;
    if (entries.has(key)) {
      const label = kind === 'tool' ? 'Tool' : kind === 'prompt' ? 'Prompt' : 'Resource';
      throw new Error(`${label} ${name} is already registered`);
    }
    const entry: Entry = { kind, name, enabled: true, build };
    entries.set(key, entry);
    changed();
    return {
      get enabled() {
        return entry.enabled;
      },
      enable() {
        entry.enabled = true;
        changed();
      },
      disable() {
        entry.enabled = false;
        changed();
      },
      remove() {
        entries.delete(`${kind}:${entry.name}`);
        changed();
      },
      update(updates: Record<string, unknown>) {
        const before = entry.build;
        const rename = typeof updates.name === 'string' ? updates.name : undefined;
        if (typeof updates.enabled === 'boolean') entry.enabled = updates.enabled;
        const callback = (updates.callback ?? updates.handler) as Callback | undefined;
        entry.build = (current) => {
          const base = before(current) as unknown as Record<string, unknown>;
          const patch = Object.fromEntries(
            Object.entries(updates).filter(([field]) => !['name', 'enabled', 'callback', 'handler'].includes(field)),
          );
          const next = { ...base, ...patch, ...(callback && { handler: adapt(kind, base, callback) }) };
          return rebrand(next);
        };
        if (rename !== undefined && rename !== entry.name) {
          entries.delete(`${kind}:${entry.name}`);
          entry.name = rename;
          entries.set(`${kind}:${rename}`, entry);
        }
        changed();
      },
    };
  }

  recorder.registerTool = (name: string, config: Record<string, unknown>, callback: Callback) =>
    add('tool', name, (current) => toolDefinition(current, config ?? {}, callback));

  recorder.tool = (name: string, ...rest: unknown[]) => {
    const callback = rest.pop() as Callback;
    const config: Record<string, unknown> = {};
    if (typeof rest[0] === 'string') config.description = rest.shift();
    if (rest.length > 1 || isShape(rest[0])) config.inputSchema = rest.shift();
    if (rest[0] !== undefined) config.annotations = rest.shift();
    return add('tool', name, (current) => toolDefinition(current, config, callback));
  };

  recorder.registerPrompt = (name: string, config: Record<string, unknown>, callback: Callback) =>
    add('prompt', name, (current) => promptDefinition(current, config ?? {}, callback));

  recorder.prompt = (name: string, ...rest: unknown[]) => {
    const callback = rest.pop() as Callback;
    const config: Record<string, unknown> = {};
    if (typeof rest[0] === 'string') config.description = rest.shift();
    if (rest[0] !== undefined) config.argsSchema = rest.shift();
    return add('prompt', name, (current) => promptDefinition(current, config, callback));
  };

  recorder.registerResource = (name: string, target: unknown, config: Record<string, unknown>, callback: Callback) =>
    add('resource', name, (current) => resourceDefinition(current, target, config ?? {}, callback));

  recorder.resource = (name: string, target: unknown, ...rest: unknown[]) => {
    const callback = rest.pop() as Callback;
    const config = (rest[0] ?? {}) as Record<string, unknown>;
    return add('resource', name, (current) => resourceDefinition(current, target, config, callback));
  };

  return recorder;
}

function toolDefinition(name: string, config: Record<string, unknown>, callback: Callback): AnyDefinition {
  const { inputSchema, ...rest } = config;
  return defineTool({
    ...rest,
    name,
    ...(inputSchema !== undefined && { inputSchema }),
    handler: (inputSchema === undefined ? (_args: unknown, extra: unknown) => callback(extra) : callback) as never,
  } as never);
}

function promptDefinition(name: string, config: Record<string, unknown>, callback: Callback): AnyDefinition {
  const { argsSchema, ...rest } = config;
  return definePrompt({
    ...rest,
    name,
    ...(argsSchema !== undefined && { argsSchema }),
    handler: (argsSchema === undefined ? (_args: unknown, extra: unknown) => callback(extra) : callback) as never,
  } as never);
}

function resourceDefinition(
  name: string,
  target: unknown,
  config: Record<string, unknown>,
  callback: Callback,
): AnyDefinition {
  const template = templateOf(target);
  if (template) return defineResource({ ...config, name, ...template, handler: callback } as never);
  return defineResource({ ...config, name, uri: String(target), handler: callback } as never);
}

/** A handler given to `update({ callback })`, adapted like the original registration's. */
function adapt(kind: Kind, base: Record<string, unknown>, callback: Callback): Callback {
  const schema = kind === 'tool' ? base.inputSchema : kind === 'prompt' ? base.argsSchema : true;
  return schema === undefined ? (_args: unknown, extra: unknown) => callback(extra) : callback;
}

function rebrand(definition: Record<string, unknown>): AnyDefinition {
  const { kind, ...config } = definition;
  if (kind === 'tool') return defineTool(config as never);
  if (kind === 'prompt') return definePrompt(config as never);
  return defineResource(config as never);
}
