import { type AnyDefinition, definitionKey, isDefinition } from '../define.js';
import { HotMcpError } from '../errors.js';

const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

function invalid(file: string, message: string, details: Record<string, unknown> = {}): HotMcpError {
  return new HotMcpError('HOTMCP_ERR_INVALID_DEFINITION', `${file}: ${message}`, { file, details });
}

/**
 * The definitions a module exports, checked. Exports that are not definitions
 * (helpers, constants) are ignored; a definition with a bad field, or two
 * with one name, fails the whole module so its last good version stays.
 */
export function extractDefinitions(file: string, exports: Record<string, unknown>): AnyDefinition[] {
  const found: AnyDefinition[] = [];
  const seen = new Map<string, string>();
  for (const [exportName, value] of Object.entries(exports)) {
    if (!isDefinition(value)) continue;
    if (found.includes(value)) continue; // the same object exported twice
    const where = { export: exportName, kind: value.kind };
    if (typeof value.name !== 'string' || !TOOL_NAME.test(value.name)) {
      throw invalid(file, `export '${exportName}' has an invalid name ${JSON.stringify(value.name)}`, where);
    }
    if (typeof value.handler !== 'function') {
      throw invalid(file, `${value.kind} '${value.name}' (export '${exportName}') has no handler function`, where);
    }
    if (value.description !== undefined && typeof value.description !== 'string') {
      throw invalid(file, `${value.kind} '${value.name}' has a description that is not a string`, where);
    }
    const key = definitionKey(value);
    const other = seen.get(key);
    if (other !== undefined) {
      throw new HotMcpError(
        'HOTMCP_ERR_DUPLICATE_NAME',
        `${file}: ${value.kind} '${value.name}' is exported twice (exports '${other}' and '${exportName}')`,
        { file, details: { kind: value.kind, name: value.name } },
      );
    }
    seen.set(key, exportName);
    found.push(value);
  }
  return found;
}
