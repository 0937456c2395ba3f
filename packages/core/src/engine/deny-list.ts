import type Picomatch from 'picomatch';
import { relativeInside } from '../inside-root.js';
import { lazyRequire } from '../lazy-require.js';

const loadPicomatch = lazyRequire<typeof Picomatch>('picomatch');

/** Files the engine never loads: the server's entry module, the reloader itself, user globs. */
export class DenyList {
  private readonly files: Set<string>;
  private readonly matches: (path: string) => boolean;

  constructor(
    private readonly root: string,
    files: readonly string[],
    globs: readonly string[],
  ) {
    this.files = new Set(files);
    this.matches = globs.length > 0 ? loadPicomatch()([...globs], { dot: true }) : () => false;
  }

  /** Why a file is denied, or undefined when it may be loaded. */
  reason(file: string): string | undefined {
    if (this.files.has(file)) return 'entry or reloader module';
    const rel = relativeInside(this.root, file);
    if (rel === undefined) return 'outside the root';
    return this.matches(rel) ? 'deny glob' : undefined;
  }
}
