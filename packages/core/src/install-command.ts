import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Package managers whose install command hotmcp's errors can name. */
export type PackageManager = 'npm' | 'pnpm' | 'yarn' | 'bun';

const LOCKFILES: ReadonlyArray<[string, PackageManager]> = [
  ['pnpm-lock.yaml', 'pnpm'],
  ['yarn.lock', 'yarn'],
  ['bun.lock', 'bun'],
  ['bun.lockb', 'bun'],
  ['package-lock.json', 'npm'],
];

/**
 * The package manager in use: the one running this process (its
 * `npm_config_user_agent`, as `npm run` / `pnpm start` set it), else the one
 * whose lockfile is nearest above `from`, else npm.
 */
export function detectPackageManager(
  from: string = process.cwd(),
  userAgent: string | undefined = process.env.npm_config_user_agent,
): PackageManager {
  const named = userAgent?.split('/')[0];
  if (named === 'pnpm' || named === 'yarn' || named === 'bun' || named === 'npm') return named;
  for (let folder = from; ; folder = dirname(folder)) {
    for (const [file, manager] of LOCKFILES) if (existsSync(join(folder, file))) return manager;
    if (dirname(folder) === folder) return 'npm';
  }
}

/** The command that installs `packages` with `manager` (`npm install a b`, `pnpm add a b`, …). */
export function installCommand(packages: readonly string[], manager: PackageManager = detectPackageManager()): string {
  return `${manager === 'npm' ? 'npm install' : `${manager} add`} ${packages.join(' ')}`;
}
