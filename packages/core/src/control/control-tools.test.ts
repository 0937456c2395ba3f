import 'reflect-metadata';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryAuditSink } from '../audit/memory-audit-sink.js';
import { createContainer, registerValue } from '../container.js';
import { createReloader, createReloaderFromContainer } from '../create-reloader.js';
import { defineTool } from '../define.js';
import { HotMcpError, isHotMcpError } from '../errors.js';
import type { ClientLogMessage } from '../ports/tool-registry-adapter.js';
import { FakeChangeSource, FakeModuleLoader, FakeRegistryAdapter } from '../testing/index.js';
import { TOKENS } from '../tokens.js';
import { clientMessage, clientPath } from './client-view.js';

/** The fake adapter, with the optional `sendLog` recorded. */
class LoggingAdapter extends FakeRegistryAdapter {
  readonly logs: ClientLogMessage[] = [];
  sendLog(message: ClientLogMessage): void {
    this.logs.push(message);
  }
}

const text = (value: string) => ({ content: [{ type: 'text', text: value }] });
const tool = (name: string, reply = name) => defineTool({ name, handler: () => text(reply) });

let root: string;
const file = (name: string) => join(root, name);

beforeEach(async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), 'hotmcp-control-')));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function setup(options: { controlTools?: boolean; baseline?: string[] } = {}) {
  const source = new FakeChangeSource((options.baseline ?? []).map(file));
  const loader = new FakeModuleLoader();
  const adapter = new LoggingAdapter();
  const audit = new MemoryAuditSink();
  const container = createContainer();
  registerValue(container, TOKENS.settings, { root, include: ['**/*.ts'], exclude: [], deny: [], denyFiles: [] });
  registerValue(container, TOKENS.changeSource, source);
  registerValue(container, TOKENS.moduleLoader, loader);
  registerValue(container, TOKENS.registryAdapter, adapter);
  registerValue(container, TOKENS.auditSink, audit);
  const reloader = createReloaderFromContainer(container, {
    ...(options.controlTools !== undefined && { controlTools: options.controlTools }),
    info: { loader: 'fake', watcher: () => 'fake' },
  });
  return { source, loader, adapter, audit, reloader };
}

async function call(adapter: FakeRegistryAdapter, name: string): Promise<{ json: any; isError: boolean }> {
  const result = await adapter.tool(name)?.handler({}, {});
  if (!result) throw new Error(`no tool ${name}`);
  const first = result.content[0] as unknown as { text: string };
  return { json: JSON.parse(first.text), isError: result.isError === true };
}

describe('control tools', () => {
  it('are not registered unless asked for', async () => {
    const t = setup({ baseline: ['a.ts'] });
    t.loader.set(file('a.ts'), { default: tool('a') });
    await t.reloader.start();
    expect(t.adapter.list().tools).toEqual(['a']);
  });

  it('are registered through the adapter when asked for, and removed on stop', async () => {
    const t = setup({ controlTools: true, baseline: ['a.ts'] });
    t.loader.set(file('a.ts'), { default: tool('a') });
    await t.reloader.start();
    expect(t.adapter.list().tools.sort()).toEqual(['a', 'hotmcp_reload', 'hotmcp_status']);
    await t.reloader.stop();
    expect(t.adapter.list().tools).toEqual([]);
  });

  it('are registered on an empty folder too', async () => {
    const t = setup({ controlTools: true });
    await t.reloader.start();
    expect(t.adapter.list().tools.sort()).toEqual(['hotmcp_reload', 'hotmcp_status']);
  });

  it('keep their names: a tool module defining hotmcp_status gets a name conflict', async () => {
    const t = setup({ controlTools: true, baseline: ['a.ts'] });
    t.loader.set(file('a.ts'), { default: tool('hotmcp_status', 'impostor') });
    await t.reloader.start();
    const { json } = await call(t.adapter, 'hotmcp_status');
    expect(json.errors).toEqual([expect.objectContaining({ module: 'a.ts', code: 'HOTMCP_ERR_NAME_CONFLICT' })]);
    expect(json.errors[0].message).toContain('hotmcp itself');
  });

  it('leave a static tool of the same name alone, and say so', async () => {
    const t = setup({ controlTools: true });
    t.adapter.addForeignTool('hotmcp_status');
    await t.reloader.start();
    expect(t.adapter.entries.get('tool:hotmcp_status')).toBe('foreign');
    expect(t.adapter.list().tools.sort()).toEqual(['hotmcp_reload', 'hotmcp_status']);
    expect(t.audit.events.find((e) => e.event === 'definition.rejected')).toMatchObject({
      code: 'HOTMCP_ERR_NAME_CONFLICT',
      name: 'hotmcp_status',
    });
  });
});

describe('hotmcp_status', () => {
  it('lists each module with what it owns, and errors with root-relative file and line', async () => {
    const t = setup({ controlTools: true, baseline: ['a.ts', 'lib/b.ts'] });
    t.loader.set(file('a.ts'), { one: tool('a1'), two: tool('a2') });
    t.loader.set(
      file('lib/b.ts'),
      new HotMcpError('HOTMCP_ERR_SYNTAX', `Failed to load ${file('lib/b.ts')} (${file('lib/b.ts')}:7): Unexpected ;`, {
        file: file('lib/b.ts'),
        line: 7,
      }),
    );
    await t.reloader.start();
    const { json, isError } = await call(t.adapter, 'hotmcp_status');
    expect(isError).toBe(false);
    expect(json).toMatchObject({ running: true, loader: 'fake', watcher: 'fake', adapter: 'fake' });
    expect(json.modules).toEqual([
      { file: 'a.ts', tools: ['a1', 'a2'], prompts: [], resources: [], failed: false },
      { file: 'lib/b.ts', tools: [], prompts: [], resources: [], failed: true },
    ]);
    expect(json.errors).toEqual([
      {
        module: 'lib/b.ts',
        code: 'HOTMCP_ERR_SYNTAX',
        message: 'Failed to load lib/b.ts (lib/b.ts:7): Unexpected ;',
        file: 'lib/b.ts',
        line: 7,
      },
    ]);
    expect(JSON.stringify(json)).not.toContain(root);
    // The programmatic status keeps absolute paths.
    expect(t.reloader.status().errors[0]?.file).toBe(file('lib/b.ts'));
  });
});

describe('hotmcp_status of a change source that can tell whether it is behind', () => {
  class FleetLikeSource extends FakeChangeSource {
    behind = false;
    status() {
      return this.behind
        ? {
            behind: true,
            reason: `Redis unreachable; ${join(root, 'a.ts')} may be stale`,
            details: { lastApplied: '7-0' },
          }
        : { behind: false, details: { lastApplied: '7-0' } };
    }
  }

  async function start(changeSource: FakeChangeSource) {
    const adapter = new FakeRegistryAdapter();
    const reloader = await createReloader({
      root,
      changeSource,
      adapter,
      loader: new FakeModuleLoader(),
      audit: false,
      controlTools: true,
      quiet: true,
    });
    await reloader.start();
    return { adapter, reloader };
  }

  it('shows what the source says, as it says it at each call, with root-relative paths', async () => {
    const source = new FleetLikeSource([]);
    const { adapter, reloader } = await start(source);
    expect((await call(adapter, 'hotmcp_status')).json.source).toEqual({
      behind: false,
      details: { lastApplied: '7-0' },
    });
    source.behind = true;
    expect((await call(adapter, 'hotmcp_status')).json.source).toEqual({
      behind: true,
      reason: 'Redis unreachable; a.ts may be stale',
      details: { lastApplied: '7-0' },
    });
    await reloader.stop();
  });

  it('has no source entry for a source that says nothing', async () => {
    const { adapter, reloader } = await start(new FakeChangeSource([]));
    expect((await call(adapter, 'hotmcp_status')).json).not.toHaveProperty('source');
    await reloader.stop();
  });
});

describe('hotmcp_reload and rescan()', () => {
  it('picks up files added, changed and removed that the change source never reported', async () => {
    const t = setup({ controlTools: true, baseline: ['a.ts', 'b.ts'] });
    t.loader.set(file('a.ts'), { default: tool('a', 'a1') }).set(file('b.ts'), { default: tool('b') });
    await t.reloader.start();

    t.source.write(file('a.ts')).write(file('c.ts')).delete(file('b.ts'));
    t.loader.set(file('a.ts'), { default: tool('a', 'a2') }).set(file('c.ts'), { default: tool('c') });
    const { json } = await call(t.adapter, 'hotmcp_reload');

    expect(json.found).toEqual({ added: ['c.ts'], changed: ['a.ts'], removed: ['b.ts'] });
    expect(json.applied).toBe(true);
    expect(json.batch).toMatchObject({ upserted: ['tool:a', 'tool:c'], removedEntries: ['tool:b'] });
    expect(t.adapter.list().tools.sort()).toEqual(['a', 'c', 'hotmcp_reload', 'hotmcp_status']);
    expect(await t.adapter.tool('a')?.handler({}, {})).toEqual(text('a2'));
  });

  it('finds nothing, and loads nothing, when the watcher missed nothing', async () => {
    const t = setup({ baseline: ['a.ts'] });
    t.source.write(file('drafts.ts'));
    await t.reloader.start();
    await t.reloader.rescan(); // drafts.ts was never reported: picked up now
    const loads = t.loader.loads.length;
    const report = await t.reloader.rescan();
    expect(report).toEqual({ found: { added: [], changed: [], removed: [] } });
    expect(t.loader.loads).toHaveLength(loads);
  });

  it('compares with the stamp the change source gave when the file was loaded', async () => {
    const t = setup({ baseline: ['a.ts'] });
    await t.reloader.start();
    t.source.write(file('a.ts'));
    t.source.emit({ changed: [file('a.ts')] });
    await t.reloader.idle();
    expect((await t.reloader.rescan()).found.changed).toEqual([]);
    t.source.write(file('a.ts')); // a change the watcher missed
    expect((await t.reloader.rescan()).found.changed).toEqual([file('a.ts')]);
  });

  it('does not report files under an unreadable folder as removed, and audits the folder', async () => {
    const t = setup({ baseline: ['a.ts', 'locked/b.ts'] });
    await t.reloader.start();
    t.source.delete(file('locked/b.ts')).unreadable = [file('locked')];
    const report = await t.reloader.rescan();
    expect(report.found).toEqual({ added: [], changed: [], removed: [] });
    expect(t.reloader.status().trackedFiles).toEqual([file('a.ts'), file('locked/b.ts')]);
    expect(t.audit.events.filter((event) => event.event === 'watcher.error')).toHaveLength(1);
  });

  it('waits for a reload in flight and runs as the next batch of the queue', async () => {
    const t = setup({ baseline: ['a.ts'] });
    t.source.write(file('b.ts'));
    await t.reloader.start();
    let release = () => {};
    t.loader.gate = new Promise((resolve) => {
      release = resolve;
    });
    t.source.write(file('a.ts'));
    t.source.emit({ changed: [file('a.ts')] });
    await vi.waitFor(() => expect(t.loader.loads).toHaveLength(2)); // a is loading
    let done = false;
    const rescan = t.reloader.rescan().then((report) => {
      done = true;
      return report;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(false);
    expect(t.loader.loads).toHaveLength(2);
    release();
    const report = await rescan;
    // The rescan's own batch came after the one in flight, not beside it.
    expect(t.loader.loads.slice(1)).toEqual([[file('a.ts')], [file('b.ts')]]);
    expect(report.found.added).toEqual([file('b.ts')]);
  });

  it('answers with an error, not a throw, when the root cannot be scanned', async () => {
    const t = setup({ controlTools: true });
    await t.reloader.start();
    t.source.rescanError = new HotMcpError('HOTMCP_ERR_WATCHER_FAILED', `cannot scan ${root}: missing`);
    const { json, isError } = await call(t.adapter, 'hotmcp_reload');
    expect(isError).toBe(true);
    expect(json.error).toMatch(/cannot scan/);
    expect(json.error).not.toContain(root);
  });
});

describe('log message on a failed reload', () => {
  it('is sent through the adapter with root-relative paths and no file contents', async () => {
    const t = setup({ baseline: ['a.ts'] });
    t.loader.set(file('a.ts'), { default: tool('a') });
    await t.reloader.start();
    expect(t.adapter.logs).toEqual([]);
    t.loader.set(
      file('a.ts'),
      new HotMcpError(
        'HOTMCP_ERR_IMPORT_THREW',
        `Failed to load ${file('a.ts')} (${file('a.ts')}:3): boom\n  2 | secret`,
        {
          file: file('a.ts'),
          line: 3,
        },
      ),
    );
    t.source.emit({ changed: [file('a.ts')] });
    await t.reloader.idle();
    expect(t.adapter.logs).toEqual([
      {
        level: 'error',
        logger: 'hotmcp',
        data: {
          event: 'module.failed',
          module: 'a.ts',
          code: 'HOTMCP_ERR_IMPORT_THREW',
          message: 'Failed to load a.ts (a.ts:3): boom',
          file: 'a.ts',
          line: 3,
        },
      },
    ]);
  });

  it('is sent for a definition the adapter refuses', async () => {
    const t = setup({ baseline: ['a.ts'] });
    t.adapter.refuse.add('bad');
    t.loader.set(file('a.ts'), { good: tool('good'), bad: tool('bad') });
    await t.reloader.start();
    expect(t.adapter.logs.map((log) => log.data)).toEqual([
      expect.objectContaining({ event: 'definition.rejected', module: 'a.ts', code: 'HOTMCP_ERR_INVALID_DEFINITION' }),
    ]);
  });

  it('never breaks the reload when sending throws', async () => {
    const t = setup({ baseline: ['a.ts', 'b.ts'] });
    t.adapter.sendLog = () => {
      throw new Error('transport closed');
    };
    t.loader.set(file('a.ts'), new HotMcpError('HOTMCP_ERR_SYNTAX', 'broken', { file: file('a.ts') }));
    t.loader.set(file('b.ts'), { default: tool('b') });
    await t.reloader.start();
    expect(t.adapter.list().tools).toEqual(['b']);
    expect(t.audit.events.some((e) => e.event === 'failure_listener.threw')).toBe(true);
  });
});

describe('client view', () => {
  it('makes paths root-relative and cuts other absolute paths to their name', () => {
    expect(clientPath('/srv/tools', '/srv/tools/lib/a.ts')).toBe('lib/a.ts');
    expect(clientPath('/srv/tools', '/etc/passwd')).toBe('…/passwd');
    expect(
      clientMessage(
        '/srv/tools',
        "Cannot find module '/srv/other/x.ts' imported from file:///srv/tools/a.ts?v=2\nsource line",
      ),
    ).toBe("Cannot find module '…/x.ts' imported from a.ts?v=2");
  });
});

describe("createReloader's controlTools option", () => {
  it('rejects a value that is not a boolean', async () => {
    const options = {
      root,
      adapter: new FakeRegistryAdapter(),
      changeSource: new FakeChangeSource(),
      loader: new FakeModuleLoader(),
      audit: false as const,
    };
    const error = await createReloader({ ...options, controlTools: 'yes' as never }).catch((e: unknown) => e);
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_BAD_OPTION');
    const reloader = await createReloader({ ...options, controlTools: true });
    await reloader.start();
    expect(options.adapter.list().tools.sort()).toEqual(['hotmcp_reload', 'hotmcp_status']);
    await reloader.stop();
  });
});
