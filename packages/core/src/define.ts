const DEFINITION = Symbol.for('hotmcp.definition');

/**
 * The kinds of registry entry. A `resource` has a fixed URI; a
 * `resourceTemplate` a URI template. Both appear in the resources list.
 */
export type DefinitionKind = 'tool' | 'prompt' | 'resource' | 'resourceTemplate';

/** The output type of a zod (v3 or v4) or Standard Schema value, without depending on either. */
type OutputOf<S> = S extends { '~standard': { types?: { output: infer O } } }
  ? O
  : S extends { _zod: { output: infer O } }
    ? O
    : S extends { _output: infer O }
      ? O
      : unknown;

/** Handler arguments inferred from a raw shape (`{ text: z.string() }`) or an object schema. */
export type InferArgs<S> = 0 extends 1 & S
  ? any
  : S extends undefined
    ? Record<string, never>
    : S extends { '~standard': unknown } | { _zod: unknown } | { _output: unknown }
      ? OutputOf<S>
      : { [K in keyof S]: OutputOf<S[K]> };

/** What a tool handler returns: the MCP `CallToolResult`. */
export interface ToolResult {
  /** Content blocks (`{ type: 'text', text }`, images, resource links...). */
  content: Array<{ type: string; [key: string]: unknown }>;
  /** Structured result, checked against the tool's `outputSchema` when it has one. */
  structuredContent?: Record<string, unknown>;
  /** `true` when the tool failed and `content` describes the error. */
  isError?: boolean;
  [key: string]: unknown;
}

/** The tool fields an adapter turns into an SDK registration. */
export interface ToolConfig<S = unknown> {
  /** The tool's name, unique on the server; clients call the tool by it. */
  name: string;
  /** Human-readable display name. */
  title?: string;
  /** What the tool does, for the model. */
  description?: string;
  /** A raw shape of schemas (`{ text: z.string() }`) or an object schema. */
  inputSchema?: S;
  /** Schema of `structuredContent`, in the same forms as `inputSchema`. */
  outputSchema?: unknown;
  /** MCP tool annotations (`readOnlyHint`, `destructiveHint`...). */
  annotations?: Record<string, unknown>;
  /** MCP `_meta` passed through to the listed tool. */
  _meta?: Record<string, unknown>;
  /** Runs a call: receives the parsed arguments (`{}` without a schema) and the SDK's request extra. */
  handler: (args: InferArgs<S>, extra: unknown) => ToolResult | Promise<ToolResult>;
}

/** A branded tool definition, as {@link defineTool} returns it. */
export type ToolDefinition<S = unknown> = ToolConfig<S> & { readonly kind: 'tool' };

/** What a prompt handler returns: the MCP `GetPromptResult`. */
export interface PromptResult {
  /** Optional description of the prompt result. */
  description?: string;
  /** The messages the prompt expands to. */
  messages: Array<{ role: 'user' | 'assistant'; content: { type: string; [key: string]: unknown } }>;
  [key: string]: unknown;
}

/** The prompt fields an adapter turns into an SDK registration. */
export interface PromptConfig<S = unknown> {
  /** The prompt's name, unique on the server. */
  name: string;
  /** Human-readable display name. */
  title?: string;
  /** What the prompt is for. */
  description?: string;
  /** A raw shape of string schemas (`{ topic: z.string() }`) or a zod object schema. */
  argsSchema?: S;
  /** Expands the prompt: receives the parsed arguments and the SDK's request extra. */
  handler: (args: InferArgs<S>, extra: unknown) => PromptResult | Promise<PromptResult>;
}

/** A branded prompt definition, as {@link definePrompt} returns it. */
export type PromptDefinition<S = unknown> = PromptConfig<S> & { readonly kind: 'prompt' };

/** What a resource handler returns: the MCP `ReadResourceResult`. */
export interface ResourceResult {
  /** The resource contents, each with its URI and either `text` or base64 `blob`. */
  contents: Array<{ uri: string; mimeType?: string; text?: string; blob?: string; [key: string]: unknown }>;
  [key: string]: unknown;
}

interface ResourceMetadata {
  /** The resource's display name (the registry keys fixed resources by URI). */
  name: string;
  /** Human-readable display name. */
  title?: string;
  /** What the resource holds. */
  description?: string;
  /** MIME type of the contents. */
  mimeType?: string;
  /** MCP `_meta` passed through to the listed resource. */
  _meta?: Record<string, unknown>;
}

/** A resource at one fixed URI. */
export interface FixedResourceConfig extends ResourceMetadata {
  /** The resource's URI; the registry keys it by `new URL(uri).href`. */
  uri: string;
  /** Reads the resource: receives the requested URI and the SDK's request extra. */
  handler: (uri: URL, extra: unknown) => ResourceResult | Promise<ResourceResult>;
}

/** A family of resources matching an RFC 6570 URI template (`users://{id}/profile`). */
export interface TemplateResourceConfig extends ResourceMetadata {
  /** The RFC 6570 URI template, such as `users://{id}`. */
  template: string;
  /** Lists the concrete resources of the template, for resources/list. */
  list?: (extra: unknown) =>
    | { resources: Array<{ uri: string; name: string; [key: string]: unknown }> }
    | Promise<{
        resources: Array<{ uri: string; name: string; [key: string]: unknown }>;
      }>;
  /**
   * Completions of template variables, by variable name: each gets the value
   * typed so far (and the other arguments) and returns suggestions, for
   * `completion/complete`.
   */
  complete?: Record<
    string,
    (value: string, context?: { arguments?: Record<string, string> }) => string[] | Promise<string[]>
  >;
  /** Reads one resource of the family: receives its URI, the template variables and the SDK's request extra. */
  handler: (
    uri: URL,
    variables: Record<string, string | string[]>,
    extra: unknown,
  ) => ResourceResult | Promise<ResourceResult>;
}

/** A branded fixed-URI resource definition, as {@link defineResource} returns it for a `uri`. */
export type ResourceDefinition = FixedResourceConfig & { readonly kind: 'resource' };
/** A branded resource-template definition, as {@link defineResource} returns it for a `template`. */
export type ResourceTemplateDefinition = TemplateResourceConfig & { readonly kind: 'resourceTemplate' };

/** Any definition the engine can own. */
export type AnyDefinition =
  | ToolDefinition<any>
  | PromptDefinition<any>
  | ResourceDefinition
  | ResourceTemplateDefinition;

/** Where each definition was made: a captured stack, formatted only when asked for (a refusal). */
const DEFINED_AT = Symbol.for('hotmcp.definedAt');

function brand<T extends object>(definition: T, factory: (...args: never[]) => unknown): T {
  Object.defineProperty(definition, DEFINITION, { value: true });
  const site: { stack?: string } = {};
  Error.captureStackTrace(site, factory);
  Object.defineProperty(definition, DEFINED_AT, { value: site });
  return definition;
}

/**
 * The stack at the call of `defineTool()` (or a sibling) that made
 * `definition`, its first frame the caller; undefined for anything else.
 * Lets a refused definition be reported with the line that made it.
 */
export function definitionStack(definition: unknown): string | undefined {
  if (typeof definition !== 'object' || definition === null) return undefined;
  const site = (definition as Record<symbol, { stack?: string } | undefined>)[DEFINED_AT];
  return typeof site?.stack === 'string' ? site.stack : undefined;
}

/**
 * Declare a tool in a hot-reloaded module. Export the result (default or named);
 * a module may export several.
 */
export function defineTool<S = undefined>(config: ToolConfig<S>): ToolDefinition<S> {
  return brand({ ...config, kind: 'tool' as const }, defineTool);
}

/** Declare a prompt in a hot-reloaded module. */
export function definePrompt<S = undefined>(config: PromptConfig<S>): PromptDefinition<S> {
  return brand({ ...config, kind: 'prompt' as const }, definePrompt);
}

/** Declare a resource: `uri` for one fixed resource, `template` for a URI template. */
export function defineResource(config: FixedResourceConfig): ResourceDefinition;
export function defineResource(config: TemplateResourceConfig): ResourceTemplateDefinition;
export function defineResource(
  config: FixedResourceConfig | TemplateResourceConfig,
): ResourceDefinition | ResourceTemplateDefinition {
  return 'template' in config
    ? brand({ ...config, kind: 'resourceTemplate' as const }, defineResource)
    : brand({ ...config, kind: 'resource' as const }, defineResource);
}

/** True for a value made by one of the `define*` helpers, from any copy of this package. */
export function isDefinition(value: unknown): value is AnyDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[DEFINITION] === true;
}

/**
 * Normalise a resource URI the way the SDKs read it back (`new URL(uri).href`):
 * `Config://App` and `config://App` are one key. Throws on a URI that is not a URL.
 */
export function normaliseUri(uri: string): string {
  return new URL(uri).href;
}

/** What {@link registryName} and {@link keyOf} take: a definition, or a kind-and-name reference to a registry entry. */
export type RegistryEntry = AnyDefinition | { kind: DefinitionKind; name: string };

/**
 * The bare name a registry keys an entry by: the name for tools, prompts and
 * templates; the normalised URI for fixed resources (a definition's `uri`, a
 * reference's `name`, left as it is when it is not a URL). Throws for a
 * resource definition whose `uri` is not a URL (`definitionProblem` reports it).
 */
export function registryName(entry: RegistryEntry): string {
  if (entry.kind !== 'resource') return entry.name;
  if ('uri' in entry && typeof entry.uri === 'string') return normaliseUri(entry.uri);
  try {
    return normaliseUri(entry.name);
  } catch {
    return entry.name;
  }
}

/**
 * The one key of a registry entry, `kind:name` with the name as the registry
 * keys it ({@link registryName}): what the engine, the fan-out and the
 * adapters compare entries by.
 */
export function keyOf(entry: RegistryEntry): string {
  return `${entry.kind}:${registryName(entry)}`;
}

/** The list whose list_changed a change to this kind of entry sends. */
export function listOf(kind: DefinitionKind): 'tool' | 'prompt' | 'resource' {
  return kind === 'resourceTemplate' ? 'resource' : kind;
}
