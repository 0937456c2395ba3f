import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * A CommonJS dependency of core, required on first use rather than with
 * `@hotmcp/core`: tool modules import the package for `defineTool`, in the
 * server and in every import-preflight worker, where loading glob matchers and
 * semver would only delay the first batch.
 */
export function lazyRequire<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= require(name) as T;
    return loaded;
  };
}
