import * as fs from 'node:fs';
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';

/** Called with the path of every statSync made by the dev loader's own code, once the stat is taken. */
let onStat: (file: string) => void = () => {};
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  return {
    ...actual,
    statSync: ((file: fs.PathLike, ...rest: unknown[]) => {
      const stats = (actual.statSync as (...args: unknown[]) => fs.Stats)(file, ...rest);
      // (Core's module resolution stats files too: only the dev loader's stamps count here.)
      if (new Error().stack?.split('\n')[2]?.includes('dev-module-loader.ts')) onStat(String(file));
      return stats;
    }) as typeof actual.statSync,
  };
});

const { DevModuleLoader } = await import('../src/dev/dev-module-loader.js');
const { DevSession } = await import('../src/dev/dev-session.js');

let dir: string | undefined;
afterEach(async () => {
  onStat = () => {};
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A project whose entry imports a leaf, imported by Node as a native first run would; returns when it started. */
async function nativeFirstRun(): Promise<{
  entry: string;
  leaf: string;
  since: number;
  loader: InstanceType<typeof DevModuleLoader>;
}> {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'hotmcp-dev-loader-')));
  const entry = join(dir, 'server.mjs');
  const leaf = join(dir, 'leaf.mjs');
  await writeFile(leaf, "export const text = 'leaf v1';\n");
  await writeFile(entry, "import { text } from './leaf.mjs';\nexport const seen = text;\n");
  await new Promise((resolve) => setTimeout(resolve, 20)); // the files are older than the run
  const since = Date.now();
  expect((await import(pathToFileURL(entry).href)).seen).toBe('leaf v1');
  const loader = new DevModuleLoader(
    dir,
    entry,
    new DevSession(
      dir,
      () => {},
      () => {},
    ),
  );
  return { entry, leaf, since, loader };
}

describe('DevModuleLoader.editedSinceRead after a native first run', () => {
  it('reports nothing when no file changed, and a file edited after the graph was adopted', async () => {
    const { leaf, since, loader } = await nativeFirstRun();
    await loader.adoptFirstRun(since);
    expect(loader.editedSinceRead()).toEqual([]);
    await writeFile(leaf, "export const text = 'leaf v2';\n");
    expect(loader.editedSinceRead()).toEqual([leaf]);
  });

  it('reports a file saved while the graph was adopted, even when its stamp was taken after the save', async () => {
    const { leaf, since, loader } = await nativeFirstRun();
    // The edit lands as the adoption looks at the leaf, right after its first stat (Node imported the
    // previous text already).
    let saved = false;
    onStat = (file) => {
      if (file !== leaf || saved) return;
      saved = true;
      fs.writeFileSync(leaf, "export const text = 'leaf v2';\n");
    };
    await loader.adoptFirstRun(since);
    expect(saved).toBe(true);
    expect(loader.editedSinceRead()).toEqual([leaf]);
  });
});
