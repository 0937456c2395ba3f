import { createRequire } from 'node:module';
import type { McpServerLike, SchemaField } from '@hotmcp/adapter-mcp-server';
import { isMcpServerLike, McpServerRegistryAdapter, readPackageVersion } from '@hotmcp/adapter-mcp-server';
import type { DefinitionKind } from '@hotmcp/core';
import { HotMcpError } from '@hotmcp/core';
import { McpServer, ResourceTemplate, specTypeSchemas } from '@modelcontextprotocol/server';

/** The `@modelcontextprotocol/server` versions this adapter supports. */
export const SDK_V2_RANGE = '^2.0.0';

const SDK_NAME = '@modelcontextprotocol/server';
const ADAPTER_NAME = '@hotmcp/adapter-sdk-v2';

/** The version of the SDK copy this adapter imports. */
function sdkVersion(): string | undefined {
  try {
    return readPackageVersion(createRequire(import.meta.url).resolve(SDK_NAME), SDK_NAME);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** A Standard Schema value (`~standard.validate`): zod 4, Valibot, ArkType, ... */
function isStandardSchema(value: unknown): value is { '~standard': Record<string, unknown> } {
  if (!isRecord(value) && typeof value !== 'function') return false;
  const standard = (value as Record<string, unknown>)['~standard'];
  return isRecord(standard) && typeof standard.validate === 'function';
}

/** A zod 3 schema: `_def` without zod 4's `_zod`. */
function isZod3(value: unknown): boolean {
  return isRecord(value) && '_def' in value && !('_zod' in value);
}

const ZOD3 =
  'is a zod 3 schema; @modelcontextprotocol/server 2.x converts only zod >= 4.2 (or another Standard Schema with JSON Schema support)';

const LISTED_TYPES = {
  tool: 'Tool',
  prompt: 'Prompt',
  resource: 'Resource',
  resourceTemplate: 'ResourceTemplate',
} as const satisfies Record<DefinitionKind, string>;

/**
 * A `ToolRegistryAdapter` for `McpServer` of `@modelcontextprotocol/server`
 * 2.x: tools, prompts, fixed resources and resource templates.
 *
 * SDK 2.x converts schemas to JSON Schema lazily, on every `tools/list`, so
 * one schema it cannot convert (zod 3, `z.date()`, a library without
 * `~standard.jsonSchema`) breaks the list for every client. `prepare` lists
 * each definition on a private scratch McpServer first, through the SDK's
 * own handler, and refuses that definition with
 * `HOTMCP_ERR_INVALID_DEFINITION` instead. Fixed resources are registered
 * under `new URL(uri).href`, the key the SDK reads them back by (the
 * TypeScript counterpart of the original's key-projection shim). `commit`
 * removes and re-registers synchronously with the server's list_changed
 * senders shadowed, then sends one list_changed per list whose listed form
 * changed; on the 2026-07-28 protocol `serveStdio` routes it to the clients
 * that subscribed with `subscriptions/listen`. See {@link McpServerRegistryAdapter}.
 */
export class SdkV2Adapter extends McpServerRegistryAdapter {
  readonly adapterName = ADAPTER_NAME;
  readonly sdk: { name: string; range: string; version?: string };

  constructor(server: McpServer) {
    const candidate = server as unknown;
    if (
      !isRecord(candidate) ||
      !isRecord(candidate._registeredTools) ||
      !isRecord(candidate._registeredPrompts) ||
      !isRecord(candidate._registeredResources) ||
      !isRecord(candidate._registeredResourceTemplates) ||
      typeof candidate.registerTool !== 'function' ||
      typeof candidate.isConnected !== 'function' ||
      !isRecord(candidate.server)
    ) {
      throw new HotMcpError(
        'HOTMCP_ERR_ADAPTER_INCOMPATIBLE',
        `${ADAPTER_NAME} needs an McpServer from ${SDK_NAME} ${SDK_V2_RANGE}; the value given has no _registeredTools registry or registerTool method.`,
        { details: { adapter: ADAPTER_NAME, range: SDK_V2_RANGE } },
      );
    }
    super(candidate as unknown as McpServerLike);
    const version = sdkVersion();
    this.sdk = { name: SDK_NAME, range: SDK_V2_RANGE, ...(version !== undefined && { version }) };
    this.assertUsable();
  }

  protected createScratchServer(): McpServerLike {
    return new McpServer(
      { name: 'hotmcp-prepare', version: '0' },
      {
        capabilities: {
          tools: { listChanged: true },
          prompts: { listChanged: true },
          resources: { listChanged: true },
        },
      },
    ) as unknown as McpServerLike;
  }

  protected createResourceTemplate(
    template: string,
    list: ((ctx: unknown) => unknown) | undefined,
    complete?: Record<string, (...args: any[]) => unknown>,
  ): unknown {
    return new ResourceTemplate(template, { list: list as never, ...(complete && { complete: complete as never }) });
  }

  /**
   * A Standard Schema (zod >= 4.2 `z.object(...)`, ...) or a raw shape of zod 4
   * schemas, which the SDK wraps in `z.object()`. Whether it converts to JSON
   * Schema is checked by listing it.
   */
  protected schemaProblem(_field: SchemaField, schema: unknown): string | undefined {
    if (isStandardSchema(schema)) return isZod3(schema) ? ZOD3 : undefined;
    if (!isRecord(schema) || Array.isArray(schema)) {
      return 'must be a Standard Schema such as z.object({...}), or a raw shape of zod 4 schemas';
    }
    const zod3 = Object.entries(schema)
      .filter(([, value]) => isZod3(value))
      .map(([key]) => key);
    if (zod3.length > 0) return `${ZOD3}: ${zod3.join(', ')}`;
    const notZod = Object.entries(schema)
      .filter(([, value]) => !(isRecord(value) && '_zod' in value))
      .map(([key]) => key);
    return notZod.length === 0
      ? undefined
      : `must be a Standard Schema such as z.object({...}), or a raw shape of zod 4 schemas; not a zod 4 schema: ${notZod.join(', ')}`;
  }

  /** Check the listed entry against the SDK's own spec schema, the way a client parses it. */
  protected assertListed(kind: DefinitionKind, entry: Record<string, unknown>): void {
    const schema = (specTypeSchemas as Record<string, { '~standard': { validate(value: unknown): unknown } }>)[
      LISTED_TYPES[kind]
    ];
    const result = schema?.['~standard'].validate(entry) as { issues?: Array<{ message: string; path?: unknown[] }> };
    if (result?.issues && result.issues.length > 0) {
      const issues = result.issues.map((issue) => `${(issue.path ?? []).join('.')}: ${issue.message}`).join('; ');
      throw new Error(`the listed ${kind} is not valid MCP: ${issues}`);
    }
    JSON.stringify(entry);
  }
}

/** Create the registry adapter for an `McpServer` of `@modelcontextprotocol/server` 2.x. */
export function createSdkV2Adapter(server: McpServer): SdkV2Adapter {
  return new SdkV2Adapter(server);
}

/**
 * Whether `server` is an `McpServer` of `@modelcontextprotocol/server` 2.x
 * (from any copy of the SDK): the registries both majors share, none of 1.x's
 * deprecated `tool()` / `prompt()` / `resource()`, and a low-level `Server`
 * that negotiates protocol eras. `createReloader` asks each installed adapter
 * package this to pick one.
 */
export function matches(server: unknown): boolean {
  if (!isMcpServerLike(server)) return false;
  const inner = server.server as unknown as Record<string, unknown>;
  return (
    typeof (server as unknown as Record<string, unknown>).tool !== 'function' &&
    typeof inner.getNegotiatedProtocolVersion === 'function'
  );
}

/** {@link createSdkV2Adapter} under the name `createReloader` looks for in an adapter package. */
export function createAdapter(server: unknown): SdkV2Adapter {
  return new SdkV2Adapter(server as McpServer);
}
