import { describe, expect, it } from 'vitest';
import { assertAdapter } from './adapter-contract.js';
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
});
