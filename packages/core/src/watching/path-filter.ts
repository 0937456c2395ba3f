import path from 'node:path';
import type Picomatch from 'picomatch';
import { isInside, relativeInside } from '../inside-root.js';
import { lazyRequire } from '../lazy-require.js';
import type { ChangeSourceOptions } from '../ports/change-source.js';

const loadPicomatch = lazyRequire<typeof Picomatch>('picomatch');

/** Folders never reported, whatever the globs say. */
export const ALWAYS_EXCLUDED: readonly string[] = ['**/node_modules/**', '**/.git/**', '**/dist/**'];

/**
 * Which paths under a root a change source reports: the one definition every
 * hotmcp watcher shares, so polling and native watching select the same files.
 *
 * - A file is selected when its path relative to the root matches an `include`
 *   glob (picomatch, `dot: false`: dot-files and dot-folders only when a glob
 *   names them) and no `exclude` glob nor {@link ALWAYS_EXCLUDED}.
 * - Nothing outside the root is ever selected (globs such as `../x/*.ts` are
 *   ignored).
 * - A folder is entered unless an exclude glob matches it (`tools/private/**`
 *   prunes `tools/private`), it is a dot-folder no include glob names, or it
 *   lies outside every include glob's base folder.
 */
export interface PathFilter {
  readonly root: string;
  /** True when the absolute path `file` is a file path this source reports. */
  includes(file: string): boolean;
  /** True when the absolute folder `dir` may hold reported files (the root always may). */
  enters(dir: string): boolean;
  /**
   * The same selection as globs for a directory walker (such as fast-glob), relative
   * to the root: `patterns` reach every folder {@link enters} allows (and more
   * files than {@link includes} selects), `ignore` prunes excluded folders,
   * `dot` says whether dot-folders are walked. A walker's findings are checked
   * with `includes` and `enters` afterwards.
   */
  readonly walk: { readonly patterns: readonly string[]; readonly ignore: readonly string[]; readonly dot: boolean };
}

const toPosix = (relative: string): string => (path.sep === '/' ? relative : relative.split(path.sep).join('/'));

/** Build the {@link PathFilter} of a change source's options. */
export function createPathFilter(options: Pick<ChangeSourceOptions, 'root' | 'include' | 'exclude'>): PathFilter {
  const picomatch = loadPicomatch();
  const root = path.resolve(options.root);
  // Globs that climb out of the root select nothing.
  const include = options.include.filter((glob) => {
    const base = picomatch.scan(glob).base;
    const normal = path.posix.normalize(base === '' ? '.' : base);
    return normal !== '..' && !normal.startsWith('../') && !path.posix.isAbsolute(base);
  });
  const included = include.length > 0 ? picomatch(include, { dot: false }) : () => false;
  const ignore = [...ALWAYS_EXCLUDED, ...options.exclude];
  const excluded = picomatch(ignore, { dot: true });
  // Folders some include glob reaches below: '' means the whole root.
  const bases = include.map((glob) => path.posix.normalize(picomatch.scan(glob).base || '.'));
  const wholeRoot = bases.some((base) => base === '.');
  const namesDots = include.some((glob) => /(^|\/)\.[^./]/.test(glob));

  const patterns = wholeRoot
    ? ['**']
    : [...new Set(bases)].map((base) => `${base.replace(/[()[\]{}*?!+@]/g, '\\$&')}/**`);
  return {
    root,
    walk: { patterns: include.length > 0 ? patterns : [], ignore, dot: namesDots },
    includes(file: string): boolean {
      const relative = relativeInside(root, file);
      return relative !== undefined && included(relative) && !excluded(relative);
    },
    enters(dir: string): boolean {
      if (dir === root) return true;
      if (!isInside(root, dir)) return false;
      const relative = toPosix(path.relative(root, dir));
      if (excluded(relative)) return false;
      if (!namesDots && relative.split('/').some((segment) => segment.startsWith('.'))) return false;
      if (wholeRoot) return true;
      return bases.some(
        (base) => base === relative || base.startsWith(`${relative}/`) || relative.startsWith(`${base}/`),
      );
    },
  };
}
