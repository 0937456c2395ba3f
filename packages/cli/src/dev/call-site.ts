import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const FRAME = /(?:\(|at )((?:file:\/\/)?\/[^\s():]+?)(?:\?[^\s():]*)?:(\d+):(\d+)\)?$/;

/**
 * The first frame of `stack` in a file of the project (under `root`, outside
 * node_modules): where user code made the call.
 */
export function callSite(stack: string | undefined, root: string): { file?: string; line?: number } {
  const prefix = root.endsWith(sep) ? root : root + sep;
  for (const text of (stack ?? '').split('\n')) {
    const match = FRAME.exec(text.trim());
    if (!match) continue;
    const file = match[1]?.startsWith('file:') ? fileURLToPath(match[1]) : (match[1] as string);
    if (!file.startsWith(prefix) || file.includes(`${sep}node_modules${sep}`)) continue;
    return { file, line: Number(match[2]) };
  }
  return {};
}
