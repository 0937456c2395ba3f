import { describe, expect, it } from 'vitest';
import { createPathFilter } from './path-filter.js';

const root = '/srv/app';
const at = (relative: string) => `${root}/${relative}`;

describe('createPathFilter', () => {
  const filter = createPathFilter({ root, include: ['**/*.ts'], exclude: ['**/*.test.ts', 'tools/private/**'] });

  it('selects files an include glob matches, at any depth including the root', () => {
    expect(['index.ts', 'tools/a.ts', 'a/b/c/d.ts'].map((file) => filter.includes(at(file)))).toEqual([
      true,
      true,
      true,
    ]);
    expect(filter.includes(at('tools/a.js'))).toBe(false);
  });

  it('leaves out excluded files, node_modules, .git, dist and dot-files', () => {
    for (const file of [
      'tools/a.test.ts',
      'tools/private/a.ts',
      'node_modules/x/a.ts',
      'tools/node_modules/a.ts',
      '.git/a.ts',
      'dist/a.ts',
      'tools/dist/a.ts',
      '.hidden.ts',
      '.cache/a.ts',
    ]) {
      expect([file, filter.includes(at(file))]).toEqual([file, false]);
    }
  });

  it('never selects anything outside the root, whatever the globs', () => {
    const escaping = createPathFilter({ root, include: ['**/*.ts', '../outside/*.ts'], exclude: [] });
    expect(escaping.includes('/srv/outside/a.ts')).toBe(false);
    expect(escaping.includes('/srv/app-other/a.ts')).toBe(false);
    expect(escaping.includes(root)).toBe(false);
  });

  it('prunes folders that cannot hold selected files', () => {
    expect(filter.enters(root)).toBe(true);
    expect(filter.enters(at('tools'))).toBe(true);
    expect(filter.enters(at('tools/private'))).toBe(false);
    expect(filter.enters(at('node_modules'))).toBe(false);
    expect(filter.enters(at('.git'))).toBe(false);
    expect(filter.enters(at('.cache'))).toBe(false);
    const scoped = createPathFilter({ root, include: ['tools/**/*.ts'], exclude: [] });
    expect([scoped.enters(at('tools')), scoped.enters(at('tools/a/b')), scoped.enters(at('docs'))]).toEqual([
      true,
      true,
      false,
    ]);
    const deep = createPathFilter({ root, include: ['src/tools/*.ts'], exclude: [] });
    expect([deep.enters(at('src')), deep.enters(at('src/tools')), deep.enters(at('src/other'))]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('enters dot-folders that an include glob names', () => {
    const dotted = createPathFilter({ root, include: ['.config/*.ts'], exclude: [] });
    expect(dotted.enters(at('.config'))).toBe(true);
    expect(dotted.includes(at('.config/a.ts'))).toBe(true);
  });

  it("keeps a glob whose base starts with two dots, like ..tools/*.ts (regression: startsWith('..') dropped it)", () => {
    const dotted = createPathFilter({ root, include: ['..tools/*.ts', '../up/*.ts'], exclude: [] });
    expect(dotted.includes(at('..tools/a.ts'))).toBe(true);
    expect(dotted.walk.patterns).toEqual(['..tools/**']);
  });
});
