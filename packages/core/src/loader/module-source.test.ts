import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readModuleSource } from './module-source.js';

let base: string;
let root: string;
beforeEach(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'hotmcp-source-')));
  root = join(base, 'tools');
  mkdirSync(root);
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

describe('readModuleSource', () => {
  it('returns the text of a UTF-8 module, characters beyond ASCII included', () => {
    writeFileSync(join(root, 'a.ts'), 'export const café = "naïve ✓";\n');
    expect(readModuleSource(join(root, 'a.ts'), root)).toBe('export const café = "naïve ✓";\n');
  });

  it('refuses an empty or blank module', () => {
    writeFileSync(join(root, 'empty.ts'), '');
    writeFileSync(join(root, 'blank.ts'), ' \n\t\n');
    for (const name of ['empty.ts', 'blank.ts']) {
      expect(() => readModuleSource(join(root, name), root)).toThrow(
        expect.objectContaining({ code: 'HOTMCP_ERR_EMPTY_MODULE', file: join(root, name) }),
      );
    }
  });

  it('names the line and offset of the first byte that is not UTF-8, and quotes none of the bytes', () => {
    const bytes = Buffer.concat([
      Buffer.from('const a = "✓";\n// two\nconst b = "'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('";\n'),
    ]);
    writeFileSync(join(root, 'bad.ts'), bytes);
    let caught: unknown;
    try {
      readModuleSource(join(root, 'bad.ts'), root);
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({
      code: 'HOTMCP_ERR_INVALID_ENCODING',
      line: 3,
      details: { offset: bytes.indexOf(0xc3) },
    });
    expect((caught as Error).message).not.toContain('const b');
  });

  it('refuses a file of the root that is a symlink to a file outside it', () => {
    writeFileSync(join(base, 'outside.ts'), 'export const x = 1;\n');
    symlinkSync(join(base, 'outside.ts'), join(root, 'link.ts'));
    expect(() => readModuleSource(join(root, 'link.ts'), root)).toThrow(
      expect.objectContaining({ code: 'HOTMCP_ERR_OUTSIDE_ROOT', file: join(root, 'link.ts') }),
    );
  });
});
