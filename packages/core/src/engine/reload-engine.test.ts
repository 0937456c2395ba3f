import 'reflect-metadata';
import { describe, expect, it, vi } from 'vitest';
import { MemoryAuditSink } from '../audit/memory-audit-sink.js';
import { createContainer, registerValue } from '../container.js';
import { createReloaderFromContainer } from '../create-reloader.js';
import { definePrompt, defineResource, defineTool } from '../define.js';
import { HotMcpError } from '../errors.js';
import type { ChangeSource } from '../ports/change-source.js';
import type { LoadOptions } from '../ports/module-loader.js';
import { FakeChangeSource, FakeModuleLoader, FakeRegistryAdapter } from '../testing/index.js';
import { type ReloaderSettings, TOKENS } from '../tokens.js';
import { FIRST_BATCH_FILES } from './reload-engine.js';

const ROOT = '/work/tools';
const file = (name: string) => `${ROOT}/${name}`;
const text = (value: string) => ({ content: [{ type: 'text', text: value }] });
const tool = (name: string, reply = name) => defineTool({ name, handler: () => text(reply) });

async function setup(options: { baseline?: string[]; deny?: string[]; denyFiles?: string[] } = {}) {
  const settings: ReloaderSettings = {
    root: ROOT,
    include: ['**/*.ts'],
    exclude: [],
    deny: options.deny ?? [],
    denyFiles: options.denyFiles ?? [],
  };
  const source = new FakeChangeSource(options.baseline ?? []);
  const loader = new FakeModuleLoader();
  const adapter = new FakeRegistryAdapter();
  const audit = new MemoryAuditSink();
  const container = createContainer();
  registerValue(container, TOKENS.settings, settings);
  registerValue(container, TOKENS.changeSource, source);
  registerValue(container, TOKENS.moduleLoader, loader);
  registerValue(container, TOKENS.registryAdapter, adapter);
  registerValue(container, TOKENS.auditSink, audit);
  const reloader = createReloaderFromContainer(container);
  const change = async (batch: { added?: string[]; changed?: string[]; removed?: string[] }) => {
    source.emit(batch);
    await reloader.idle();
  };
  return { source, loader, adapter, audit, reloader, change };
}

const syntaxError = (name: string) =>
  new HotMcpError('HOTMCP_ERR_SYNTAX', `Failed to load ${file(name)}: Unexpected token`, { file: file(name), line: 3 });

describe('ReloadEngine', () => {
  it('starts on an empty folder and settles (regression: idle() spun forever on an empty batch)', async () => {
    const t = await setup({ baseline: [] });
    await t.reloader.start();
    t.source.emit({});
    await t.reloader.idle();
    expect(t.reloader.status()).toMatchObject({ running: true, trackedFiles: [] });
    t.loader.set(file('a.ts'), { default: tool('a') });
    await t.change({ added: [file('a.ts')] });
    expect(t.adapter.list().tools).toEqual(['a']);
  });

  it('asks the loader to warm up once, before the change source starts', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.loader.set(file('a.ts'), { default: tool('a') });
    const order: string[] = [];
    Object.assign(t.loader, { warmUp: () => order.push(`warmUp, source started: ${t.source.started}`) });
    await t.reloader.start();
    await t.reloader.start();
    expect(order).toEqual(['warmUp, source started: false']);
    expect(t.adapter.list().tools).toEqual(['a']);
  });

  it('resolves start() once the first 200 files of a larger folder are live, and loads the rest right after', async () => {
    const names = Array.from({ length: FIRST_BATCH_FILES + 5 }, (_, n) => `t${String(n).padStart(4, '0')}`);
    const t = await setup({ baseline: names.map((name) => file(`${name}.ts`)) });
    for (const name of names) t.loader.set(file(`${name}.ts`), { default: tool(name) });
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const load = t.loader.load.bind(t.loader);
    // The second load waits until released: start() must not wait for it.
    t.loader.load = (files) => (t.loader.loads.length === 0 ? load(files) : held.then(() => load(files)));
    await t.reloader.start();
    expect(t.adapter.list().tools).toEqual(names.slice(0, FIRST_BATCH_FILES));
    expect(t.loader.loads).toEqual([names.slice(0, FIRST_BATCH_FILES).map((name) => file(`${name}.ts`))]);
    release();
    await t.reloader.idle();
    expect(t.adapter.list().tools).toEqual(names);
    expect(t.loader.loads[1]).toEqual(names.slice(FIRST_BATCH_FILES).map((name) => file(`${name}.ts`)));
    expect(t.reloader.status().counts).toMatchObject({ tools: names.length, batches: 2 });
  });

  it('loads the files found at start-up as the start-up (both batches of a larger folder), later ones as reloads, and says when the start-up is done', async () => {
    const names = Array.from({ length: FIRST_BATCH_FILES + 5 }, (_, n) => `t${String(n).padStart(4, '0')}`);
    const t = await setup({ baseline: names.map((name) => file(`${name}.ts`)) });
    for (const name of names) t.loader.set(file(`${name}.ts`), { default: tool(name) });
    const calls: string[] = [];
    const load = t.loader.load.bind(t.loader);
    Object.assign(t.loader, {
      load: (files: readonly string[], options?: LoadOptions) => {
        calls.push(`load ${files.length} ${JSON.stringify(options)}`);
        return load(files);
      },
      startupDone: () => calls.push('startupDone'),
    });
    await t.reloader.start();
    await t.reloader.idle();
    t.loader.set(file('new.ts'), { default: tool('new') });
    await t.change({ added: [file('new.ts')], changed: [file('t0000.ts')] });
    expect(calls).toEqual([
      `load ${FIRST_BATCH_FILES} {"startup":true}`,
      'load 5 {"startup":true}',
      'startupDone',
      'load 2 undefined',
    ]);
  });

  it('loads a file added while the start-up loads as a reload, and the files found at start-up as the start-up', async () => {
    const names = Array.from({ length: FIRST_BATCH_FILES + 1 }, (_, n) => `t${String(n).padStart(4, '0')}`);
    const t = await setup({ baseline: names.map((name) => file(`${name}.ts`)) });
    for (const name of [...names, 'new']) t.loader.set(file(`${name}.ts`), { default: tool(name) });
    const options: Array<LoadOptions | undefined> = [];
    const load = t.loader.load.bind(t.loader);
    Object.assign(t.loader, {
      load: (files: readonly string[], given?: LoadOptions) => {
        options.push(given);
        if (options.length === 1) t.source.emit({ added: [file('new.ts')] });
        return load(files);
      },
    });
    await t.reloader.start();
    await t.reloader.idle();
    expect(options).toEqual([{ startup: true }, undefined, { startup: true }]);
    expect(t.adapter.list().tools).toHaveLength(names.length + 1);
  });

  it('audits a symlink out of the root once, however often the watcher reports it, and again once its path was in a batch', async () => {
    const t = await setup({ baseline: [] });
    const report = (error: Error) => t.source.report(error);
    await t.reloader.start();
    const link = file('linked.ts');
    const outside = () =>
      new HotMcpError('HOTMCP_ERR_OUTSIDE_ROOT', `${link} is a symbolic link outside the root`, {
        details: { path: link, target: '/elsewhere/secret.ts' },
      });
    const refusals = () =>
      t.audit.events.filter((event) => event.event === 'watcher.error' && event.code === 'HOTMCP_ERR_OUTSIDE_ROOT');
    report(outside());
    report(outside());
    expect(refusals()).toEqual([expect.objectContaining({ path: link, target: '/elsewhere/secret.ts' })]);
    t.loader.set(link, { default: tool('linked') });
    await t.change({ added: [link] }); // retargeted inside the root
    report(outside()); // and out again
    expect(refusals()).toHaveLength(2);
  });

  it('registers every definition found at start in one commit', async () => {
    const t = await setup({ baseline: [file('a.ts'), file('b.ts')] });
    t.loader.set(file('a.ts'), { default: tool('a') }).set(file('b.ts'), { one: tool('b1'), two: tool('b2') });
    await t.reloader.start();
    expect(t.adapter.list().tools.sort()).toEqual(['a', 'b1', 'b2']);
    expect(t.adapter.commits).toHaveLength(1);
    expect(t.reloader.status().counts.tools).toBe(3);
  });

  it('replaces the tools of an edited module', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.loader.set(file('a.ts'), { default: tool('a', 'v1') });
    await t.reloader.start();
    t.loader.set(file('a.ts'), { default: tool('a', 'v2') });
    await t.change({ changed: [file('a.ts')] });
    expect(await t.adapter.tool('a')?.handler({}, {})).toEqual(text('v2'));
    expect(t.adapter.notifications).toBe(2);
  });

  it('reloads every module that imports an edited helper', async () => {
    const t = await setup({ baseline: [file('a.ts'), file('b.ts'), file('lib/h.ts')] });
    t.loader.imports(file('a.ts'), [file('lib/h.ts')]).imports(file('b.ts'), [file('lib/h.ts')]);
    await t.reloader.start();
    await t.change({ changed: [file('lib/h.ts')] });
    expect(t.loader.loads.at(-1)?.sort()).toEqual([file('a.ts'), file('b.ts'), file('lib/h.ts')]);
  });

  it('removes the tools of a deleted module', async () => {
    const t = await setup({ baseline: [file('a.ts'), file('b.ts')] });
    t.loader.set(file('a.ts'), { default: tool('a') }).set(file('b.ts'), { default: tool('b') });
    await t.reloader.start();
    await t.change({ removed: [file('a.ts')] });
    expect(t.adapter.list().tools).toEqual(['b']);
    expect(t.adapter.commits.at(-1)?.remove).toEqual([{ kind: 'tool', name: 'a' }]);
  });

  it('keeps the last good version when a module fails to load, and reports the error', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.loader.set(file('a.ts'), { default: tool('a', 'good') });
    await t.reloader.start();
    t.loader.set(file('a.ts'), syntaxError('a.ts'));
    await t.change({ changed: [file('a.ts')] });
    expect(await t.adapter.tool('a')?.handler({}, {})).toEqual(text('good'));
    expect(t.reloader.status().errors).toEqual([
      expect.objectContaining({ module: file('a.ts'), code: 'HOTMCP_ERR_SYNTAX', line: 3 }),
    ]);
    expect(t.audit.events.find((e) => e.event === 'module.failed')).toMatchObject({ code: 'HOTMCP_ERR_SYNTAX' });
  });

  it('recovers when a broken module is fixed', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.loader.set(file('a.ts'), syntaxError('a.ts'));
    await t.reloader.start();
    expect(t.adapter.list().tools).toEqual([]);
    t.loader.set(file('a.ts'), { default: tool('a') });
    await t.change({ changed: [file('a.ts')] });
    expect(t.adapter.list().tools).toEqual(['a']);
    expect(t.reloader.status().errors).toEqual([]);
  });

  it('keeps the last good version when a module exports an invalid definition', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.loader.set(file('a.ts'), { default: tool('a', 'good') });
    await t.reloader.start();
    t.loader.set(file('a.ts'), { default: defineTool({ name: 'a', handler: 'nope' as never }) });
    await t.change({ changed: [file('a.ts')] });
    expect(await t.adapter.tool('a')?.handler({}, {})).toEqual(text('good'));
    expect(t.reloader.status().errors[0]?.code).toBe('HOTMCP_ERR_INVALID_DEFINITION');
  });

  it('fails a module exporting a plain object with a name and a handler, made without defineTool', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.loader.set(file('a.ts'), { default: tool('a', 'good') });
    await t.reloader.start();
    t.loader.set(file('a.ts'), { default: { name: 'a', handler: () => text('plain') }, helper: { name: 'x' } });
    await t.change({ changed: [file('a.ts')] });
    expect(await t.adapter.tool('a')?.handler({}, {})).toEqual(text('good'));
    expect(t.reloader.status().errors[0]).toMatchObject({
      code: 'HOTMCP_ERR_INVALID_DEFINITION',
      message: expect.stringContaining("export 'default' looks like a definition"),
    });
  });

  it('quotes at most a clipped piece of a huge thrown message (regression: a 5 MB token filled the audit line)', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.loader.set(file('a.ts'), { default: tool('a', 'good') });
    await t.reloader.start();
    t.loader.set(file('a.ts'), new Error(`Unexpected "${'y'.repeat(100_000)}"`) as never);
    await t.change({ changed: [file('a.ts')] });
    const failed = t.audit.events.find((event) => event.event === 'module.failed');
    expect(failed?.code).toBe('HOTMCP_ERR_LOAD_FAILED');
    expect(JSON.stringify(failed).length).toBeLessThan(1000);
  });

  it('audits a watcher error with its code and path (regression: only the message was audited)', async () => {
    let report: ((error: Error) => void) | undefined;
    const t = await setup();
    // A change source that reports errors (the fake does not).
    (t.source as ChangeSource).start = async (_onBatch, onError) => {
      report = onError;
      return [];
    };
    await t.reloader.start();
    report?.(new HotMcpError('HOTMCP_ERR_WATCHER_FAILED', 'cannot read x', { details: { path: file('x.ts') } }));
    expect(t.audit.events.find((event) => event.event === 'watcher.error')).toMatchObject({
      code: 'HOTMCP_ERR_WATCHER_FAILED',
      message: 'cannot read x',
      path: file('x.ts'),
    });
  });

  it('fails a module that exports two definitions with one name', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.loader.set(file('a.ts'), { one: tool('same'), two: tool('same') });
    await t.reloader.start();
    expect(t.adapter.list().tools).toEqual([]);
    expect(t.reloader.status().errors[0]?.code).toBe('HOTMCP_ERR_DUPLICATE_NAME');
  });

  it('rejects a name another module owns without clobbering it', async () => {
    const t = await setup({ baseline: [file('b.ts')] });
    t.loader
      .set(file('b.ts'), { default: tool('echo', 'from b') })
      .set(file('a.ts'), { default: tool('echo', 'from a') });
    await t.reloader.start();
    await t.change({ added: [file('a.ts')] });
    expect(await t.adapter.tool('echo')?.handler({}, {})).toEqual(text('from b'));
    expect(t.reloader.status().errors).toEqual([
      expect.objectContaining({ module: file('a.ts'), code: 'HOTMCP_ERR_NAME_CONFLICT' }),
    ]);
  });

  it('hands a contested name over once its owner lets it go', async () => {
    const t = await setup({ baseline: [file('b.ts')] });
    t.loader
      .set(file('b.ts'), { default: tool('echo', 'from b') })
      .set(file('a.ts'), { default: tool('echo', 'from a') });
    await t.reloader.start();
    await t.change({ added: [file('a.ts')] });
    await t.change({ removed: [file('b.ts')] });
    expect(await t.adapter.tool('echo')?.handler({}, {})).toEqual(text('from a'));
    expect(t.reloader.status().errors).toEqual([]);
  });

  it('loads a module waiting for a missing import again when that file is reported changed, not added (regression: a watcher that saw the re-creation before the removal left the module failed; found by pnpm fuzz)', async () => {
    const t = await setup({ baseline: [file('a.ts'), file('lib/other.ts')] });
    const missing = new HotMcpError(
      'HOTMCP_ERR_MODULE_NOT_FOUND',
      `Failed to load ${file('a.ts')}: Cannot find module`,
      {
        file: file('a.ts'),
        line: 1,
        details: { module: file('a.ts'), specifier: './lib/helper.js' },
      },
    );
    t.loader.set(file('a.ts'), missing).set(file('lib/other.ts'), {}).set(file('lib/helper.ts'), {});
    await t.reloader.start();
    expect(t.reloader.status().errors).toEqual([expect.objectContaining({ module: file('a.ts') })]);
    t.loader.set(file('a.ts'), { default: tool('a') });
    const loads = t.loader.loads.length;
    await t.change({ changed: [file('lib/other.ts')] }); // not where the import points: a.ts is left alone
    expect(t.loader.loads.slice(loads).flat()).not.toContain(file('a.ts'));
    await t.change({ changed: [file('lib/helper.ts')] });
    expect(t.adapter.list().tools).toEqual(['a']);
    expect(t.reloader.status().errors).toEqual([]);
  });

  it('rejects a name registered on the server outside the reloader', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.adapter.addForeignTool('static');
    t.loader.set(file('a.ts'), { default: tool('static') });
    await t.reloader.start();
    expect(t.adapter.entries.get('tool:static')).toBe('foreign');
    expect(t.reloader.status().errors[0]?.code).toBe('HOTMCP_ERR_NAME_CONFLICT');
  });

  it('never loads a denied file', async () => {
    const t = await setup({
      baseline: [file('a.ts'), file('private/x.ts'), file('server.ts')],
      deny: ['private/**'],
      denyFiles: [file('server.ts')],
    });
    t.loader.set(file('a.ts'), { default: tool('a') }).set(file('private/x.ts'), { default: tool('x') });
    await t.reloader.start();
    expect(t.loader.loads.flat()).toEqual([file('a.ts')]);
    expect(t.adapter.list().tools).toEqual(['a']);
    const denied = t.audit.events.filter((e) => e.event === 'file.denied').map((e) => e.file);
    expect(denied).toEqual([file('private/x.ts'), file('server.ts')]);
  });

  it("loads a root-level file named ..foo.ts (regression: the deny list's startsWith('..') called it outside the root)", async () => {
    const t = await setup({ baseline: [file('..foo.ts')] });
    t.loader.set(file('..foo.ts'), { default: tool('foo') });
    await t.reloader.start();
    expect(t.adapter.list().tools).toEqual(['foo']);
    expect(t.audit.events.filter((event) => event.event === 'file.denied')).toEqual([]);
  });

  it('applies one commit for a batch that touches several modules', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.loader.set(file('a.ts'), { default: tool('a') });
    await t.reloader.start();
    t.loader.set(file('b.ts'), { default: tool('b') }).set(file('c.ts'), { default: tool('c') });
    await t.change({ added: [file('b.ts'), file('c.ts')], removed: [file('a.ts')] });
    expect(t.adapter.commits).toHaveLength(2);
    expect(t.adapter.notifications).toBe(2);
    expect(t.adapter.list().tools.sort()).toEqual(['b', 'c']);
  });

  it('merges batches that arrive during a reload into one', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    await t.reloader.start();
    let release = () => {};
    t.loader.gate = new Promise((resolve) => {
      release = resolve;
    });
    t.source.emit({ added: [file('b.ts')] });
    await vi.waitFor(() => expect(t.loader.loads).toHaveLength(2)); // b is loading
    t.source.emit({ added: [file('c.ts')] });
    t.source.emit({ added: [file('d.ts')] });
    release();
    await t.reloader.idle();
    expect(t.loader.loads.slice(1)).toEqual([[file('b.ts')], [file('c.ts'), file('d.ts')]]);
  });

  it('hands the loader the compilations a source gave with its batches, the newest of each file still changed, merged as the batches are, and reports the modules that ran one', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    for (const name of ['a', 'b', 'c']) t.loader.set(file(`${name}.ts`), { default: tool(name) });
    await t.reloader.start();
    const given: Array<LoadOptions['compiled']> = [];
    const load = t.loader.load.bind(t.loader);
    Object.assign(t.loader, {
      load: async (files: readonly string[], options?: LoadOptions) => {
        given.push(options?.compiled);
        const results = await load(files);
        return results.map((result) =>
          result.ok && options?.compiled?.[result.file] ? { ...result, precompiled: true } : result,
        );
      },
    });
    const compilation = (code: string) => ({ compiler: 'c', key: 'k', code, imports: [] });
    let release = () => {};
    t.loader.gate = new Promise((resolve) => {
      release = resolve;
    });
    t.source.emit({ changed: [file('a.ts')], compiled: { [file('a.ts')]: compilation('a1') } });
    await vi.waitFor(() => expect(given).toHaveLength(1)); // a is loading
    t.source.emit({ changed: [file('a.ts')], compiled: { [file('a.ts')]: compilation('a2') } });
    t.source.emit({ added: [file('b.ts')], compiled: { [file('b.ts')]: compilation('b1') } });
    t.source.emit({ added: [file('c.ts')], compiled: { [file('c.ts')]: compilation('c1') } });
    t.source.emit({ changed: [file('c.ts')] }); // changed again with none: its earlier one is stale
    release();
    await t.reloader.idle();
    expect(given).toEqual([
      { [file('a.ts')]: compilation('a1') },
      { [file('a.ts')]: compilation('a2'), [file('b.ts')]: compilation('b1') },
    ]);
    expect(t.loader.loads.at(-1)).toEqual([file('a.ts'), file('b.ts'), file('c.ts')]);
    expect(t.reloader.status().lastBatch).toMatchObject({ loaded: 3, precompiled: 2 });
  });

  it('refuses only the definition the adapter cannot take', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.adapter.refuse.add('bad');
    t.loader.set(file('a.ts'), { good: tool('good'), bad: tool('bad') });
    await t.reloader.start();
    expect(t.adapter.list().tools).toEqual(['good']);
    expect(t.reloader.status().errors[0]).toMatchObject({ code: 'HOTMCP_ERR_INVALID_DEFINITION' });
  });

  it('leaves the registry and ownership unchanged when the commit fails, and retries on the next batch', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.loader.set(file('a.ts'), { default: tool('a', 'v1') });
    await t.reloader.start();
    t.loader.set(file('a.ts'), { default: tool('a', 'v2') });
    t.adapter.failNextCommit = true;
    await t.change({ changed: [file('a.ts')] });
    expect(await t.adapter.tool('a')?.handler({}, {})).toEqual(text('v1'));
    expect(t.audit.events.some((e) => e.event === 'batch.failed')).toBe(true);
    await t.change({ added: [file('b.ts')] });
    expect(await t.adapter.tool('a')?.handler({}, {})).toEqual(text('v2'));
  });

  it('calls dispose of the replaced version and audits one that throws', async () => {
    const t = await setup({ baseline: [file('a.ts'), file('b.ts')] });
    const disposed: string[] = [];
    t.loader.set(file('a.ts'), { default: tool('a'), dispose: () => disposed.push('a') });
    t.loader.set(file('b.ts'), {
      default: tool('b'),
      dispose: () => {
        throw new Error('cannot close');
      },
    });
    await t.reloader.start();
    await t.change({ changed: [file('a.ts'), file('b.ts')] });
    expect(disposed).toEqual(['a']);
    expect(t.audit.events.find((e) => e.event === 'module.dispose_failed')).toMatchObject({
      code: 'HOTMCP_ERR_DISPOSE_FAILED',
    });
    expect(t.adapter.list().tools.sort()).toEqual(['a', 'b']);
  });

  it('retries a failed module when files are added, since its missing import may now exist', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.loader.set(file('a.ts'), new HotMcpError('HOTMCP_ERR_MODULE_NOT_FOUND', 'no ./lib/h.js'));
    await t.reloader.start();
    t.loader.set(file('a.ts'), { default: tool('a') });
    await t.change({ added: [file('lib/h.ts')] });
    expect(t.adapter.list().tools).toEqual(['a']);
  });

  it('reports the last batch and stops the change source', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.loader.set(file('a.ts'), { default: tool('a') });
    await t.reloader.start();
    t.loader.set(file('a.ts'), { default: tool('a', 'v2') });
    await t.change({ changed: [file('a.ts')] });
    const status = t.reloader.status();
    expect(status).toMatchObject({ running: true, root: ROOT, trackedFiles: [file('a.ts')] });
    expect(status.lastBatch).toMatchObject({ changed: 1, loaded: 1, upserted: ['tool:a'], notified: ['tool'] });
    expect(status.lastBatch?.durationMs).toBeGreaterThanOrEqual(0);
    await t.reloader.stop();
    await t.reloader.stop();
    expect(t.source.stopped).toBe(true);
    expect(t.reloader.status().running).toBe(false);
  });
});

describe('ReloadEngine.stop', () => {
  it('unregisters its own definitions and leaves foreign ones', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.adapter.addForeignTool('static');
    t.loader.set(file('a.ts'), { default: tool('a') });
    await t.reloader.start();
    await t.reloader.stop();
    expect(t.adapter.list().tools).toEqual(['static']);
  });
});

describe('ReloadEngine with prompts and resources', () => {
  const prompt = (name: string) =>
    definePrompt({ name, handler: () => ({ messages: [{ role: 'user', content: { type: 'text', text: name } }] }) });
  const resource = (uri: string, name = 'r') =>
    defineResource({ name, uri, handler: (u) => ({ contents: [{ uri: u.href, text: name }] }) });

  it('registers tools, prompts, fixed resources and templates from one module in one commit', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.loader.set(file('a.ts'), {
      t: tool('t'),
      p: prompt('p'),
      r: resource('config://app'),
      tpl: defineResource({
        name: 'user',
        template: 'users://{id}',
        handler: (u) => ({ contents: [{ uri: u.href }] }),
      }),
    });
    await t.reloader.start();
    expect(t.adapter.list()).toEqual({
      tools: ['t'],
      prompts: ['p'],
      resources: ['config://app'],
      resourceTemplates: ['user'],
    });
    expect(t.adapter.commits).toHaveLength(1);
    expect(t.reloader.status().counts).toMatchObject({ tools: 1, prompts: 1, resources: 2 });
  });

  it('keys fixed resources by normalised URI, so two spellings of one URI conflict', async () => {
    const t = await setup({ baseline: [file('a.ts'), file('b.ts')] });
    t.loader.set(file('a.ts'), { r: resource('CONFIG://app/./x', 'first') });
    t.loader.set(file('b.ts'), { r: resource('config://app/x', 'second') });
    await t.reloader.start();
    expect(t.adapter.list().resources).toEqual(['config://app/x']);
    expect(t.reloader.status().errors).toEqual([
      expect.objectContaining({ module: file('b.ts'), code: 'HOTMCP_ERR_NAME_CONFLICT' }),
    ]);
  });

  it('fails a module whose resource URI is not a URL', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.loader.set(file('a.ts'), { r: resource('not a url') });
    await t.reloader.start();
    expect(t.reloader.status().errors[0]).toMatchObject({ code: 'HOTMCP_ERR_INVALID_DEFINITION' });
    expect(t.reloader.status().errors[0]?.message).toMatch(/not a valid URL/);
  });

  it('fails a module that exports two prompts with one name', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.loader.set(file('a.ts'), { one: prompt('p'), two: prompt('p') });
    await t.reloader.start();
    expect(t.reloader.status().errors[0]).toMatchObject({ code: 'HOTMCP_ERR_DUPLICATE_NAME' });
  });

  it('unregisters a fixed resource by its URI on stop (regression: stop() passed its display name)', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.loader.set(file('a.ts'), { r: resource('Config://App/x', 'settings') });
    await t.reloader.start();
    expect(t.adapter.list().resources).toEqual(['config://App/x']);
    await t.reloader.stop();
    expect(t.adapter.list().resources).toEqual([]);
  });

  it('lets a tool and a prompt share a name: they live in different lists', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    t.loader.set(file('a.ts'), { t: tool('same'), p: prompt('same') });
    await t.reloader.start();
    expect(t.adapter.list()).toMatchObject({ tools: ['same'], prompts: ['same'] });
  });
});

describe('ReloadEngine: register(server) modules', () => {
  /** A capture for the fake adapter: a server with registerTool only, as the adapters' recording servers offer it. */
  function withCapture(adapter: FakeRegistryAdapter) {
    const capture = vi.fn(async (register: (server: unknown) => unknown, options: { signal: AbortSignal }) => {
      const definitions: ReturnType<typeof tool>[] = [];
      const server = {
        registerTool: (name: string, config: { description?: string }, cb: () => unknown) => {
          if (options.signal.aborted) throw new Error('sealed');
          definitions.push(defineTool({ name, ...config, handler: () => cb() as never }));
        },
      };
      await new Promise<void>((resolve, reject) => {
        options.signal.addEventListener('abort', () => reject(options.signal.reason));
        Promise.resolve(register(server)).then(() => resolve(), reject);
      });
      return { definitions };
    });
    Object.assign(adapter, { capture });
    return capture;
  }

  it('owns what a register function registers, beside exported definitions, and follows its edits', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    const capture = withCapture(t.adapter);
    t.loader.set(file('a.ts'), {
      exported: tool('exported'),
      register(server: { registerTool: Function }) {
        server.registerTool('one', {}, () => text('one v1'));
        server.registerTool('two', {}, () => text('two'));
      },
    });
    await t.reloader.start();
    expect(t.adapter.list().tools.sort()).toEqual(['exported', 'one', 'two']);
    expect(capture).toHaveBeenCalledWith(
      expect.any(Function),
      expect.objectContaining({ file: file('a.ts'), root: ROOT }),
    );
    t.loader.set(file('a.ts'), {
      default: async (s: { registerTool: Function }) => {
        s.registerTool('one', {}, () => text('one v2'));
        s.registerTool('three', {}, () => text('three'));
      },
    });
    await t.change({ changed: [file('a.ts')] });
    expect(t.adapter.list().tools.sort()).toEqual(['one', 'three']);
    expect(await t.adapter.tool('one')?.handler({}, {})).toEqual(text('one v2'));
  });

  it('keeps the last good version when a register function throws, naming the module', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    withCapture(t.adapter);
    t.loader.set(file('a.ts'), {
      register: (s: { registerTool: Function }) => s.registerTool('one', {}, () => text('1')),
    });
    await t.reloader.start();
    t.loader.set(file('a.ts'), {
      register() {
        throw new Error('register broke');
      },
    });
    await t.change({ changed: [file('a.ts')] });
    expect(t.adapter.list().tools).toEqual(['one']);
    expect(t.reloader.status().errors).toEqual([
      expect.objectContaining({
        module: file('a.ts'),
        code: 'HOTMCP_ERR_IMPORT_THREW',
        message: expect.stringContaining('register broke'),
      }),
    ]);
  });

  it('gives up on a register function that never settles after the capture time limit, keeping the last good version', async () => {
    const t = await setup({ baseline: [file('a.ts')] });
    (t.reloader.container.resolve(TOKENS.settings) as ReloaderSettings).captureTimeoutMs = 50;
    withCapture(t.adapter);
    t.loader.set(file('a.ts'), {
      register: (s: { registerTool: Function }) => s.registerTool('one', {}, () => text('1')),
    });
    await t.reloader.start();
    t.loader.set(file('a.ts'), { register: () => new Promise(() => {}) });
    await t.change({ changed: [file('a.ts')] });
    expect(t.adapter.list().tools).toEqual(['one']);
    expect(t.reloader.status().errors[0]).toMatchObject({ code: 'HOTMCP_ERR_IMPORT_TIMEOUT' });
  });

  it('refuses a module that exports and registers one name, and a register function the adapter cannot capture', async () => {
    const t = await setup({ baseline: [file('a.ts'), file('b.ts')] });
    t.loader.set(file('b.ts'), { register: () => {} });
    await t.reloader.start();
    expect(t.reloader.status().errors).toEqual([
      expect.objectContaining({ module: file('b.ts'), code: 'HOTMCP_ERR_CAPTURE_UNSUPPORTED' }),
    ]);
    withCapture(t.adapter);
    t.loader.set(file('a.ts'), {
      same: tool('same'),
      register: (s: { registerTool: Function }) => s.registerTool('same', {}, () => text('')),
    });
    await t.change({ changed: [file('a.ts')] });
    expect(t.reloader.status().errors).toContainEqual(
      expect.objectContaining({ module: file('a.ts'), code: 'HOTMCP_ERR_DUPLICATE_NAME' }),
    );
  });
});
