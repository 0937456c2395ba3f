import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { locate, toPath } from '../error-location.js';
import { asError, clip, HotMcpError, type HotMcpErrorCode, isHotMcpError } from '../errors.js';
import { OUTSIDE_ROOT_CODE } from './esm-hooks.js';

/** Node names the importer but not the line of a missing import: find the line in the importer's source. */
function locateMissingImport(error: unknown): { file: string; line: number; column?: number } | undefined {
  const match = /Cannot (?:find (?:module|package)|import) '([^']+)' imported from (\S+)/.exec(
    error instanceof Error ? error.message : '',
  );
  if (!match) return undefined;
  const [, missing, importer] = match as unknown as [string, string, string];
  const file = toPath(importer);
  try {
    const source = readFileSync(file, 'utf8').split('\n');
    const wanted = basename(missing).replace(/\.[^.]+$/, '');
    const index = source.findIndex((line) => /\bimport\b|\bfrom\b/.test(line) && line.includes(wanted));
    return index === -1 ? undefined : { file, line: index + 1 };
  } catch {
    return undefined;
  }
}

function classify(error: unknown): HotMcpErrorCode {
  const code = (error as { code?: unknown } | null)?.code;
  const text = error instanceof Error ? error.message : '';
  if (code === OUTSIDE_ROOT_CODE || / outside the watched root\)$/.test(text)) return 'HOTMCP_ERR_OUTSIDE_ROOT';
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_UNSUPPORTED_DIR_IMPORT') return 'HOTMCP_ERR_MODULE_NOT_FOUND';
  const name = (error as { name?: unknown } | null)?.name;
  const message = error instanceof Error ? error.message : '';
  if (name === 'SyntaxError' || name === 'TransformError' || /Transform failed|ERROR:/.test(message)) {
    return 'HOTMCP_ERR_SYNTAX';
  }
  return 'HOTMCP_ERR_IMPORT_THREW';
}

/** Turn whatever importing `file` threw into a coded error naming the file and line. */
export function toLoadError(thrown: unknown, file: string, root: string): HotMcpError {
  if (isHotMcpError(thrown)) return thrown;
  // Whatever was thrown (a string, an object with no prototype, a Proxy) is read as an Error from here on.
  const error = asError(thrown);
  const code = classify(error);
  const where = locate(error, root) ?? locateMissingImport(error);
  const lines = error instanceof Error ? error.message.split('\n').filter((line) => line.trim()) : [String(error)];
  // esbuild puts the useful line ("file:2:19: ERROR: Unexpected ...") after a summary.
  const reason = (lines.find((line) => line.includes('ERROR:')) ?? lines[0] ?? 'unknown error').replace(
    /^.*ERROR:\s*/,
    '',
  );
  const at = where ? ` (${where.file}:${where.line})` : '';
  return new HotMcpError(code, `Failed to load ${file}${at}: ${clip(reason)}`, {
    file: where?.file ?? file,
    ...(where && { line: where.line }),
    ...(where?.column !== undefined && { column: where.column }),
    cause: error,
    details: { module: file },
  });
}
