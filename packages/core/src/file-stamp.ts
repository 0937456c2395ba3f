import type { Stats } from 'node:fs';

/**
 * How long after its last modification a file's stamp stays "fresh": file
 * times tick coarsely (a few ms on Linux), so a second write of the same size
 * in the same tick leaves mtime, ctime, size and inode as they were. A stamp
 * read this soon after the write is not trusted to prove "nothing changed".
 */
export const FRESH_MS = 100;

/** Suffix of a stamp that never equals another: the file was too fresh to trust. */
const UNTRUSTED = '~';

/**
 * The inequality key of a file: `mtimeMs:ctimeMs:size:ino`. Any write changes
 * ctime, so same-size edits and restored mtimes are seen; an atomic save (a
 * temporary file renamed over) changes the inode. When the file was modified
 * less than {@link FRESH_MS} before `now`, the stamp is marked untrusted and
 * compares unequal to every stamp, including itself recomputed.
 */
export function fileStamp(stats: Pick<Stats, 'mtimeMs' | 'ctimeMs' | 'size' | 'ino'>, now = Date.now()): string {
  const key = `${stats.mtimeMs}:${stats.ctimeMs}:${stats.size}:${stats.ino}`;
  return now - Math.max(stats.mtimeMs, stats.ctimeMs) < FRESH_MS ? `${key}${UNTRUSTED}` : key;
}

/** True when two stamps prove that the file did not change between them. */
export function sameStamp(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && a === b && !a.endsWith(UNTRUSTED);
}

/**
 * True when two stamps carry the same times, size and inode, trusted or not:
 * no write the clock could see happened between them.
 */
export function sameMetadata(a: string, b: string): boolean {
  const strip = (stamp: string) => (stamp.endsWith(UNTRUSTED) ? stamp.slice(0, -UNTRUSTED.length) : stamp);
  return a !== '' && strip(a) === strip(b);
}
