const DEFINITION = Symbol.for('hotmcp.definition');

/** The kinds of entry an MCP server lists. */
export type DefinitionKind = 'tool' | 'prompt' | 'resource';

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
  content: Array<{ type: string; [key: string]: unknown }>;
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
  [key: string]: unknown;
}

/** The tool fields an adapter turns into an SDK registration. */
export interface ToolConfig<S = unknown> {
  name: string;
  title?: string;
  description?: string;
  /** A raw shape of schemas (`{ text: z.string() }`) or an object schema. */
  inputSchema?: S;
  outputSchema?: unknown;
  annotations?: Record<string, unknown>;
  _meta?: Record<string, unknown>;
  handler: (args: InferArgs<S>, extra: unknown) => ToolResult | Promise<ToolResult>;
}

/** A branded tool definition, as {@link defineTool} returns it. */
export type ToolDefinition<S = unknown> = ToolConfig<S> & { readonly kind: 'tool' };

/** Any definition the engine can own. Prompts and resources join this union. */
export type AnyDefinition = ToolDefinition<any>;

/**
 * Declare a tool in a hot-reloaded module. Export the result (default or named);
 * a module may export several.
 */
export function defineTool<S = undefined>(config: ToolConfig<S>): ToolDefinition<S> {
  const definition = { ...config, kind: 'tool' as const };
  Object.defineProperty(definition, DEFINITION, { value: true });
  return definition;
}

/** True for a value made by one of the `define*` helpers, from any copy of this package. */
export function isDefinition(value: unknown): value is AnyDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[DEFINITION] === true;
}

/** The registry key of a definition: kind and bare name. */
export function definitionKey(definition: { kind: DefinitionKind; name: string }): string {
  return `${definition.kind}:${definition.name}`;
}
