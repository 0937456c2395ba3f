import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CompileCache } from './compile-cache.js';
import { compilerId, transformModule } from './runner-transform.js';

const FILE = '/work/tools/a.ts';
const dirs: string[] = [];
const scratch = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'hotmcp-compile-cache-'));
  dirs.push(dir);
  return path.join(dir, 'compiled');
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('CompileCache', () => {
  it('hands a later start the compilation of an unchanged module, and none of a changed one', async () => {
    const dir = scratch();
    const first = new CompileCache(dir, '/work/tools', compilerId());
    const compiled = await transformModule(FILE, 'export const a: number = 1;\n', undefined, first);
    await first.save();

    const second = new CompileCache(dir, '/work/tools', compilerId());
    let recompiled = false;
    const store = Object.assign(Object.create(second) as CompileCache, {
      set: (...args: Parameters<CompileCache['set']>) => {
        recompiled = true;
        second.set(...args);
      },
    });
    expect(await transformModule(FILE, 'export const a: number = 1;\n', undefined, store)).toEqual(compiled);
    expect(recompiled).toBe(false);
    const changed = await transformModule(FILE, 'export const a: number = 2;\n', undefined, store);
    expect(recompiled).toBe(true);
    expect(changed.code).toContain('const a = 2');
  });

  it('ignores what another compiler wrote', async () => {
    const dir = scratch();
    const first = new CompileCache(dir, '/work/tools', 'another compiler');
    first.set(FILE, 'key', { code: 'planted', imports: [] });
    await first.save();
    expect(new CompileCache(dir, '/work/tools', compilerId()).get(FILE, 'key')).toBeUndefined();
    expect(new CompileCache(dir, '/work/tools', 'another compiler').get(FILE, 'key')).toEqual({
      code: 'planted',
      imports: [],
    });
  });

  it.skipIf(process.platform === 'win32')(
    'neither reads nor writes a folder group or others may write to',
    async () => {
      const dir = scratch();
      const first = new CompileCache(dir, '/work/tools', 'c');
      first.set(FILE, 'key', { code: 'x', imports: [] });
      await first.save();
      chmodSync(dir, 0o777);
      expect(new CompileCache(dir, '/work/tools', 'c').get(FILE, 'key')).toBeUndefined();
    },
  );

  it.skipIf(process.platform !== 'linux')(
    "saves nothing, and returns, where the folder cannot be made (regression: Node's recursive mkdir never returned under /proc)",
    async () => {
      const cache = new CompileCache('/proc/hotmcp-none/compiled', '/work/tools', 'c');
      cache.set(FILE, 'key', { code: 'x', imports: [] });
      await cache.save();
      expect(new CompileCache('/proc/hotmcp-none/compiled', '/work/tools', 'c').get(FILE, 'key')).toBeUndefined();
    },
  );

  it('keeps only the files the last save saw, written through a temporary file', async () => {
    const dir = scratch();
    const cache = new CompileCache(dir, '/work/tools', 'c');
    cache.set(FILE, 'key', { code: 'x', imports: [] });
    cache.set('/work/tools/b.ts', 'key', { code: 'y', imports: [] });
    await cache.save();
    cache.delete([FILE]);
    await cache.save();
    expect(readdirSync(dir)).toHaveLength(1);
    const reread = new CompileCache(dir, '/work/tools', 'c');
    expect(reread.get(FILE, 'key')).toBeUndefined();
    expect(reread.get('/work/tools/b.ts', 'key')).toEqual({ code: 'y', imports: [] });
  });
});
