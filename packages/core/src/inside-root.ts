import path from 'node:path';

/** A `.` or `..` segment, or an empty one (`//`), after a separator: a path path.relative would normalise. */
const DOT_SEGMENT = path.sep === '/' ? /\/(\.\.?)?(\/|$)/ : /[\\/](\.\.?)?([\\/]|$)/;

/**
 * True when `file` lies strictly inside `root` (both absolute and
 * normalised): the one inside-root check every part of hotmcp uses. A name
 * that merely starts with two dots (`..foo.ts` at the root) is inside; `..`
 * and `../x` are not.
 */
export function isInside(root: string, file: string): boolean {
  return relativeInside(root, file) !== undefined;
}

/**
 * The path of `file` relative to `root`, with `/` separators, when `file`
 * lies strictly inside it ({@link isInside}); undefined otherwise.
 */
export function relativeInside(root: string, file: string): string | undefined {
  // The common case without path.relative (it normalises both paths): `root/` then a path with no `.` or `..` segment.
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  const tail = file.length > prefix.length && file.startsWith(prefix) ? file.slice(prefix.length) : undefined;
  const relative = tail !== undefined && !DOT_SEGMENT.test(`${path.sep}${tail}`) ? tail : path.relative(root, file);
  if (relative === '' || relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) {
    return undefined;
  }
  return path.sep === '/' ? relative : relative.split(path.sep).join('/');
}
