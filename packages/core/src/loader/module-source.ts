/**
 * What every loader checks before it evaluates a file inside the root: that
 * the file really is inside the root once symlinks are resolved, and that it
 * holds UTF-8 text worth evaluating (not an empty save, not binary bytes).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { HotMcpError } from '../errors.js';
import { isInside } from '../inside-root.js';

/** The error for a file, or an import, that resolves outside the root. */
export function outsideRoot(
  file: string,
  resolved: string,
  root: string,
  options: { specifier?: string; importer?: string; line?: number } = {},
): HotMcpError {
  const { specifier, importer, line } = options;
  const what =
    specifier === undefined
      ? `${file} resolves to ${resolved}`
      : `import '${specifier}' in ${importer}${line === undefined ? '' : `:${line}`} resolves to ${resolved}`;
  return new HotMcpError(
    'HOTMCP_ERR_OUTSIDE_ROOT',
    `${what}, outside the watched root ${root}; only files inside the root are loaded (import packages by name)`,
    {
      file: importer ?? file,
      ...(line !== undefined && { line }),
      details: { resolved, ...(specifier !== undefined && { specifier }) },
    },
  );
}

/** Throws HOTMCP_ERR_OUTSIDE_ROOT when `file`, symlinks resolved, is not inside `root`. Missing files pass. */
export function assertInsideRoot(file: string, root: string): void {
  let real: string;
  try {
    // The native call: the JavaScript realpathSync lstat()s each folder of the path in turn (~30 µs a file,
    // 6 ms of a start with 200 tool modules).
    real = realpathSync.native(file);
  } catch {
    return; // gone, or a link loop: reading it fails with its own error
  }
  if (!isInside(root, real)) throw outsideRoot(file, real, root);
}

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Offset where the first invalid UTF-8 sequence starts (the decoder reports only that there is one). */
function firstInvalidByte(bytes: Uint8Array): number {
  // The longest prefix that decodes (a character cut at its end is not an error yet).
  let good = 0;
  let bad = bytes.length;
  while (bad - good > 1) {
    const middle = Math.floor((good + bad) / 2);
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, middle), { stream: true });
      good = middle;
    } catch {
      bad = middle;
    }
  }
  // The byte that broke it; when it cut a character short, that character's lead byte.
  let offset = bad - 1;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, offset));
  } catch {
    while (offset > 0 && ((bytes[offset - 1] as number) & 0xc0) === 0x80) offset--;
    offset--;
  }
  return offset;
}

function lineAt(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

/**
 * Read a module's text. Rejects, with the file (and line) and never with its
 * contents: a file outside the root (`HOTMCP_ERR_OUTSIDE_ROOT`), an empty or
 * blank file (`HOTMCP_ERR_EMPTY_MODULE`: most often a save caught half-way;
 * delete the file to remove its tools), bytes that are not UTF-8
 * (`HOTMCP_ERR_INVALID_ENCODING`: binary data, or text saved in another
 * encoding, which would reach clients with its characters replaced).
 */
export function readModuleSource(file: string, root: string): string {
  assertInsideRoot(file, root);
  const bytes = readFileSync(file);
  let text: string;
  try {
    text = strict.decode(bytes);
  } catch {
    const offset = firstInvalidByte(bytes);
    const line = lineAt(bytes, offset);
    throw new HotMcpError(
      'HOTMCP_ERR_INVALID_ENCODING',
      `${file}:${line} is not UTF-8 text (byte 0x${(bytes[offset] ?? 0).toString(16).padStart(2, '0')} at offset ${offset}); save it as UTF-8`,
      { file, line, details: { offset } },
    );
  }
  if (text.trim() === '') {
    throw new HotMcpError(
      'HOTMCP_ERR_EMPTY_MODULE',
      `${file} is empty (a save caught half-way?); its last good version stays. Delete the file to remove its tools`,
      { file },
    );
  }
  return text;
}
