import { describe, expect, it } from 'vitest';
import { locate } from '../error-location.js';
import { toLoadError } from './load-error.js';

describe('locate', () => {
  const root = '/tmp/my server/tools';

  it('finds file and line under a root whose path has spaces, as a path and as a file: URL', () => {
    const esbuild = new Error(
      'Transform failed with 1 error:\n/tmp/my server/tools/broken x.ts:3:17: ERROR: Unexpected ";"',
    );
    expect(locate(esbuild, root)).toEqual({ file: '/tmp/my server/tools/broken x.ts', line: 3, column: 17 });
    const thrown = new Error('boom');
    thrown.stack = 'Error: boom\n    at file:///tmp/my%20server/tools/throws.ts?hotmcp=2:8:9';
    expect(locate(thrown, root)).toEqual({ file: '/tmp/my server/tools/throws.ts', line: 8, column: 9 });
  });

  it('ignores places outside the root', () => {
    expect(locate(new Error('at /tmp/other/x.ts:1:1'), root)).toBeUndefined();
  });

  it("gives a syntax error's line to the coded error", () => {
    const error = toLoadError(
      Object.assign(new Error('/tmp/my server/tools/a.ts:2:5: ERROR: Unexpected "}"'), { name: 'TransformError' }),
      '/tmp/my server/tools/a.ts',
      root,
    );
    expect(error).toMatchObject({ code: 'HOTMCP_ERR_SYNTAX', line: 2, file: '/tmp/my server/tools/a.ts' });
  });
});
