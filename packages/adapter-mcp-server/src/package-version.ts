import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_VERSIONS = new Map<string, string | undefined>();

/**
 * The version in the `package.json` of package `name`, found by walking up
 * from a file inside it (a path or file URL, e.g. `require.resolve(name)`).
 * Undefined when it cannot be read. Lets an adapter report the SDK version it
 * actually drives. Read once per entry and name: adapters are built per
 * session (see the fan-out adapter), and an installed package does not change
 * under a running process.
 */
export function readPackageVersion(resolvedEntry: string, name: string): string | undefined {
  const key = `${name}\0${resolvedEntry}`;
  if (!PACKAGE_VERSIONS.has(key)) PACKAGE_VERSIONS.set(key, findPackageVersion(resolvedEntry, name));
  return PACKAGE_VERSIONS.get(key);
}

function findPackageVersion(resolvedEntry: string, name: string): string | undefined {
  try {
    let dir = dirname(resolvedEntry.startsWith('file:') ? fileURLToPath(resolvedEntry) : resolvedEntry);
    for (;;) {
      const file = join(dir, 'package.json');
      if (existsSync(file)) {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name) return typeof pkg.version === 'string' ? pkg.version : undefined;
      }
      const parent = dirname(dir);
      if (parent === dir) return undefined;
      dir = parent;
    }
  } catch {
    return undefined;
  }
}
