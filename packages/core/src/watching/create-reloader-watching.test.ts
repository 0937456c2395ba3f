import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createContainer, registerValue } from '../container.js';
import { createReloader } from '../create-reloader.js';
import { isHotMcpError } from '../errors.js';
import { FakeChangeSource, FakeModuleLoader, FakeRegistryAdapter } from '../testing/index.js';
import { TOKENS } from '../tokens.js';
import { CoalescingChangeSource } from './coalescing-change-source.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hotmcp-watching-'));
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }');
});
afterEach(async () => {
  delete process.env.HOTMCP_WATCHER;
  await rm(dir, { recursive: true, force: true });
});

const parts = () => ({ adapter: new FakeRegistryAdapter(), loader: new FakeModuleLoader(), audit: false as const });

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return isHotMcpError(error) ? error.code : `not a HotMcpError: ${String(error)}`;
  }
  return undefined;
}

describe('createReloader: watching', () => {
  it('wraps the given change source in the coalescer', async () => {
    const changeSource = new FakeChangeSource();
    const reloader = await createReloader({ ...parts(), changeSource, root: dir });
    const registered = reloader.container.resolve(TOKENS.changeSource);
    expect(registered).toBeInstanceOf(CoalescingChangeSource);
    expect((registered as CoalescingChangeSource).source).toBe(changeSource);
  });

  it('uses the change source as it is with coalesce: false', async () => {
    const changeSource = new FakeChangeSource();
    const reloader = await createReloader({ ...parts(), changeSource, root: dir, coalesce: false });
    expect(reloader.container.resolve(TOKENS.changeSource)).toBe(changeSource);
  });

  it('uses a change source registered in the parent container', async () => {
    const changeSource = new FakeChangeSource();
    const parent = createContainer();
    registerValue(parent, TOKENS.changeSource, changeSource);
    const reloader = await createReloader({ ...parts(), container: parent, root: dir });
    expect((reloader.container.resolve(TOKENS.changeSource) as CoalescingChangeSource).source).toBe(changeSource);
    await reloader.start();
    await reloader.stop();
    expect([changeSource.started, changeSource.stopped]).toEqual([true, true]);
  });

  it('refuses an unknown watcher, from the option or the environment, before anything starts', async () => {
    const changeSource = new FakeChangeSource();
    expect(await codeOf(createReloader({ ...parts(), root: dir, watcher: 'fsevents' as never }))).toBe(
      'HOTMCP_ERR_BAD_OPTION',
    );
    process.env.HOTMCP_WATCHER = 'chokidar';
    expect(await codeOf(createReloader({ ...parts(), changeSource, root: dir }))).toBe('HOTMCP_ERR_BAD_OPTION');
    expect(changeSource.started).toBe(false);
  });

  it('refuses bad coalescing timings before anything starts', async () => {
    const changeSource = new FakeChangeSource();
    const options = { ...parts(), changeSource, root: dir };
    expect(await codeOf(createReloader({ ...options, coalesce: { maxWaitMs: -5 } }))).toBe('HOTMCP_ERR_BAD_OPTION');
    expect(await codeOf(createReloader({ ...options, coalesce: 'yes' as never }))).toBe('HOTMCP_ERR_BAD_OPTION');
    expect(changeSource.started).toBe(false);
  });
});
