import 'reflect-metadata';
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inject, injectable } from 'tsyringe';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createContainer, registerClass, resolveToken } from './container.js';
import { createReloader } from './create-reloader.js';
import { HotMcpError, isHotMcpError } from './errors.js';
import { hotReloadStatus, startHotReload, stopHotReload } from './hot-reload.js';
import { NativeEsmModuleLoader } from './loader/native-esm-module-loader.js';
import { RunnerModuleLoader } from './loader/runner-module-loader.js';
import { FakeChangeSource, FakeModuleLoader, FakeRegistryAdapter } from './testing/index.js';
import { TOKENS, type Token } from './tokens.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hotmcp-core-'));
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }');
});
afterEach(async () => {
  await stopHotReload();
  await rm(dir, { recursive: true, force: true });
});

const parts = () => ({
  adapter: new FakeRegistryAdapter(),
  changeSource: new FakeChangeSource(),
  loader: new FakeModuleLoader(),
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

describe('createReloader', () => {
  it('rejects a missing root with HOTMCP_ERR_BAD_OPTION before anything starts', async () => {
    const changeSource = new FakeChangeSource();
    expect(await codeOf(createReloader({ ...parts(), changeSource, root: undefined as never }))).toBe(
      'HOTMCP_ERR_BAD_OPTION',
    );
    expect(changeSource.started).toBe(false);
  });

  it('rejects a root that does not exist', async () => {
    expect(await codeOf(createReloader({ ...parts(), root: join(dir, 'nope') }))).toBe('HOTMCP_ERR_BAD_OPTION');
  });

  it('rejects a root that is a file', async () => {
    expect(await codeOf(createReloader({ ...parts(), root: join(dir, 'package.json') }))).toBe('HOTMCP_ERR_BAD_OPTION');
  });

  it('rejects globs that are not strings', async () => {
    expect(await codeOf(createReloader({ ...parts(), root: dir, include: [42 as never] }))).toBe(
      'HOTMCP_ERR_BAD_OPTION',
    );
  });

  it('asks for a server or an adapter', async () => {
    const { adapter: _, ...rest } = parts();
    expect(await codeOf(createReloader({ ...rest, root: dir }))).toBe('HOTMCP_ERR_BAD_OPTION');
  });

  it('refuses a server no installed adapter package recognises, saying what to do', async () => {
    const { adapter: _, ...rest } = parts();
    let error: unknown;
    try {
      await createReloader({ ...rest, server: { setRequestHandler() {} }, root: dir });
    } catch (caught) {
      error = caught;
    }
    // Whether the adapter packages resolve from here depends on the package manager's hoisting:
    // missing, the error names them; installed, none recognises this object. package-discovery.test.ts
    // checks each case, examples/sdk-v2-server the pick against real servers of both SDKs.
    expect(isHotMcpError(error) && ['HOTMCP_ERR_ADAPTER_MISSING', 'HOTMCP_ERR_ADAPTER_INCOMPATIBLE']).toContain(
      isHotMcpError(error) && error.code,
    );
    expect((error as Error).message).toContain("pass an 'adapter'");
  }, 20_000); // imports both adapter packages and their SDKs

  it('registers every port in its own child container', async () => {
    const given = parts();
    const reloader = await createReloader({ ...given, root: dir });
    expect(reloader.container.resolve(TOKENS.registryAdapter)).toBe(given.adapter);
    // The engine gets the given source inside the coalescing decorator (see watching/).
    expect(reloader.container.resolve(TOKENS.changeSource)).toMatchObject({ source: given.changeSource });
    expect(resolveToken(reloader.container, TOKENS.settings).root).toBe(dir);
    const other = await createReloader({ ...parts(), root: dir });
    expect(other.container.resolve(TOKENS.registryAdapter)).not.toBe(given.adapter);
  });
});

describe("createReloader's root", () => {
  it('takes a file: URL, and a path with a space in it', async () => {
    const tools = join(dir, 'my server', 'tools');
    await mkdir(tools, { recursive: true });
    const url = new URL('./tools', pathToFileURL(join(dir, 'my server', 'server.js')));
    expect(url.pathname).toContain('my%20server'); // what `.pathname` would have passed, and failed on
    const reloader = await createReloader({ ...parts(), root: url });
    expect(resolveToken(reloader.container, TOKENS.settings).root).toBe(await realpath(tools));
    const started = await startHotReload({ ...parts(), server: 'S', root: url });
    expect(await startHotReload({ ...parts(), server: 'S', root: tools })).toBe(started);
  });
});

describe('what createReloader says on stderr', () => {
  async function stderrOf(
    options: Partial<Parameters<typeof createReloader>[0]>,
    file: string,
    error = new HotMcpError('HOTMCP_ERR_SYNTAX', 'Expected ";" but found "x"\n  8 | const x x', { file, line: 8 }),
  ): Promise<string> {
    const loader = new FakeModuleLoader().set(file, error);
    await writeFile(file, 'const x x');
    const writes: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      const reloader = await createReloader({
        ...parts(),
        loader,
        changeSource: new FakeChangeSource([file]),
        root: dir,
        ...options,
      });
      await reloader.start();
      await reloader.stop();
    } finally {
      spy.mockRestore();
    }
    return writes.join('');
  }

  it('prints one line per module that fails to load: file, line, message, code', async () => {
    const file = join(dir, 'broken.ts');
    expect(await stderrOf({}, file)).toBe(`hotmcp: ${file}:8: Expected ";" but found "x" (HOTMCP_ERR_SYNTAX)\n`);
  });

  it('names a module that fails through its import once, at the import, followed by its importers', async () => {
    const [tool, helper] = [join(dir, 'tool.ts'), join(dir, 'lib', 'helper.ts')];
    const error = new HotMcpError(
      'HOTMCP_ERR_SYNTAX',
      `Failed to load ${tool}: Failed to load ${join(dir, 'mid.ts')}: Failed to load ${helper} (${helper}:3): Unexpected ";"`,
      { file: helper, line: 3 },
    );
    expect(await stderrOf({}, tool, error)).toBe(
      `hotmcp: ${helper}:3: Unexpected ";" (imported by ${join(dir, 'mid.ts')} ← ${tool}) (HOTMCP_ERR_SYNTAX)\n`,
    );
  });

  it('names the audit log once started', async () => {
    const path = join(dir, 'logs', 'audit.log');
    const out = await stderrOf({ audit: { path } }, join(dir, 'broken.ts'));
    expect(out.split('\n').at(-2)).toBe(`hotmcp: hot-reloading ${await realpath(dir)}; audit log: ${path}`);
    expect(await readFile(path, 'utf8')).toContain('module.failed');
  });

  it('says nothing when quiet', async () => {
    expect(await stderrOf({ quiet: true, audit: { path: join(dir, 'audit.log') } }, join(dir, 'broken.ts'))).toBe('');
  });
});

describe('registerClass', () => {
  it('refuses a class with a constructor parameter that has no @inject token', () => {
    @injectable()
    class HalfInjected {
      constructor(
        @inject(TOKENS.settings) readonly settings: unknown,
        readonly forgotten: unknown,
      ) {}
    }
    const container = createContainer();
    expect(() => registerClass(container, 'hotmcp.test' as Token<HalfInjected>, HalfInjected)).toThrow(
      /2 constructor parameter\(s\) but 1 @inject/,
    );
  });
});

describe('startHotReload', () => {
  it('returns the running reloader when called again with the same server and root', async () => {
    const given = parts();
    const first = await startHotReload({ ...given, server: 'S', root: dir });
    const second = await startHotReload({ ...given, server: 'S', root: dir });
    expect(second).toBe(first);
    expect(hotReloadStatus()).toMatchObject({ running: true, root: dir });
  });

  it('refuses to start for another root while running', async () => {
    await startHotReload({ ...parts(), server: 'S', root: dir });
    expect(await codeOf(startHotReload({ ...parts(), server: 'S', root: tmpdir() }))).toBe('HOTMCP_ERR_BAD_OPTION');
  });

  it('stops idempotently and reports not running afterwards', async () => {
    const given = parts();
    await startHotReload({ ...given, server: 'S', root: dir });
    await stopHotReload();
    await stopHotReload();
    expect(given.changeSource.stopped).toBe(true);
    expect(hotReloadStatus().running).toBe(false);
  });
});

describe("createReloader's loader option", () => {
  const { loader: _, ...rest } = parts();

  it('builds the bounded-memory runner loader by default', async () => {
    const reloader = await createReloader({ ...rest, root: dir });
    expect(resolveToken(reloader.container, TOKENS.moduleLoader)).toBeInstanceOf(RunnerModuleLoader);
  });

  it("builds the native-ESM loader for 'native', with the leak budget in its settings", async () => {
    const reloader = await createReloader({ ...rest, root: dir, loader: 'native', leakBudgetBytes: 1024 });
    expect(resolveToken(reloader.container, TOKENS.moduleLoader)).toBeInstanceOf(NativeEsmModuleLoader);
    expect(resolveToken(reloader.container, TOKENS.settings)).toMatchObject({ leakBudgetBytes: 1024 });
  });

  it('rejects an unknown loader and a leak budget that is not a positive number', async () => {
    expect(await codeOf(createReloader({ ...rest, root: dir, loader: 'vm' as never }))).toBe('HOTMCP_ERR_BAD_OPTION');
    expect(await codeOf(createReloader({ ...rest, root: dir, leakBudgetBytes: -1 }))).toBe('HOTMCP_ERR_BAD_OPTION');
  });
});
