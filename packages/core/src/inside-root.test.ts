import { describe, expect, it } from 'vitest';
import { clientPath } from './control/client-view.js';
import { isInside } from './inside-root.js';

const root = '/srv/app';

describe('isInside', () => {
  it("counts a root-level file named ..foo.ts as inside (regression: startsWith('..') called it outside)", () => {
    expect(isInside(root, `${root}/..foo.ts`)).toBe(true);
    expect(isInside(root, `${root}/..d/x.ts`)).toBe(true);
    expect(clientPath(root, `${root}/..foo.ts`)).toBe('..foo.ts');
  });

  it('counts the root itself, its parent, siblings and other absolute paths as outside', () => {
    for (const path of [root, '/srv', '/srv/app2/a.ts', '/srv/other/a.ts', '/etc/passwd']) {
      expect(isInside(root, path), path).toBe(false);
    }
    expect(clientPath(root, '/srv/other/a.ts')).toBe('…/a.ts');
  });

  it('normalises a path with . or .. segments before judging it, and takes a root given with a trailing separator', () => {
    for (const path of [`${root}/a/../../x.ts`, `${root}/..`, `${root}/./..`, `${root}/a/..`]) {
      expect(isInside(root, path), path).toBe(false);
    }
    for (const path of [`${root}/./a.ts`, `${root}/b/../a.ts`, `${root}//a.ts`]) {
      expect(isInside(root, path), path).toBe(true);
    }
    expect(isInside(`${root}/`, `${root}/a.ts`)).toBe(true);
    expect(isInside(`${root}/`, root)).toBe(false);
  });
});
