import { existsSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

/** The folder watched for `entry`: its package's folder, or the entry's own folder when that one is never watched. */
export function projectRootOf(entry: string): string {
  let dir = dirname(entry);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) break;
    const parent = dirname(dir);
    if (parent === dir) return dirname(entry);
    dir = parent;
  }
  const inside = relative(dir, dirname(entry)).split(sep);
  const skipped = inside.findIndex((part) => ['node_modules', 'dist', '.git'].includes(part));
  return skipped === -1 ? dir : join(dir, ...inside.slice(0, skipped + 1));
}
