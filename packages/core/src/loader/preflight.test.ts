import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createReloader } from '../create-reloader.js';
import { isHotMcpError } from '../errors.js';
import { startHotReload, stopHotReload } from '../hot-reload.js';
import { FakeChangeSource, FakeModuleLoader, FakeRegistryAdapter } from '../testing/index.js';
import { TOKENS } from '../tokens.js';
import { checkPreflightOption, DEFAULT_PREFLIGHT_TIMEOUT_MS, preflightTimeout } from './preflight.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hotmcp-preflight-'));
});
afterEach(async () => {
  await stopHotReload();
  await rm(dir, { recursive: true, force: true });
});

const parts = () => ({
  adapter: new FakeRegistryAdapter(),
  changeSource: new FakeChangeSource(),
  audit: false as const,
});

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return isHotMcpError(error) ? error.code : `not a HotMcpError: ${String(error)}`;
  }
  return undefined;
}

describe('the preflight option', () => {
  it('is on with a 2 s limit by default', () => {
    expect(DEFAULT_PREFLIGHT_TIMEOUT_MS).toBe(2000);
    expect(preflightTimeout(undefined)).toBe(2000);
    expect(preflightTimeout({})).toBe(2000);
    expect(preflightTimeout({ timeoutMs: 250 })).toBe(250);
  });

  it('accepts false, an empty object and a whole positive timeoutMs', () => {
    expect(checkPreflightOption(undefined)).toBeUndefined();
    expect(checkPreflightOption(false)).toBe(false);
    expect(checkPreflightOption({})).toEqual({});
    expect(checkPreflightOption({ timeoutMs: 1 })).toEqual({ timeoutMs: 1 });
  });

  it.each([
    ['true', true],
    ['a number', 1000],
    ['a string', '1000'],
    ['null', null],
    ['an array', []],
    ['a zero limit', { timeoutMs: 0 }],
    ['a negative limit', { timeoutMs: -5 }],
    ['a fractional limit', { timeoutMs: 1.5 }],
    ['NaN', { timeoutMs: Number.NaN }],
    ['Infinity', { timeoutMs: Number.POSITIVE_INFINITY }],
    ['a limit past what setTimeout can wait', { timeoutMs: 2 ** 31 }],
    ['a limit as a string', { timeoutMs: '100' }],
    ['an unknown key', { timeoutMs: 100, timeout: 5 }],
  ])('rejects %s with HOTMCP_ERR_BAD_OPTION', async (_, value) => {
    expect(await codeOf(createReloader({ ...parts(), root: dir, preflight: value as never }))).toBe(
      'HOTMCP_ERR_BAD_OPTION',
    );
  });

  it('rejects a limit with a loader other than the runner, which is the only one it works with', async () => {
    for (const loader of ['native' as const, new FakeModuleLoader()]) {
      expect(await codeOf(createReloader({ ...parts(), root: dir, loader, preflight: { timeoutMs: 100 } }))).toBe(
        'HOTMCP_ERR_BAD_OPTION',
      );
      const off = await createReloader({ ...parts(), root: dir, loader, preflight: false });
      await off.stop();
    }
  });

  it('reaches the runner loader through createReloader and startHotReload', async () => {
    const reloader = await createReloader({ ...parts(), root: dir, preflight: { timeoutMs: 300 } });
    expect(reloader.container.resolve(TOKENS.settings)).toMatchObject({ preflight: { timeoutMs: 300 } });
    await reloader.stop();
    expect(await codeOf(startHotReload({ ...parts(), root: dir, preflight: 'on' as never }))).toBe(
      'HOTMCP_ERR_BAD_OPTION',
    );
    const started = await startHotReload({ ...parts(), root: dir, preflight: false });
    expect(started.container.resolve(TOKENS.settings)).toMatchObject({ preflight: false });
  });
});
