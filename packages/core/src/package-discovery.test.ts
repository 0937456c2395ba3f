import { describe, expect, it } from 'vitest';
import { isHotMcpError } from './errors.js';
import { installCommand } from './install-command.js';
import { type AdapterPackage, discoverAdapter } from './package-discovery.js';
import { FakeRegistryAdapter } from './testing/index.js';

/** An adapter package recognising servers of one `sdk`, recording what it made. */
function adapterPackage(sdk: string): AdapterPackage & { made: unknown[] } {
  const made: unknown[] = [];
  return {
    made,
    matches: (server) => (server as { sdk?: string } | undefined)?.sdk === sdk,
    createAdapter(server) {
      made.push(server);
      return new FakeRegistryAdapter();
    },
  };
}

async function failure(promise: Promise<unknown>): Promise<{ code?: string; message: string; details?: unknown }> {
  try {
    await promise;
  } catch (error) {
    if (isHotMcpError(error)) return { code: error.code, message: error.message, details: error.details };
    return { message: String(error) };
  }
  throw new Error('expected a rejection');
}

describe('discoverAdapter', () => {
  it('creates the adapter of the first installed package whose matches(server) is true', async () => {
    const one = adapterPackage('one');
    const two = adapterPackage('two');
    const packages: Record<string, unknown> = { '@x/one': one, '@x/two': two };
    const server = { sdk: 'two' };
    const adapter = await discoverAdapter(server, {
      candidates: ['@x/missing', '@x/one', '@x/two'],
      importPackage: async (name) => packages[name],
    });
    expect(adapter).toBeInstanceOf(FakeRegistryAdapter);
    expect(two.made).toEqual([server]);
    expect(one.made).toEqual([]);
  });

  it('names every package that is not installed when no installed one recognises the server', async () => {
    const error = await failure(
      discoverAdapter(
        { sdk: 'three' },
        {
          candidates: ['@x/one', '@x/two', '@x/three'],
          importPackage: async (name) => (name === '@x/one' ? adapterPackage('one') : undefined),
        },
      ),
    );
    expect(error.code).toBe('HOTMCP_ERR_ADAPTER_MISSING');
    // The install command of the package manager running the tests (npm_config_user_agent, else the lockfile).
    expect(error.message).toContain(`${installCommand(['@x/two'])}, or ${installCommand(['@x/three'])}`);
    expect(error.message).not.toContain('@x/one');
    expect(error.details).toEqual({ packages: ['@x/two', '@x/three'], missing: ['@x/two', '@x/three'] });
  });

  it('counts a package whose import throws as not installed', async () => {
    const error = await failure(
      discoverAdapter(
        {},
        {
          candidates: ['@x/broken'],
          importPackage: async () => {
            throw new Error('cannot load');
          },
        },
      ),
    );
    expect(error.code).toBe('HOTMCP_ERR_ADAPTER_MISSING');
  });

  it('refuses a server no installed package recognises, pointing to a custom adapter', async () => {
    const error = await failure(
      discoverAdapter({ sdk: 'other' }, { candidates: ['@x/one'], importPackage: async () => adapterPackage('one') }),
    );
    expect(error.code).toBe('HOTMCP_ERR_ADAPTER_INCOMPATIBLE');
    expect(error.message).toContain("pass an 'adapter'");
  });

  it('refuses an installed package that exports no matches() and createAdapter()', async () => {
    const error = await failure(
      discoverAdapter({}, { candidates: ['@x/old'], importPackage: async () => ({ createOldAdapter() {} }) }),
    );
    expect(error.code).toBe('HOTMCP_ERR_ADAPTER_INCOMPATIBLE');
    expect(error.message).toContain('@x/old does not export matches() and createAdapter()');
  });
});
