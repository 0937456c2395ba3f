// dispose() with the real engine and each real loader, in a real Node process:
// what a module started (timers, servers, listeners) is released when it is
// replaced or removed, and a dispose that throws is audited without stopping
// the reload.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// Each test starts a Node process; a loaded CI machine needs more than the default 5 s.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 30_000 });

const dist = join(dirname(fileURLToPath(import.meta.url)), '../../dist');
const coreDist = pathToFileURL(join(dist, 'index.js')).href;
const testingDist = pathToFileURL(join(dist, 'testing/index.js')).href;
let root: string;

beforeEach(async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), 'hotmcp-dispose-')));
  await writeFile(join(root, 'package.json'), '{ "type": "module" }');
  // Tool modules import @hotmcp/core: link the built package where Node looks for it.
  await mkdir(join(root, 'node_modules', '@hotmcp'), { recursive: true });
  await symlink(join(dist, '..'), join(root, 'node_modules', '@hotmcp', 'core'), 'dir');
});
afterEach(() => rm(root, { recursive: true, force: true }));

/** A tool module answering `reply`; `busy` ones start a timer, a TCP server and a process listener. */
function toolModule(reply: string, options: { busy?: boolean; disposeThrows?: boolean } = {}): string {
  const busy = options.busy
    ? `import { createServer } from 'node:net';
const timer = setInterval(() => {}, 60_000);
const server = createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const onSignal = () => {};
process.on('SIGUSR2', onSignal);
export async function dispose(): Promise<void> {
  clearInterval(timer);
  process.off('SIGUSR2', onSignal);
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
`
    : '';
  const throwing = options.disposeThrows
    ? "export function dispose(): void {\n  throw new Error('cannot close');\n}\n"
    : '';
  return `import { defineTool } from '@hotmcp/core';
${busy}${throwing}export default defineTool({ name: 'busy', handler: () => ({ content: [{ type: 'text', text: ${JSON.stringify(reply)} }] }) });
`;
}

type Step = { write: string } | { remove: true };

async function drive(loader: 'native' | 'runner', first: string, steps: Step[]) {
  const driver = `
    import { rmSync, writeFileSync } from 'node:fs';
    import { join } from 'node:path';
    import {
      createContainer, createReloaderFromContainer, registerClass, registerValue, TOKENS,
      NativeEsmModuleLoader, RunnerModuleLoader,
    } from ${JSON.stringify(coreDist)};
    import { FakeChangeSource, FakeRegistryAdapter, MemoryAuditSink } from ${JSON.stringify(testingDist)};
    const root = ${JSON.stringify(root)};
    const file = join(root, 'busy.ts');
    writeFileSync(file, ${JSON.stringify(first)});
    const source = new FakeChangeSource([file]);
    const adapter = new FakeRegistryAdapter();
    const audit = new MemoryAuditSink();
    const container = createContainer();
    registerValue(container, TOKENS.settings, { root, include: [], exclude: [], deny: [], denyFiles: [] });
    registerValue(container, TOKENS.changeSource, source);
    registerValue(container, TOKENS.registryAdapter, adapter);
    registerValue(container, TOKENS.auditSink, audit);
    registerClass(container, TOKENS.moduleLoader, ${loader === 'native' ? 'NativeEsmModuleLoader' : 'RunnerModuleLoader'});
    const reloader = createReloaderFromContainer(container);
    const snapshot = async () => {
      // A closed handle leaves the loop on its next turn.
      for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
      const resources = {};
      for (const type of process.getActiveResourcesInfo()) resources[type] = (resources[type] ?? 0) + 1;
      const tool = adapter.tool('busy');
      return {
        timers: resources.Timeout ?? 0,
        servers: resources.TCPServerWrap ?? 0,
        listeners: process.listenerCount('SIGUSR2'),
        reply: tool ? (await tool.handler({}, {})).content[0].text : null,
      };
    };
    await reloader.start();
    const out = [await snapshot()];
    for (const step of ${JSON.stringify(steps)}) {
      if (step.remove) {
        rmSync(file);
        source.emit({ removed: [file] });
      } else {
        writeFileSync(file, step.write);
        source.emit({ changed: [file] });
      }
      await reloader.idle();
      out.push(await snapshot());
    }
    const events = audit.events.map(({ event, code, file }) => ({ event, code, file }));
    await reloader.stop();
    process.stdout.write(JSON.stringify({ out, events }));
  `;
  await writeFile(join(root, 'driver.mjs'), driver);
  const { stdout } = await promisify(execFile)(process.execPath, ['driver.mjs'], { cwd: root, timeout: 50_000 });
  return JSON.parse(stdout) as {
    out: Array<{ timers: number; servers: number; listeners: number; reply: string | null }>;
    events: Array<{ event: string; code?: string; file?: string }>;
  };
}

describe.each(['native', 'runner'] as const)('dispose with the %s loader', (loader) => {
  it('releases the timers, servers and listeners of a replaced module, then of a removed one', async () => {
    const { out } = await drive(loader, toolModule('quiet'), [
      { write: toolModule('busy', { busy: true }) },
      { write: toolModule('quiet again') },
      { write: toolModule('busy again', { busy: true }) },
      { remove: true },
    ]);
    const [quiet, busy, quietAgain, busyAgain, removed] = out;
    const { reply: _, ...idle } = quiet as NonNullable<typeof quiet>;
    expect(busy).toEqual({
      timers: idle.timers + 1,
      servers: idle.servers + 1,
      listeners: idle.listeners + 1,
      reply: 'busy',
    });
    expect(quietAgain).toEqual({ ...idle, reply: 'quiet again' });
    expect(busyAgain).toMatchObject({ timers: idle.timers + 1, servers: idle.servers + 1, reply: 'busy again' });
    expect(removed).toEqual({ ...idle, reply: null });
  });

  it('audits a dispose that throws and applies the new version all the same', async () => {
    const { out, events } = await drive(loader, toolModule('v1', { disposeThrows: true }), [
      { write: toolModule('v2') },
    ]);
    expect(out.map(({ reply }) => reply)).toEqual(['v1', 'v2']);
    expect(events).toContainEqual({
      event: 'module.dispose_failed',
      code: 'HOTMCP_ERR_DISPOSE_FAILED',
      file: join(root, 'busy.ts'),
    });
  });
});
