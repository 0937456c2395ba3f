import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isHotMcpError } from '../errors.js';
import { createPathFilter } from './path-filter.js';
import { listFiles, scanFiles, walkFiles } from './scan-files.js';

let base: string;
let root: string;
const write = (relative: string) => {
  const file = path.join(root, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `// ${relative}\n`);
  return file;
};

beforeEach(() => {
  base = realpathSync(mkdtempSync(path.join(tmpdir(), 'hotmcp-scan-')));
  root = path.join(base, 'root');
  mkdirSync(root);
});
afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

describe('scanFiles', () => {
  it('finds the selected files and entered folders, and nothing in pruned ones', () => {
    const kept = ['index.ts', 'tools/a.ts', 'tools/[x]/b.ts', 'tools/deep/er/c.ts'].map(write);
    for (const relative of [
      '..foo.ts',
      'node_modules/p/x.ts',
      '.cache/y.ts',
      'private/z.ts',
      'tools/a.test.ts',
      'notes.md',
    ]) {
      write(relative);
    }
    const filter = createPathFilter({ root, include: ['**/*.ts'], exclude: ['**/*.test.ts', 'private/**'] });
    const scan = scanFiles(filter);
    expect([...scan.files.keys()].sort()).toEqual([...kept].sort());
    expect([...scan.dirs.keys()].sort()).toEqual(
      [root, 'tools', 'tools/[x]', 'tools/deep', 'tools/deep/er'].map((dir) => path.resolve(root, dir)).sort(),
    );
    // A folder whose name holds glob characters can be walked on its own.
    expect([...walkFiles(filter, undefined, path.join(root, 'tools/[x]')).files.keys()]).toEqual([
      path.join(root, 'tools/[x]/b.ts'),
    ]);
  });

  it('walks only below the folders the include globs reach', () => {
    const kept = write('tools/a.ts');
    write('docs/b.ts');
    const scan = scanFiles(createPathFilter({ root, include: ['tools/**/*.ts'], exclude: [] }));
    expect([...scan.files.keys()]).toEqual([kept]);
    expect(scan.dirs.has(path.join(root, 'docs'))).toBe(false);
  });

  it('skips a symlink resolving outside the root, reporting it, and keeps one inside', () => {
    const inside = write('a.ts');
    writeFileSync(path.join(base, 'secret.ts'), 'x');
    symlinkSync(path.join(base, 'secret.ts'), path.join(root, 'out.ts'));
    symlinkSync(inside, path.join(root, 'in.ts'));
    const errors: Error[] = [];
    const listing = listFiles(createPathFilter({ root, include: ['**/*.ts'], exclude: [] }), (error) =>
      errors.push(error),
    );
    expect([...listing.files.keys()].sort()).toEqual([inside, path.join(root, 'in.ts')].sort());
    expect(errors.map((error) => isHotMcpError(error) && error.code)).toEqual(['HOTMCP_ERR_OUTSIDE_ROOT']);
    expect(listing.unreadable).toEqual([]);
  });

  it('throws HOTMCP_ERR_WATCHER_FAILED when the root is missing', () => {
    rmSync(root, { recursive: true });
    expect(() => scanFiles(createPathFilter({ root, include: ['**/*.ts'], exclude: [] }))).toThrow(
      expect.objectContaining({ code: 'HOTMCP_ERR_WATCHER_FAILED' }),
    );
  });
});
