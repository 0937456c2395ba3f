import satisfies from 'semver/functions/satisfies.js';
import { describe, expect, it } from 'vitest';
import { assertAdapter, caretSatisfies } from './adapter-contract.js';
import { isHotMcpError } from './errors.js';
import { FakeRegistryAdapter } from './testing/index.js';

function codeOf(run: () => void): string | undefined {
  try {
    run();
  } catch (error) {
    return isHotMcpError(error) ? error.code : String(error);
  }
  return undefined;
}

describe('assertAdapter', () => {
  it('accepts an adapter that follows contract 1', () => {
    expect(codeOf(() => assertAdapter(new FakeRegistryAdapter()))).toBeUndefined();
  });

  it('refuses an unknown contract version', () => {
    const adapter = Object.assign(new FakeRegistryAdapter(), { contractVersion: 2 });
    expect(codeOf(() => assertAdapter(adapter))).toBe('HOTMCP_ERR_ADAPTER_INCOMPATIBLE');
  });

  it('refuses an adapter without commit()', () => {
    const { commit: _, ...rest } = { ...new FakeRegistryAdapter(), list() {}, prepare() {} } as Record<string, unknown>;
    expect(codeOf(() => assertAdapter(rest))).toBe('HOTMCP_ERR_ADAPTER_INCOMPATIBLE');
  });

  it('refuses an SDK version outside the range the adapter supports', () => {
    const adapter = Object.assign(new FakeRegistryAdapter(), {
      sdk: { name: '@modelcontextprotocol/sdk', range: '^1.23.0', version: '2.0.0' },
    });
    expect(codeOf(() => assertAdapter(adapter))).toBe('HOTMCP_ERR_ADAPTER_INCOMPATIBLE');
  });

  it('accepts an SDK version inside the range', () => {
    const adapter = Object.assign(new FakeRegistryAdapter(), {
      sdk: { name: '@modelcontextprotocol/sdk', range: '^1.23.0', version: '1.32.2' },
    });
    expect(codeOf(() => assertAdapter(adapter))).toBeUndefined();
  });

  it('judges plain caret ranges without semver as semver does, and leaves every other form to it', () => {
    const parts = [0, 1, 2, 10];
    const versions = parts.flatMap((a) => parts.flatMap((b) => parts.map((c) => `${a}.${b}.${c}`)));
    for (const range of ['^0.0.1', '^0.0.2', '^0.1.0', '^0.2.1', '^1.0.0', '^1.2.1', '^2.10.0', '^10.0.10']) {
      for (const version of versions) {
        expect([range, version, caretSatisfies(version, range)]).toEqual([range, version, satisfies(version, range)]);
      }
    }
    for (const [version, range] of [
      ['1.2.3-beta.1', '^1.2.0'],
      ['01.2.3', '^1.2.0'],
      ['1.2.3', '>=1.2.0 <2'],
      ['1.2.3', '^1.2'],
      ['1.2.3', '1.x'],
    ] as const) {
      expect(caretSatisfies(version, range)).toBeUndefined();
    }
  });

  it('judges a prerelease SDK version with semver', () => {
    const adapter = Object.assign(new FakeRegistryAdapter(), {
      sdk: { name: '@modelcontextprotocol/sdk', range: '^1.23.0', version: '2.0.0-beta.1' },
    });
    expect(codeOf(() => assertAdapter(adapter))).toBe('HOTMCP_ERR_ADAPTER_INCOMPATIBLE');
  });
});
