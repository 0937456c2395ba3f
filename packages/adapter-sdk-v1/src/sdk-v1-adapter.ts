import { createRequire } from 'node:module';
import type { McpServerLike, SchemaField } from '@hotmcp/adapter-mcp-server';
import { isMcpServerLike, McpServerRegistryAdapter, readPackageVersion } from '@hotmcp/adapter-mcp-server';
import type { DefinitionKind } from '@hotmcp/core';
import { HotMcpError } from '@hotmcp/core';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { PromptSchema, ResourceSchema, ResourceTemplateSchema, ToolSchema } from '@modelcontextprotocol/sdk/types.js';

/**
 * The `@modelcontextprotocol/sdk` versions this adapter supports: 1.23.0 is
 * the first 1.x release that accepts zod v4 schemas as well as zod v3.
 */
export const SDK_V1_RANGE = '^1.23.0';

const SDK_NAME = '@modelcontextprotocol/sdk';
const ADAPTER_NAME = '@hotmcp/adapter-sdk-v1';

/** The version of the SDK copy this adapter imports. */
function sdkVersion(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve(`${SDK_NAME}/server/mcp.js`);
    return readPackageVersion(entry, SDK_NAME);
  } catch {
    return undefined;
  }
}

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

const LISTED_SCHEMAS = {
  tool: ToolSchema,
  prompt: PromptSchema,
  resource: ResourceSchema,
  resourceTemplate: ResourceTemplateSchema,
} as const satisfies Record<DefinitionKind, unknown>;

/** The list handlers SDK 1.x installs lazily, by the capability that turns them on. */
const HANDLER_INSTALLERS = [
  ['tools', '_toolHandlersInitialized', 'setToolRequestHandlers'],
  ['prompts', '_promptHandlersInitialized', 'setPromptRequestHandlers'],
  ['resources', '_resourceHandlersInitialized', 'setResourceRequestHandlers'],
] as const;

/**
 * A `ToolRegistryAdapter` for `McpServer` of `@modelcontextprotocol/sdk` 1.x:
 * tools, prompts, fixed resources and resource templates.
 *
 * `prepare` lists every definition on a private scratch McpServer, so a
 * schema the SDK cannot list is rejected before the live server is touched.
 * Fixed resources are registered under `new URL(uri).href`, the key the SDK
 * reads them back by (the TypeScript counterpart of the original's
 * key-projection shim). `commit` removes and re-registers synchronously with
 * the server's list_changed senders shadowed, then sends one list_changed per
 * list whose listed form changed. See {@link McpServerRegistryAdapter}.
 */
export class SdkV1Adapter extends McpServerRegistryAdapter {
  readonly adapterName = ADAPTER_NAME;
  readonly sdk: { name: string; range: string; version?: string };

  constructor(server: McpServer) {
    const candidate = server as unknown;
    if (
      !isRecord(candidate) ||
      !isRecord(candidate._registeredTools) ||
      typeof candidate.registerTool !== 'function' ||
      typeof candidate.registerPrompt !== 'function' ||
      typeof candidate.registerResource !== 'function' ||
      typeof candidate.isConnected !== 'function' ||
      !isRecord(candidate.server)
    ) {
      throw new HotMcpError(
        'HOTMCP_ERR_ADAPTER_INCOMPATIBLE',
        `${ADAPTER_NAME} needs an McpServer from ${SDK_NAME} ${SDK_V1_RANGE}; the value given has no _registeredTools registry or registerTool method.`,
        { details: { adapter: ADAPTER_NAME, range: SDK_V1_RANGE } },
      );
    }
    super(candidate as unknown as McpServerLike);
    const version = sdkVersion();
    this.sdk = { name: SDK_NAME, range: SDK_V1_RANGE, ...(version !== undefined && { version }) };
    this.#installHandlers();
    this.assertUsable();
  }

  /**
   * SDK 1.x installs the list and call handlers of a kind on its first
   * registration, and cannot after connect(). Install them now for every kind
   * the server advertises, so a tools folder that starts empty still works.
   */
  #installHandlers(): void {
    const server = this.server as unknown as Record<string, unknown>;
    if (this.server.isConnected()) return;
    const inner = this.server.server;
    const capabilities = typeof inner.getCapabilities === 'function' ? inner.getCapabilities() : inner._capabilities;
    for (const [capability, initialized, install] of HANDLER_INSTALLERS) {
      if (capabilities?.[capability] === undefined || server[initialized] !== false) continue;
      try {
        (server[install] as () => void).call(server);
      } catch {
        // A handler the application installed itself: leave it.
      }
    }
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
    list: ((extra: unknown) => unknown) | undefined,
    complete?: Record<string, (...args: any[]) => unknown>,
  ): unknown {
    return new ResourceTemplate(template, { list: list as never, ...(complete && { complete: complete as never }) });
  }

  /** `undefined`, a zod v3 or v4 object schema, or a raw shape of zod schemas. */
  protected schemaProblem(_field: SchemaField, schema: unknown): string | undefined {
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

  /**
   * SDK 1.x takes a prompt's arguments only as a raw shape (`{ topic: z.string() }`);
   * an object schema (`z.object({ topic: z.string() })`, the SDK 2.x form) is
   * passed as its shape, so one prompt module serves both majors.
   */
  protected normaliseSchema(field: SchemaField, schema: unknown): unknown {
    if (field !== 'argsSchema' || !isZodSchema(schema) || !isZodObjectSchema(schema)) return schema;
    const shape = (schema as { shape?: unknown }).shape;
    return isRecord(shape) ? shape : schema;
  }

  /** Check the listed entry the way a client parses it. */
  protected assertListed(kind: DefinitionKind, entry: Record<string, unknown>): void {
    const parsed = LISTED_SCHEMAS[kind].safeParse(entry);
    if (!parsed.success) throw new Error(`the listed ${kind} is not valid MCP: ${parsed.error.message}`);
    JSON.stringify(entry);
  }
}

/** Create the registry adapter for an `McpServer` of `@modelcontextprotocol/sdk` 1.x. */
export function createSdkV1Adapter(server: McpServer): SdkV1Adapter {
  return new SdkV1Adapter(server);
}

/**
 * Whether `server` is an `McpServer` of `@modelcontextprotocol/sdk` 1.x (from
 * any copy of the SDK): the registries both majors share, and the deprecated
 * `tool()` / `prompt()` / `resource()` methods 2.x dropped. `createReloader`
 * asks each installed adapter package this to pick one.
 */
export function matches(server: unknown): boolean {
  return isMcpServerLike(server) && typeof (server as unknown as Record<string, unknown>).tool === 'function';
}

/** {@link createSdkV1Adapter} under the name `createReloader` looks for in an adapter package. */
export function createAdapter(server: unknown): SdkV1Adapter {
  return new SdkV1Adapter(server as McpServer);
}
