import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { transformModule } from './runner-transform.js';

const FILE = '/work/tools/a.ts';

describe('transformModule', () => {
  it('lists the imports that survive compilation, in order, without type-only or unused ones', async () => {
    const { imports } = await transformModule(
      FILE,
      `import type { Shape } from './types.js';
import { unused } from './unused.js';
import './side-effect.js';
import { z } from 'zod';
export * from './re-exported.js';
export const schema: Shape = z.string();
`,
    );
    expect(imports).toEqual(['./side-effect.js', 'zod', './re-exported.js']);
  });

  it('wraps the module in a two-step async generator that pauses once its exports are defined', async () => {
    const { code } = await transformModule(FILE, 'export const value: number = 1;\nexport function f() {}\n');
    expect(code).toMatch(
      /^module\.exports = \(async function\* \(module, require, __hm\$meta, __hm\$i\) \{"use strict";/,
    );
    expect(code).toMatch(/^var a_exports = module\.exports;$/m);
    expect(code.match(/^yield;$/gm)).toHaveLength(1);
    expect(code.indexOf('yield;')).toBeGreaterThan(code.indexOf('__export(a_exports'));
    expect(code.indexOf('yield;')).toBeLessThan(code.indexOf('const value = 1'));
  });

  it('keeps top-level await, for await included, and only that', async () => {
    const { code } = await transformModule(
      FILE,
      "const text: string = 'wait ~-~-~ for await (';\nexport const a = await Promise.resolve(text);\nfor await (const x of [1]) console.log(x);\n",
    );
    // A source that already holds a stand-in gets another one: its text is left as it was.
    expect(code).toContain('"wait ~-~-~ for await ("');
    expect(code).toContain('const a = await Promise.resolve(text);');
    const { code: clean } = await transformModule(
      FILE,
      "const text: string = 'for await (';\nexport const a = await Promise.resolve(text);\nfor await (const x of [1]) console.log(x);\n",
    );
    expect(clean).toContain('const a = await Promise.resolve(text);');
    expect(clean).toContain('for await (const x of [1])');
    expect(clean).toContain("const text = 'for await (';".replaceAll("'", '"'));
  });

  it('takes a line of a template literal that reads like require() for text, not an import', async () => {
    const { imports } = await transformModule(
      FILE,
      'import { a } from \'./lib/a.js\';\nexport const usage = `\nrequire("./setup.js")\n` + a;\n',
    );
    expect(imports).toEqual(['./lib/a.js']);
  });

  it('routes dynamic imports through the runner and leaves the text of strings alone', async () => {
    const { code } = await transformModule(
      FILE,
      "export const load = () => import('./lib/h.js');\nexport const text = 'call import(x) here';\nexport const url = import.meta.url;\n",
    );
    expect(code).toContain('__hm$i("./lib/h.js")');
    expect(code).toContain('"call import(x) here"');
    expect(code).toContain('__hm$meta.url');
  });

  it('hands a module namespace through the default-import interop unchanged, in .ts and .mts alike', async () => {
    for (const file of ['/work/tools/a.ts', '/work/tools/a.mts']) {
      const { code } = await transformModule(file, "import z from 'zod';\nexport const value = z;\n");
      expect(code).toContain('mod != null && mod[Symbol.toStringTag] === "Module" ? mod : (');
    }
  });

  it("compiles a module that starts with a hashbang (a server's bin entry), its lines kept", async () => {
    const { code } = await transformModule(FILE, '#!/usr/bin/env node\nexport const value: number = 1;\n');
    expect(() => new Script(code)).not.toThrow();
    expect(code.split('\n')[0]).toMatch(/\/\/\/usr\/bin\/env node$/);
  });

  it("rejects a syntax error with esbuild's message naming file, line and column", async () => {
    await expect(transformModule(FILE, 'const x: number = 1;\nexport const value = x +;\n')).rejects.toThrow(
      /\/work\/tools\/a\.ts:2:\d+: ERROR: Unexpected ";"/,
    );
  });
});
