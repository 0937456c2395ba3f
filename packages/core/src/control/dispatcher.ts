import { defineTool, type ToolDefinition, type ToolResult } from '../define.js';

/** The name of the dispatcher tool, reserved while it is enabled. */
export const DISPATCHER_TOOL_NAME = 'hotmcp_call';

/** The parts of zod (3.25+ or 4) the dispatcher uses: the application's own copy, imported when it is enabled. */
export interface ZodLike {
  object(shape: Record<string, unknown>): unknown;
  string(): { describe(text: string): unknown };
  record(key: unknown, value: unknown): { optional(): { describe(text: string): unknown } };
  unknown(): unknown;
  /** zod 4's JSON Schema conversion; absent in zod 3. */
  toJSONSchema?(schema: unknown, options?: Record<string, unknown>): unknown;
}

/** What the dispatcher calls: the reloader's current tools. */
export interface DispatchTarget {
  /** The tools the reloader serves now (its own and the modules'), by name. */
  tools(): ReadonlyArray<ToolDefinition<any>>;
}

type Validated = { ok: true; value: unknown } | { ok: false; issues: string };

interface StandardSchema {
  '~standard': {
    validate(value: unknown): unknown;
    jsonSchema?: { input(options: { target: string }): unknown };
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isStandard(value: unknown): value is StandardSchema {
  return (
    (isRecord(value) || typeof value === 'function') &&
    isRecord((value as Record<string, unknown>)['~standard']) &&
    typeof (value as unknown as StandardSchema)['~standard'].validate === 'function'
  );
}

function issuesOf(result: { issues?: ReadonlyArray<{ message: string; path?: ReadonlyArray<unknown> }> }): string {
  return (result.issues ?? [])
    .map((issue) => {
      const path = (issue.path ?? []).map((key) => (isRecord(key) ? String(key.key) : String(key))).join('.');
      return path === '' ? issue.message : `${path}: ${issue.message}`;
    })
    .join('; ');
}

async function validateStandard(schema: StandardSchema, value: unknown): Promise<Validated> {
  const result = (await schema['~standard'].validate(value)) as { value?: unknown; issues?: [] };
  return result.issues ? { ok: false, issues: issuesOf(result) } : { ok: true, value: result.value };
}

/**
 * Check `args` against a tool's input schema the way the SDK would before
 * calling it: a Standard Schema (zod 3.25+, zod 4, Valibot…) or a raw shape
 * of them. Returns the parsed arguments, or the issues.
 */
export async function validateArguments(schema: unknown, args: unknown): Promise<Validated> {
  if (schema === undefined) return { ok: true, value: {} };
  if (isStandard(schema)) return validateStandard(schema, args);
  if (!isRecord(schema)) return { ok: false, issues: 'the tool has an input schema hotmcp cannot read' };
  if (!isRecord(args) || Array.isArray(args)) return { ok: false, issues: 'arguments must be an object' };
  const value: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, field] of Object.entries(schema)) {
    if (!isStandard(field))
      return { ok: false, issues: `the input schema's field ${key} is not a schema hotmcp can read` };
    const result = await validateStandard(field, args[key]);
    if (!result.ok) problems.push(`${key}: ${result.issues}`);
    else if (result.value !== undefined) value[key] = result.value;
  }
  return problems.length > 0 ? { ok: false, issues: problems.join('; ') } : { ok: true, value };
}

/**
 * A tool's input schema as JSON Schema, as clients are shown it: through the
 * schema's own Standard JSON Schema support, else zod 4's `toJSONSchema`
 * (a raw shape wrapped in `z.object`). Undefined when neither can convert it.
 */
export function inputJsonSchema(schema: unknown, zod: ZodLike | undefined): unknown {
  if (schema === undefined) return { type: 'object', properties: {} };
  try {
    if (isStandard(schema) && schema['~standard'].jsonSchema) {
      return schema['~standard'].jsonSchema.input({ target: 'draft-2020-12' });
    }
    if (zod?.toJSONSchema === undefined) return undefined;
    const object = isStandard(schema) ? schema : zod.object(schema as Record<string, unknown>);
    return zod.toJSONSchema(object, { io: 'input', unrepresentable: 'any' });
  } catch {
    return undefined;
  }
}

function failure(text: string): ToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/**
 * The dispatcher tool `hotmcp_call { name, arguments }`, for clients that
 * ignore list_changed (Claude Desktop, Codex CLI, Continue, the Claude Code
 * desktop app): it calls any tool the reloader serves now by name, so a tool
 * added after the client cached its list is usable at once. Arguments are
 * checked against that tool's input schema first; an unknown name or bad
 * arguments give an `isError` result (listing the current tool names).
 *
 * @param zod The application's zod (3.25 or later), for the tool's own input schema.
 */
export function createDispatcherTool(target: DispatchTarget, zod: ZodLike): ToolDefinition<any> {
  const inputSchema = zod.object({
    name: zod.string().describe('The name of the tool to call (see hotmcp_status for the current tools).'),
    arguments: zod
      .record(zod.string(), zod.unknown())
      .optional()
      .describe("The tool's arguments, as its input schema describes them."),
  });
  return defineTool({
    name: DISPATCHER_TOOL_NAME,
    title: 'hotmcp call',
    description:
      'Call any tool this server offers now by name, including tools added after your tool list was fetched. hotmcp_status lists the current tools with their input schemas.',
    inputSchema,
    annotations: { openWorldHint: true },
    handler: async (input: unknown, extra: unknown) => {
      const { name, arguments: args = {} } = input as { name: string; arguments?: Record<string, unknown> };
      const tools = target.tools().filter((tool) => tool.name !== DISPATCHER_TOOL_NAME);
      const tool = tools.find((candidate) => candidate.name === name);
      if (tool === undefined) {
        const names = tools.map((candidate) => candidate.name).sort();
        return failure(`No tool named ${JSON.stringify(name)}. Current tools: ${names.join(', ') || '(none)'}.`);
      }
      const validated = await validateArguments(tool.inputSchema, args);
      if (!validated.ok) return failure(`Invalid arguments for tool ${name}: ${validated.issues}`);
      return tool.handler(validated.value as never, extra);
    },
  });
}
