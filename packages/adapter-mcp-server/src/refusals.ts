import { type DefinitionKind, HotMcpError } from '@hotmcp/core';
import { KINDS } from './mcp-server-shape.js';

/** `Tool "echo"`, `Resource template "users"`...: how a refusal names an entry. */
export function entryLabel(kind: unknown, name: unknown): string {
  if (typeof name !== 'string' || name === '') return 'A definition';
  const label =
    typeof kind === 'string' && Object.hasOwn(KINDS, kind) ? KINDS[kind as DefinitionKind].label : 'Definition';
  return `${label} "${name}"`;
}

/** `HOTMCP_ERR_INVALID_DEFINITION` for one definition, with `kind` and `name` in its details. */
export function invalid(kind: unknown, name: unknown, problem: string): HotMcpError {
  return new HotMcpError(
    'HOTMCP_ERR_INVALID_DEFINITION',
    `${entryLabel(kind, name)} cannot be registered: ${problem}.`,
    {
      details: { kind, name },
    },
  );
}
