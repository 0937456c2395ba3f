import { fileURLToPath } from 'node:url';
import { isInside } from './inside-root.js';

const LOCATION = /(file:\/\/[^\s)'"]+?|\/[^\s:)'"]+?):(\d+)(?::(\d+))?/g;

/** A path or file URL from a stack trace, without its query (a module version). */
export function toPath(raw: string): string {
  const bare = raw.split('?')[0] as string;
  return bare.startsWith('file:') ? fileURLToPath(bare) : bare;
}

/** The first place in `root` (a folder, or one file) that an error's message or stack points at. */
export function locate(error: unknown, root: string): { file: string; line: number; column?: number } | undefined {
  const text = error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error);
  for (const match of text.matchAll(LOCATION)) {
    const file = toPath(match[1] as string);
    if (file !== root && !isInside(root, file)) continue;
    const column = match[3] === undefined ? undefined : Number(match[3]);
    return { file, line: Number(match[2]), ...(column !== undefined && { column }) };
  }
  return undefined;
}
