import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveImport } from './runner-resolve.js';

let base: string;
let root: string;
const at = (...parts: string[]) => join(root, ...parts);

beforeAll(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'hotmcp-resolve-')));
  root = join(base, 'tools');
  await mkdir(join(root, 'lib', 'folder'), { recursive: true });
  await mkdir(join(root, 'node_modules', 'pkg'), { recursive: true });
  for (const file of ['a.ts', 'lib/h.ts', 'lib/plain.js', 'lib/data.json', 'lib/old.cjs', 'lib/folder/index.ts']) {
    await writeFile(at(file), '');
  }
  await writeFile(join(root, 'node_modules', 'pkg', 'index.js'), '');
  await writeFile(join(base, 'server.js'), '');
});
afterAll(() => rm(base, { recursive: true, force: true }));

describe('resolveImport', () => {
  const from = (specifier: string) => resolveImport(specifier, at('a.ts'), root + sep);

  it('reaches a .ts source from .js, .ts, no extension and a folder', () => {
    for (const specifier of ['./lib/h.js', './lib/h.ts', './lib/h', './lib/folder']) {
      expect(from(specifier)).toMatchObject({ kind: 'local' });
    }
    expect(from('./lib/h.js')).toEqual({ kind: 'local', file: at('lib/h.ts'), json: false });
    expect(from('./lib/folder')).toEqual({ kind: 'local', file: at('lib/folder/index.ts'), json: false });
  });

  it('keeps a file that exists as written, and marks JSON', () => {
    expect(from('./lib/plain.js')).toEqual({ kind: 'local', file: at('lib/plain.js'), json: false });
    expect(from('./lib/data.json')).toEqual({ kind: 'local', file: at('lib/data.json'), json: true });
  });

  it('leaves packages, builtins, CommonJS files and packages inside the root to Node', () => {
    expect(from('zod')).toEqual({ kind: 'external', specifier: 'zod', json: false });
    expect(from('node:fs')).toEqual({ kind: 'external', specifier: 'node:fs', json: false });
    expect(from('./lib/old.cjs')).toEqual({
      kind: 'external',
      specifier: pathToFileURL(at('lib/old.cjs')).href,
      json: false,
    });
    expect(from('./node_modules/pkg/index.js')).toMatchObject({ kind: 'external' });
  });

  it("marks a path import that leaves the root as outside, the server's own files included", () => {
    const server = { kind: 'outside', resolved: join(base, 'server.js') };
    expect(from('../server.js')).toEqual(server);
    expect(from(join(base, 'server.js'))).toEqual(server);
    expect(from(pathToFileURL(join(base, 'server.js')).href)).toEqual(server);
  });

  it('follows a symlink inside the root to where it leads before deciding', async () => {
    await symlink(join(base, 'server.js'), at('lib', 'link.js'));
    await symlink(at('lib', 'h.ts'), at('lib', 'inside.ts'));
    expect(from('./lib/link.js')).toEqual({ kind: 'outside', resolved: join(base, 'server.js') });
    expect(from('./lib/inside.ts')).toEqual({ kind: 'local', file: at('lib/inside.ts'), json: false });
  });

  it('reports a relative import that reaches no file, inside the root or outside it', () => {
    expect(from('./lib/missing.js')).toEqual({ kind: 'missing' });
    expect(from('../missing.js')).toEqual({ kind: 'missing' });
  });
});
