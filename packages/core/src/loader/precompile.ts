import type { ModuleCompilation } from '../ports/change-source.js';

/**
 * Compile the module at `file`, whose text is `source`, as a runner loader
 * would (its tsconfig.json options found from `file`), for a runner loader
 * elsewhere to run as it is: a change source hands it over with its batch
 * (`ChangeBatch.compiled`), and a loader uses it only when its own compiler
 * (hotmcp's compiler code, esbuild's version, the Node major) and the file's
 * text and options there are the same; otherwise it compiles the file itself.
 * Rejects with esbuild's error (`file:line:column`) on a syntax error.
 * esbuild is loaded on the first call.
 */
export async function precompileModule(file: string, source: string): Promise<ModuleCompilation> {
  const { precompile } = await import('./runner-transform.js');
  return precompile(file, source);
}
