import path from 'node:path';

/**
 * True when `file` lies strictly inside `root` (both absolute and
 * normalised): the one inside-root check every part of hotmcp uses. A name
 * that merely starts with two dots (`..foo.ts` at the root) is inside; `..`
 * and `../x` are not.
 */
export function isInside(root: string, file: string): boolean {
  const relative = path.relative(root, file);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}
