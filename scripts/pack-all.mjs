#!/usr/bin/env node
// Pack every published package (packages/*, all but private ones) as `pnpm publish` would — workspace:
// versions replaced — into one folder, with names that do not change with the version:
// .packs/hotmcp-core.tgz, .packs/hotmcp-adapter-sdk-v1.tgz, … Build first (`pnpm pack:all` does).
// Usage: node scripts/pack-all.mjs [folder]   (default: .packs at the repository root)
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('..', import.meta.url));
const destination = resolve(process.argv[2] ?? join(repo, '.packs'));
mkdirSync(destination, { recursive: true });

const packages = readdirSync(join(repo, 'packages'))
  .map((folder) => ({ folder: join(repo, 'packages', folder) }))
  .map(({ folder }) => ({ folder, manifest: JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) }))
  .filter(({ manifest }) => manifest.private !== true);

const packed = await Promise.all(
  packages.map(async ({ folder, manifest }) => {
    const scratch = mkdtempSync(join(destination, '.pack-'));
    try {
      await run('pnpm', ['pack', '--pack-destination', scratch], { cwd: folder });
      const [tarball] = readdirSync(scratch);
      if (tarball === undefined) throw new Error(`pnpm pack wrote nothing for ${manifest.name}`);
      const name = `${manifest.name.replace(/^@/, '').replace('/', '-')}.tgz`;
      renameSync(join(scratch, tarball), join(destination, name));
      return `${name} (${manifest.name}@${manifest.version})`;
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }),
);
process.stdout.write(`${packed.map((line) => `${join(destination, line)}\n`).join('')}`);
