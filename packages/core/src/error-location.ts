import { fileURLToPath, pathToFileURL } from 'node:url';
import { asError } from './errors.js';
import { isInside } from './inside-root.js';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `file:line[:column]` in root, as a path (which may hold spaces) or a `file:` URL. */
function locationPattern(root: string): RegExp {
  const url = escapeRegExp(pathToFileURL(root).href);
  return new RegExp(`(${url}[^\\s:)'"]*|${escapeRegExp(root)}[^:)'"\\n]*?):(\\d+)(?::(\\d+))?`, 'g');
}

/** A path or file URL from a stack trace, without its query (a module version). */
export function toPath(raw: string): string {
  const bare = raw.split('?')[0] as string;
  return bare.startsWith('file:') ? fileURLToPath(bare) : bare;
}

/** The first place in `root` (a folder, or one file) that an error's message or stack points at. */
export function locate(error: unknown, root: string): { file: string; line: number; column?: number } | undefined {
  const known = asError(error);
  let text = known.message;
  try {
    text = `${known.message}\n${known.stack ?? ''}`;
  } catch {
    // a `stack` getter that throws: the message alone
  }
  for (const match of text.matchAll(locationPattern(root))) {
    const file = toPath(match[1] as string);
    if (file !== root && !isInside(root, file)) continue;
    const column = match[3] === undefined ? undefined : Number(match[3]);
    return { file, line: Number(match[2]), ...(column !== undefined && { column }) };
  }
  return undefined;
}
