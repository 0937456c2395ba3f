import { type AnyDefinition, definitionStack, isDefinition, keyOf, normaliseUri, registryName } from '../define.js';
import { locate } from '../error-location.js';
import { clip, HotMcpError } from '../errors.js';
import { isToolName, TOOL_NAME_PATTERN } from '../tool-name.js';

function invalid(
  file: string,
  message: string,
  details: Record<string, unknown> = {},
  line: number | undefined = undefined,
): HotMcpError {
  return new HotMcpError('HOTMCP_ERR_INVALID_DEFINITION', `${file}: ${message}`, {
    file,
    details,
    ...(line !== undefined && { line }),
  });
}

/** The line of `file` that made `definition` (its `defineTool()` call), when its stack passes through `file`. */
export function definitionLine(definition: unknown, file: string): number | undefined {
  const stack = definitionStack(definition);
  if (stack === undefined) return undefined;
  const where = locate(stack, file);
  return where?.file === file ? where.line : undefined;
}

/** `error` with the line of `file` that made `definition`, when it has none yet and that line is known. */
export function withDefinitionLine(error: HotMcpError, definition: unknown, file: string): HotMcpError {
  if (error.line !== undefined || (error.file !== undefined && error.file !== file)) return error;
  const line = definitionLine(definition, file);
  if (line === undefined) return error;
  return new HotMcpError(error.code, error.message, {
    file,
    line,
    ...(error.details !== undefined && { details: error.details }),
    ...(error.cause !== undefined && { cause: error.cause }),
  });
}

const KINDS: readonly string[] = ['tool', 'prompt', 'resource', 'resourceTemplate'];

function isPlainRecord(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Why a definition cannot be registered, as a phrase that follows its label
 * ("has no name", "has an invalid tool name ..."), or undefined when its
 * fields are usable. The one check of a definition's own fields: the engine
 * runs it on every module's exports, and registry adapters on every
 * definition they are handed (which need not come through the engine).
 */
export function definitionProblem(definition: unknown): string | undefined {
  if (typeof definition !== 'object' || definition === null) return 'is not an object';
  const value = definition as Record<string, unknown>;
  const { kind, name } = value;
  if (typeof kind !== 'string' || !KINDS.includes(kind)) {
    return `has the kind ${clip(String(JSON.stringify(kind)), 100)}, not one of ${KINDS.join(', ')}`;
  }
  if (typeof name !== 'string' || name.trim() === '') return `has no name`;
  if (kind === 'tool' && !isToolName(name)) return `has an invalid tool name (allowed: ${TOOL_NAME_PATTERN.source})`;
  if (typeof value.handler !== 'function') return 'has no handler function';
  for (const field of ['title', 'description', 'mimeType'] as const) {
    if (value[field] !== undefined && typeof value[field] !== 'string') return `has a ${field} that is not a string`;
  }
  for (const field of ['annotations', '_meta'] as const) {
    if (value[field] !== undefined && !isPlainRecord(value[field])) return `has ${field} that is not a plain object`;
  }
  if (kind === 'resource') {
    if (typeof value.uri !== 'string') return 'has no uri';
    try {
      normaliseUri(value.uri);
    } catch {
      return `has a uri that is not a valid URL: ${clip(JSON.stringify(value.uri), 200)}`;
    }
  }
  if (kind === 'resourceTemplate') {
    if (typeof value.template !== 'string' || value.template === '') return 'has no URI template';
    if (value.list !== undefined && typeof value.list !== 'function') return 'has a list that is not a function';
  }
  return undefined;
}

/** A plain object with a name and a handler: a definition someone forgot to wrap. */
function looksLikeDefinition(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  const { name, handler } = value as { name?: unknown; handler?: unknown };
  return typeof name === 'string' && typeof handler === 'function';
}

/**
 * The definitions a module exports, checked. Exports that are not definitions
 * (helpers, constants) are ignored, except a plain object with a name and a
 * handler, which is refused as a definition made without `defineTool()`
 * (or its siblings); a definition with a bad field, or two
 * with one name, fails the whole module so its last good version stays.
 */
export function extractDefinitions(file: string, exports: Record<string, unknown>): AnyDefinition[] {
  const found: AnyDefinition[] = [];
  const seen = new Map<string, string>();
  for (const [exportName, value] of Object.entries(exports)) {
    if (!isDefinition(value)) {
      if (looksLikeDefinition(value)) {
        throw invalid(
          file,
          `export '${exportName}' looks like a definition (a name and a handler) but was not made by defineTool(), definePrompt() or defineResource(), so it would be ignored; wrap it in one of them`,
          { export: exportName },
        );
      }
      continue;
    }
    if (found.includes(value)) continue; // the same object exported twice
    const label = `${value.kind} ${clip(String(JSON.stringify((value as { name?: unknown }).name)), 100)} (export '${exportName}')`;
    const reason = definitionProblem(value);
    if (reason !== undefined) {
      throw invalid(
        file,
        `${label} ${reason}`,
        { export: exportName, kind: value.kind, name: value.name },
        definitionLine(value, file),
      );
    }
    const key = keyOf(value);
    const other = seen.get(key);
    if (other !== undefined) {
      const line = definitionLine(value, file);
      throw new HotMcpError(
        'HOTMCP_ERR_DUPLICATE_NAME',
        `${file}: ${value.kind} '${registryName(value)}' is exported twice (exports '${other}' and '${exportName}')`,
        { file, ...(line !== undefined && { line }), details: { kind: value.kind, name: registryName(value) } },
      );
    }
    seen.set(key, exportName);
    found.push(value);
  }
  return found;
}
