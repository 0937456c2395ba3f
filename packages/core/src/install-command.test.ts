import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectPackageManager, installCommand } from './install-command.js';

describe('installCommand', () => {
  const base = mkdtempSync(join(tmpdir(), 'hotmcp-pm-'));
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('follows the package manager running the process', () => {
    expect(detectPackageManager(base, 'pnpm/12.4.2 npm/? node/v20.20.2 linux x64')).toBe('pnpm');
    expect(detectPackageManager(base, 'npm/10.8.2 node/v20.20.2 linux x64 workspaces/false')).toBe('npm');
    expect(detectPackageManager(base, 'yarn/4.5.0 npm/? node/v20.20.2 linux x64')).toBe('yarn');
  });

  it('else the nearest lockfile above the folder, else npm', () => {
    const project = join(base, 'project');
    const nested = join(project, 'src', 'tools');
    mkdirSync(nested, { recursive: true });
    expect(detectPackageManager(nested, '')).toBe(detectPackageManager(base, ''));
    writeFileSync(join(project, 'yarn.lock'), '');
    expect(detectPackageManager(nested, '')).toBe('yarn');
    writeFileSync(join(nested, 'package-lock.json'), '{}');
    expect(detectPackageManager(nested, '')).toBe('npm');
  });

  it('writes one command for every package', () => {
    expect(installCommand(['@hotmcp/a', '@hotmcp/b'], 'npm')).toBe('npm install @hotmcp/a @hotmcp/b');
    expect(installCommand(['@hotmcp/a', '@hotmcp/b'], 'pnpm')).toBe('pnpm add @hotmcp/a @hotmcp/b');
  });
});
