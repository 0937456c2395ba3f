/**
 * Where an import of a runner-loaded module goes: a local module the runner
 * evaluates itself (inside the root, outside `node_modules`), or anything
 * else, which Node imports as usual so the server and its tool modules share
 * one instance of every package.
 */
import { realpathSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, extname, isAbsolute, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isInside } from '../inside-root.js';
import { alternatives } from './esm-hooks.js';

export type ResolvedImport =
  /** A file the runner evaluates. */
  | { kind: 'local'; file: string; json: boolean }
  /** What to hand Node's `import()` from the importing file. */
  | { kind: 'external'; specifier: string; json: boolean }
  /** A path import (relative, absolute, `file:`) that resolves outside the root, symlinks followed: refused. */
  | { kind: 'outside'; resolved: string }
  | { kind: 'missing' };

/** Extensions the runner compiles; a local file with another one (`.cjs`, `.node`, …) is Node's. */
const RUNNER_EXTENSIONS = new Set(['.ts', '.mts', '.tsx', '.js', '.mjs', '.jsx', '.json']);

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function withoutQuery(specifier: string): string {
  return specifier.replace(/[?#].*$/, '');
}

/** True for a file the runner owns: inside `root` (which ends with a separator) and not in a package. */
export function isLocal(file: string, root: string): boolean {
  return isInside(root, file) && !file.includes(`${sep}node_modules${sep}`);
}

/**
 * Resolve `specifier` imported by `parent`. Relative imports follow the same
 * rules as the native loader (`.js` reaching `.ts`, extensionless, folder
 * `index`); bare specifiers and builtins are Node's. A path import that
 * resolves (symlinks followed) outside `root` (which ends with a separator)
 * is `outside`: the runner refuses it.
 */
export function resolveImport(specifier: string, parent: string, root: string): ResolvedImport {
  const relative = specifier.startsWith('./') || specifier.startsWith('../');
  const path = relative
    ? resolve(dirname(parent), withoutQuery(specifier))
    : specifier.startsWith('file:')
      ? fileURLToPath(withoutQuery(specifier))
      : isAbsolute(specifier)
        ? withoutQuery(specifier)
        : undefined;
  if (path === undefined) {
    // Bare: a package, a builtin, a `#subpath` import. Node resolves it from the importing file.
    return { kind: 'external', specifier, json: false };
  }
  const candidates = [
    path,
    ...(relative ? alternatives(withoutQuery(specifier)).map((alt) => resolve(dirname(parent), alt)) : []),
  ];
  const found = candidates.find(isFile);
  if (found === undefined) return { kind: 'missing' };
  const real = realpathSync.native(found);
  if (!isInside(root, real)) return { kind: 'outside', resolved: real };
  const json = extname(found) === '.json';
  if (isLocal(found, root) && RUNNER_EXTENSIONS.has(extname(found))) return { kind: 'local', file: found, json };
  return { kind: 'external', specifier: pathToFileURL(found).href, json };
}

/** `import.meta.resolve` for a runner-loaded module (bare specifiers by CommonJS rules: Node has no ESM resolver API). */
export function resolveUrl(specifier: string, parent: string, root: string, require: NodeJS.Require): string {
  if (isBuiltin(specifier)) return specifier.startsWith('node:') ? specifier : `node:${specifier}`;
  const resolved = resolveImport(specifier, parent, root);
  if (resolved.kind === 'local') return pathToFileURL(resolved.file).href;
  if (resolved.kind === 'external') {
    return resolved.specifier.startsWith('file:') ? resolved.specifier : pathToFileURL(require.resolve(specifier)).href;
  }
  if (resolved.kind === 'outside') return pathToFileURL(resolved.resolved).href;
  throw Object.assign(new Error(`Cannot find module '${specifier}' imported from ${parent}`), {
    code: 'ERR_MODULE_NOT_FOUND',
  });
}
