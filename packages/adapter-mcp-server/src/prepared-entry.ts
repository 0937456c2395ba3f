import { type AnyDefinition, type DefinitionKind, definitionProblem, registryName } from '@hotmcp/core';
import { type Callback, type McpServerLike, messageOf, type RegisteredEntryLike } from './mcp-server-shape.js';
import { invalid } from './refusals.js';

/** A schema field of a definition, as the subclass is asked to check it. */
export type SchemaField = 'inputSchema' | 'outputSchema' | 'argsSchema';

/** What differs between SDKs when a definition becomes a registration. */
export interface RegistrationRules {
  /** Why a schema cannot be registered with this SDK, or undefined when it can. */
  schemaProblem(field: SchemaField, schema: unknown): string | undefined;
  /** The schema in the form this SDK's register method takes. */
  normaliseSchema(field: SchemaField, schema: unknown): unknown;
  /** The SDK's `ResourceTemplate`; throws when the template cannot be parsed. */
  createResourceTemplate(template: string, list: Callback | undefined, complete?: Record<string, Callback>): unknown;
}

/** One definition, checked and turned into a registration. */
export interface PreparedEntry {
  kind: DefinitionKind;
  /** The registry key: the name, or the normalised URI of a fixed resource. */
  key: string;
  /** The entry as the SDK lists it, as stable JSON: what clients see. Filled in by listing it. */
  listed: string;
  /** Always notify when replaced (a template whose `list` callback feeds resources/list). */
  alwaysVisible: boolean;
  /** Register it on `server` (the live one, or a scratch server to list it). */
  register(server: McpServerLike): RegisteredEntryLike;
}

/** The name a refusal gives a definition whose fields may be anything. */
function refusedName(value: Record<string, unknown>): unknown {
  if (value.kind !== 'resource' || typeof value.uri !== 'string') return value.name;
  try {
    return registryName(value as unknown as AnyDefinition);
  } catch {
    return value.uri;
  }
}

/**
 * Check one definition's fields (core's `definitionProblem`, then what the
 * SDK adds) and turn it into a registration. Throws
 * `HOTMCP_ERR_INVALID_DEFINITION` naming it.
 */
export function toPreparedEntry(definition: AnyDefinition, rules: RegistrationRules): PreparedEntry {
  const value = definition as unknown as Record<string, unknown>;
  const problem = definitionProblem(definition);
  if (problem !== undefined) {
    const named = typeof value === 'object' && value !== null;
    throw invalid(named ? value.kind : undefined, named ? refusedName(value) : undefined, `it ${problem}`);
  }
  const kind = definition.kind;
  const key = registryName(definition);
  if (key in Object.prototype) {
    throw invalid(kind, key, 'the SDK keeps entries in a plain object, where this name is taken by Object.prototype');
  }
  const checkSchema = (field: SchemaField) => {
    if (value[field] === undefined) return;
    const schemaProblem = rules.schemaProblem(field, value[field]);
    if (schemaProblem !== undefined) throw invalid(kind, key, `${field} ${schemaProblem}`);
  };
  const fields = (list: readonly string[]) => {
    const config: Record<string, unknown> = {};
    for (const field of list) {
      if (value[field] === undefined) continue;
      const isSchema = field === 'inputSchema' || field === 'outputSchema' || field === 'argsSchema';
      config[field] = isSchema ? rules.normaliseSchema(field, value[field]) : value[field];
    }
    return config;
  };
  const handler = value.handler as Callback;
  const base = { kind, key, listed: '', alwaysVisible: false };

  switch (definition.kind) {
    case 'tool': {
      checkSchema('inputSchema');
      checkSchema('outputSchema');
      const config = fields(['title', 'description', 'inputSchema', 'outputSchema', 'annotations', '_meta']);
      // The SDK calls (args, extra) with an input schema and (extra) without; a definition's
      // handler always gets (args, extra). Closing over this version's handler keeps calls
      // already running on it after a replace.
      const callback: Callback =
        value.inputSchema === undefined ? (extra) => handler({}, extra) : (args, extra) => handler(args, extra);
      return { ...base, register: (server) => server.registerTool(key, config, callback) };
    }
    case 'prompt': {
      checkSchema('argsSchema');
      const config = fields(['title', 'description', 'argsSchema', '_meta']);
      const callback: Callback =
        value.argsSchema === undefined ? (extra) => handler({}, extra) : (args, extra) => handler(args, extra);
      return { ...base, register: (server) => server.registerPrompt(key, config, callback) };
    }
    case 'resource': {
      const config = fields(['title', 'description', 'mimeType', '_meta']);
      const callback: Callback = (uri, extra) => handler(uri, extra);
      // Registered under the normalised URI: the SDK stores the key as given but reads it back by `new URL(uri).href`.
      return { ...base, register: (server) => server.registerResource(definition.name, key, config, callback) };
    }
    case 'resourceTemplate': {
      const { template, list, complete } = definition;
      const listCallback: Callback | undefined = list === undefined ? undefined : (extra) => list(extra);
      try {
        rules.createResourceTemplate(template, listCallback, complete);
      } catch (error) {
        throw invalid(kind, key, `the URI template ${JSON.stringify(template)} cannot be parsed (${messageOf(error)})`);
      }
      const config = fields(['title', 'description', 'mimeType', '_meta']);
      const callback: Callback = (uri, variables, extra) => handler(uri, variables, extra);
      return {
        ...base,
        // What its list callback returns shows up in resources/list, and code cannot be compared.
        alwaysVisible: list !== undefined,
        register: (server) =>
          server.registerResource(
            key,
            rules.createResourceTemplate(template, listCallback, complete),
            config,
            callback,
          ),
      };
    }
  }
}
