import { type DefinitionKind, keyOf } from '../define.js';
import { clip, describeThrown, HotMcpError, isHotMcpError } from '../errors.js';

/** The registry key of the definition an adapter refused, when its error names one. */
export function rejectedKey(error: unknown): string | undefined {
  if (!isHotMcpError(error)) return undefined;
  const kind = error.details?.kind;
  const name = error.details?.name;
  return typeof kind === 'string' && typeof name === 'string'
    ? keyOf({ kind: kind as DefinitionKind, name })
    : undefined;
}

/** What loading `file` failed with, as a coded error. */
export function toHotMcpError(error: unknown, file: string): HotMcpError {
  if (isHotMcpError(error)) return error;
  return new HotMcpError('HOTMCP_ERR_LOAD_FAILED', `${file}: ${describe(error)}`, { file, cause: error });
}

/** What a commit failed with, as a coded error. */
export function asHotMcpError(error: unknown): HotMcpError {
  return isHotMcpError(error) ? error : new HotMcpError('HOTMCP_ERR_COMMIT_FAILED', describe(error), { cause: error });
}

/** An error's message for another error's: clipped, so a huge thrown message never fills the audit log. */
export function describe(error: unknown): string {
  return clip(describeThrown(error));
}
