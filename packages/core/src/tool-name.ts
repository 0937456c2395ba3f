/**
 * What a tool's name may be, as the MCP specification recommends (SEP-986):
 * 1 to 128 characters of A-Z, a-z, 0-9, `_`, `-` and `.`. The one definition
 * the engine's validation and every adapter use.
 */
export const TOOL_NAME_PATTERN: RegExp = /^[A-Za-z0-9_.-]{1,128}$/;

/** {@link TOOL_NAME_PATTERN} in words, for error messages. */
export const TOOL_NAME_RULE = '1 to 128 characters of A-Z, a-z, 0-9, "_", "-" or "."';

/** True when `name` is a valid tool name ({@link TOOL_NAME_PATTERN}). */
export function isToolName(name: unknown): name is string {
  return typeof name === 'string' && TOOL_NAME_PATTERN.test(name);
}
