/**
 * A ToolRegistryAdapter written from scratch for a server that is not an
 * McpServer: the low-level `Server` with its own table of tools (see
 * tool-table-server.ts). It follows the port's contract, and proves it by
 * passing the shared conformance suite of `@hotmcp/core/testing`.
 */
import { createRequire } from 'node:module';
import { readPackageVersion, stableJson } from '@hotmcp/adapter-mcp-server';
import {
  type AnyDefinition,
  type CommitResult,
  HotMcpError,
  isToolName,
  type PreparedChange,
  type RegistryChange,
  type RegistrySnapshot,
  TOOL_NAME_RULE,
  type ToolRegistryAdapter,
} from '@hotmcp/core';
import { z } from 'zod';
import type { TableTool, ToolTableServer } from './tool-table-server.js';

interface StandardJsonSchema {
  '~standard': {
    validate(value: unknown): { value?: unknown; issues?: ReadonlyArray<{ message: string }> } | Promise<unknown>;
    jsonSchema?: { input(options: { target: string }): Record<string, unknown> };
  };
}

/** What commit applies for one prepared change. */
interface Plan {
  removals: string[];
  upserts: Array<{ row: TableTool; listed: string }>;
}

function refuse(name: unknown, problem: string, kind: unknown = 'tool'): HotMcpError {
  return new HotMcpError('HOTMCP_ERR_INVALID_DEFINITION', `Tool "${String(name)}" cannot be registered: ${problem}.`, {
    details: { kind, name },
  });
}

/** A raw shape (`{ text: z.string() }`) becomes `z.object(shape)`; a Standard Schema stays as it is. */
function toSchema(name: string, schema: unknown): StandardJsonSchema | undefined {
  if (schema === undefined) return undefined;
  if (typeof schema === 'object' && schema !== null && '~standard' in schema) return schema as StandardJsonSchema;
  if (typeof schema === 'object' && schema !== null && Object.values(schema).every((v) => v && '_zod' in v)) {
    return z.object(schema as z.ZodRawShape) as unknown as StandardJsonSchema;
  }
  throw refuse(name, 'inputSchema must be a Standard Schema such as z.object({...}) or a raw shape of zod 4 schemas');
}

function sdkVersion(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve('@modelcontextprotocol/sdk/server/index.js');
    return readPackageVersion(entry, '@modelcontextprotocol/sdk');
  } catch {
    return undefined;
  }
}

export class ToolTableAdapter implements ToolRegistryAdapter {
  readonly contractVersion = 1 as const;
  readonly adapterName = 'example-tool-table-adapter';
  readonly sdk: { name: string; range: string; version?: string };

  readonly #table: ToolTableServer;
  /** Rows this adapter wrote; any other row in the table is the application's own. */
  readonly #owned = new WeakSet<TableTool>();
  /** What each of our rows looks like in tools/list, to tell a visible change from a new handler body. */
  readonly #listed = new WeakMap<TableTool, string>();
  readonly #plans = new WeakMap<PreparedChange, Plan>();

  constructor(table: ToolTableServer) {
    this.#table = table;
    const version = sdkVersion();
    this.sdk = { name: '@modelcontextprotocol/sdk', range: '^1.23.0', ...(version !== undefined && { version }) };
  }

  list(): RegistrySnapshot {
    return { tools: [...this.#table.tools.keys()], prompts: [], resources: [], resourceTemplates: [] };
  }

  /** Check and convert everything; touches nothing. Throws for the first definition it cannot take. */
  async prepare(change: RegistryChange): Promise<PreparedChange> {
    const removals: string[] = [];
    for (const ref of change.remove) {
      if (ref.kind !== 'tool') throw refuse(ref.name, 'this server has tools only', ref.kind);
      this.#assertOurs(ref.name);
      removals.push(ref.name);
    }
    const upserts: Plan['upserts'] = [];
    const seen = new Set<string>();
    for (const definition of change.upsert) {
      const row = this.#toRow(definition);
      if (seen.has(row.name)) {
        throw new HotMcpError('HOTMCP_ERR_DUPLICATE_NAME', `Tool "${row.name}" appears twice in one change.`, {
          details: { kind: 'tool', name: row.name },
        });
      }
      seen.add(row.name);
      this.#assertOurs(row.name);
      const { name, title, description, annotations, inputSchema } = row;
      upserts.push({ row, listed: stableJson({ name, title, description, annotations, inputSchema }) });
    }
    const prepared: PreparedChange = { change };
    this.#plans.set(prepared, { removals, upserts });
    return prepared;
  }

  /** Apply in one synchronous step; restore the table and throw on any error; notify once if anything listed changed. */
  commit(prepared: PreparedChange): CommitResult {
    const plan = this.#plans.get(prepared);
    if (plan === undefined) throw new HotMcpError('HOTMCP_ERR_COMMIT_FAILED', 'not a change from this prepare()');
    const tools = this.#table.tools;
    const before = [...tools.entries()];
    let visible = false;
    try {
      for (const name of plan.removals) {
        if (!tools.has(name)) continue;
        this.#assertOurs(name);
        tools.delete(name);
        visible = true;
      }
      for (const { row, listed } of plan.upserts) {
        const existing = tools.get(row.name);
        this.#assertOurs(row.name);
        tools.set(row.name, row); // a replace keeps its place in the list
        this.#owned.add(row);
        this.#listed.set(row, listed);
        if (existing === undefined || this.#listed.get(existing) !== listed) visible = true;
      }
    } catch (error) {
      tools.clear();
      for (const [name, row] of before) tools.set(name, row);
      throw new HotMcpError('HOTMCP_ERR_COMMIT_FAILED', `the tool table was restored: ${String(error)}`, {
        cause: error,
      });
    }
    this.#plans.delete(prepared);
    if (!visible) return { notified: [] };
    const { server } = this.#table;
    if (server.transport !== undefined) {
      server.sendToolListChanged().catch((error: unknown) => server.onerror?.(error as Error));
    }
    return { notified: ['tool'] };
  }

  #assertOurs(name: string): void {
    const row = this.#table.tools.get(name);
    if (row !== undefined && !this.#owned.has(row)) {
      throw new HotMcpError(
        'HOTMCP_ERR_NAME_CONFLICT',
        `Tool "${name}" belongs to the application; it is left as it is.`,
        {
          details: { kind: 'tool', name },
        },
      );
    }
  }

  #toRow(definition: AnyDefinition): TableTool {
    const { kind, name } = definition;
    if (kind !== 'tool') throw refuse(name, 'this server has tools only', kind);
    if (!isToolName(name)) {
      throw refuse(name, `the name must be ${TOOL_NAME_RULE}`);
    }
    if (typeof definition.handler !== 'function') throw refuse(name, 'handler must be a function');
    const schema = toSchema(name, definition.inputSchema);
    let inputSchema: TableTool['inputSchema'] = { type: 'object', properties: {} };
    if (schema !== undefined) {
      const convert = schema['~standard'].jsonSchema?.input;
      if (convert === undefined) throw refuse(name, 'its schema library cannot produce JSON Schema');
      try {
        inputSchema = convert({ target: 'draft-2020-12' }) as TableTool['inputSchema'];
      } catch (error) {
        throw refuse(name, `its input schema cannot be converted to JSON Schema (${(error as Error).message})`);
      }
      if (inputSchema.type !== 'object') throw refuse(name, 'its input schema must describe an object');
    }
    const handler = definition.handler;
    return {
      name,
      ...(definition.title !== undefined && { title: definition.title }),
      ...(definition.description !== undefined && { description: definition.description }),
      ...(definition.annotations !== undefined && { annotations: definition.annotations }),
      inputSchema,
      async parse(args) {
        if (schema === undefined) return { ok: true, value: {} };
        const result = (await schema['~standard'].validate(args)) as {
          value?: unknown;
          issues?: ReadonlyArray<{ message: string }>;
        };
        return result.issues
          ? { ok: false, error: result.issues.map((i) => i.message).join('; ') }
          : { ok: true, value: result.value };
      },
      // This version's handler, closed over: a call that started on it finishes on it.
      run: (args, extra) => handler(args, extra) as ReturnType<TableTool['run']>,
    };
  }
}

/** The adapter for a tool-table server. */
export function createToolTableAdapter(table: ToolTableServer): ToolTableAdapter {
  return new ToolTableAdapter(table);
}
