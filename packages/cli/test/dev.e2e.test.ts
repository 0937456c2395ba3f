import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { callText, connectDev, createProject, type Project, runCli, type Supervised, superviseDev } from './fixture.js';

const poll = { timeout: 15_000, interval: 20 };
let project: Project | undefined;
let supervised: Supervised | undefined;
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  await supervised?.close();
  supervised = undefined;
  await project?.cleanup();
  project = undefined;
});

/** A server whose capabilities leave listChanged out, with a module that keeps a cache in import.meta.hot.data. */
const server = (version: string, extra = '') => `import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { registerCacheTools } from './cache.js';

const server = new McpServer({ name: 'fixture', version: '${version}' }, { capabilities: { tools: {} } });
registerCacheTools(server);
${extra}
await server.connect(new StdioServerTransport());
`;

const cache = (label: string) => `import { writeFileSync } from 'node:fs';
const hits = (import.meta.hot?.data.hits as number[] | undefined) ?? [];
if (import.meta.hot) import.meta.hot.data.hits = hits;
import.meta.hot?.dispose(() => writeFileSync('disposed.txt', '${label}'));

export function registerCacheTools(server) {
  server.registerTool('hit', { description: 'Count hits' }, async () => {
    hits.push(1);
    return { content: [{ type: 'text', text: '${label} ' + hits.length }] };
  });
}
`;

describe('hotmcp (the CLI)', () => {
  it('prints its help on stderr and nothing on stdout', async () => {
    const { code, stdout, stderr } = await runCli(['dev', '--help'], process.cwd());
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toContain('Usage: hotmcp dev [options] <entry> [-- args...]');
    expect(stderr).toContain('import.meta.hot');
  });

  it('fails with a typed error for a missing entry', async () => {
    project = await createProject({});
    const { code, stdout, stderr } = await runCli(['dev', 'src/nope.ts'], project.dir);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/HOTMCP_ERR_ENTRY_NOT_FOUND: .*nope\.ts does not exist/);
  });

  it('exits with the option error for a bad option given with an entry (none from the server process started early)', async () => {
    project = await createProject({ 'src/server.js': server('1.0.0'), 'src/cache.js': cache('v1') });
    const { code, stdout, stderr } = await runCli(['dev', '--watcher', 'bogus', 'src/server.js'], project.dir);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.match(/--watcher must be auto, native or poll/g)).toHaveLength(1);
  });

  it('fails with a typed error when the entry connects no server in time', async () => {
    project = await createProject({ 'src/main.ts': "console.log('no server here');\n" });
    const { code, stdout, stderr } = await runCli(['dev', '--connect-timeout', '2000', 'src/main.ts'], project.dir);
    expect(code).toBe(1);
    expect(stdout).toBe(''); // what the entry printed went to stderr
    expect(stderr).toContain('no server here');
    expect(stderr).toMatch(/HOTMCP_ERR_NO_SERVER: .*connected no server within 2000 ms/);
  });
});

// An entry that sets a low-level notification handler, as a filesystem server does for roots/list_changed.
const pokeEntry = (label: string, handled = true) => `import { writeFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'fixture', version: '1.0.0' }, { capabilities: { tools: {} } });
server.registerTool('label', { description: 'Label' }, async () => ({ content: [{ type: 'text', text: '${label} ' + process.pid }] }));
${handled ? `server.server.setNotificationHandler(z.object({ method: z.literal('notifications/poke') }), async () => writeFileSync('poked.txt', '${label}'));` : ''}
await server.connect(new StdioServerTransport());
`;

// An entry that registers capabilities and a low-level handler in main(), as the memory reference server does.
const mainEntry = (
  label: string,
  capabilities: string,
) => `import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { SubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const server = new McpServer({ name: 'fixture', version: '1.0.0' }, { capabilities: { tools: {}, resources: {} } });
server.registerTool('label', { description: 'Label' }, async () => ({ content: [{ type: 'text', text: '${label} ' + process.pid }] }));

async function main() {
  server.server.registerCapabilities(${capabilities});
  server.server.setRequestHandler(SubscribeRequestSchema, async () => ({}));
  await server.connect(new StdioServerTransport());
}
main().catch((error) => {
  console.error('Fatal error in main():', error);
  process.exit(1);
});
`;

/** An SDK 2.x entry served by serveStdio(factory), both protocol eras. */
const serveStdioEntry = (label: string) => `import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';

serveStdio(() => {
  const server = new McpServer({ name: 'fixture-v2', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });
  server.registerTool('label', { description: '${label}' }, async () => ({ content: [{ type: 'text', text: '${label} ' + process.pid }] }));
  return server;
});
`;

describe('hotmcp dev', () => {
  it('advertises listChanged for the server (said once), keeps import.meta.hot.data, runs dispose when replaced', async () => {
    project = await createProject({ 'src/server.ts': server('1.0.0'), 'src/cache.ts': cache('v1') });
    const dev = await connectDev(project, 'src/server.ts');
    closers.push(() => dev.client.close());
    expect(dev.client.getServerCapabilities()?.tools?.listChanged).toBe(true);
    // (The server process's stderr shows once the supervisor has loaded, after the first answers.)
    await expect.poll(() => dev.stderr().match(/does not advertise listChanged for tools/g)?.length, poll).toBe(1);
    expect(await callText(dev.client, 'hit')).toBe('v1 1');

    await project.write('src/cache.ts', cache('v2'));
    await expect.poll(() => callText(dev.client, 'hit'), poll).toMatch(/^v2 \d+$/);
    await expect.poll(() => project?.read('disposed.txt'), poll).toBe('v1');
    expect(await callText(dev.client, 'hit')).toMatch(/^v2 ([3-9]|\d{2,})$/);
    expect(dev.stderr().match(/does not advertise listChanged/g)).toHaveLength(1);
  });

  it("runs an entry that starts with a hashbang (a server's bin), and applies edits of it in place", async () => {
    const withHashbang = (extra = '') => `#!/usr/bin/env node\n${server('1.0.0', extra)}`;
    project = await createProject({ 'src/server.ts': withHashbang(), 'src/cache.ts': cache('v1') });
    const dev = await connectDev(project, 'src/server.ts');
    closers.push(() => dev.client.close());
    expect(await callText(dev.client, 'hit')).toBe('v1 1');
    await project.write(
      'src/server.ts',
      withHashbang(
        "server.registerTool('added', { description: 'Added' }, async () => ({ content: [{ type: 'text', text: 'added' }] }));",
      ),
    );
    await expect.poll(() => callText(dev.client, 'added').catch(() => undefined), poll).toBe('added');
    expect(dev.stderr()).not.toMatch(/HOTMCP_ERR|restart/i);
  });

  it("names the module that failed, not the entry's process.exit, when an import fails and main().catch exits", async () => {
    const entry = `import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

async function main() {
  const server = new McpServer({ name: 'fixture', version: '1.0.0' });
  const { registerLeaf } = await import('./leaf.js');
  registerLeaf(server);
  await server.connect(new StdioServerTransport());
}
main().catch((error) => {
  console.error('Fatal error in main():', error);
  process.exit(1);
});
`;
    const leaf = (body: string) =>
      `export function registerLeaf(server) {\n  server.registerTool('leaf', { description: 'Leaf' }, async () => ({ content: [{ type: 'text', text: ${body} }] }));\n}\n`;
    project = await createProject({ 'src/server.ts': entry, 'src/leaf.ts': leaf("'leaf v1'") });
    const dev = await connectDev(project, 'src/server.ts');
    closers.push(() => dev.client.close());
    expect(await callText(dev.client, 'leaf')).toBe('leaf v1');
    await project.write('src/leaf.ts', leaf("'leaf v2"));
    await expect
      .poll(() => dev.stderr(), poll)
      .toMatch(/hotmcp: src\/leaf\.ts:2: .*; then src\/server\.ts:12 called process\.exit\(1\), refused/);
    expect(dev.stderr()).not.toMatch(/hotmcp: src\/server\.ts:12:/);
    expect(await callText(dev.client, 'leaf')).toBe('leaf v1');
  });

  it.each(['src/server.ts', 'src/server.js'])(
    'serves an SDK 2.x entry that uses serveStdio(factory), and applies its edits in place (%s)',
    async (file) => {
      project = await createProject({ [file]: serveStdioEntry('v1') });
      const dev = await connectDev(project, file);
      closers.push(() => dev.client.close());
      const pid = (await callText(dev.client, 'label')).split(' ')[1];
      await project.write(file, serveStdioEntry('v2'));
      await expect.poll(() => callText(dev.client, 'label'), poll).toBe(`v2 ${pid}`);
      expect((await dev.client.listTools()).tools.map((tool) => tool.description)).toEqual(['v2']);
      expect(dev.stderr()).not.toMatch(/HOTMCP_ERR|restarting the server|"jsonrpc"/);
    },
  );

  it('--dispatcher registers hotmcp_call, which calls the current version of any tool by name', async () => {
    project = await createProject({ 'src/server.ts': server('1.0.0'), 'src/cache.ts': cache('v1') });
    const dev = await connectDev(project, 'src/server.ts', ['--dispatcher']);
    closers.push(() => dev.client.close());
    const names = (await dev.client.listTools()).tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['hit', 'hotmcp_call', 'hotmcp_status']));
    expect(await callText(dev.client, 'hotmcp_call', { name: 'hit', arguments: {} })).toBe('v1 1');
    await project.write('src/cache.ts', cache('v2'));
    await expect
      .poll(() => callText(dev.client, 'hotmcp_call', { name: 'hit', arguments: {} }), poll)
      .toMatch(/^v2 \d+$/);
  });

  it('tells a supervisor on its IPC channel when an edit needs a restart, and keeps the last good version', async () => {
    project = await createProject({ 'src/server.ts': server('1.0.0'), 'src/cache.ts': cache('v1') });
    supervised = await superviseDev(project, 'src/server.ts');
    const { client, messages } = supervised;
    expect(await callText(client, 'hit')).toBe('v1 1');
    await expect.poll(() => supervised?.served(), poll).toBe(true);

    // A new server version cannot be applied to the running server.
    await project.write('src/server.ts', server('2.0.0'));
    await expect.poll(() => messages.length, poll).toBe(1);
    expect(messages[0]).toEqual({
      type: 'hotmcp:restart-needed',
      reason: expect.stringContaining("server's name, version, capabilities or options changed"),
      code: 'HOTMCP_ERR_RESTART_NEEDED',
      file: expect.stringMatching(/src\/server\.ts$/),
    });
    expect(supervised.stderr()).toMatch(/hotmcp: src\/server\.ts: .*restart hotmcp dev/);
    expect(await callText(client, 'hit')).toBe('v1 2');

    // Nor can a low-level request handler the running server does not have.
    const handler =
      "server.server.setRequestHandler(SetLevelRequestSchema, async () => ({}));\nimport { SetLevelRequestSchema } from '@modelcontextprotocol/sdk/types.js';";
    await project.write('src/server.ts', server('1.0.0', handler));
    await expect.poll(() => messages.length, poll).toBe(2);
    expect(messages[1]).toMatchObject({
      type: 'hotmcp:restart-needed',
      code: 'HOTMCP_ERR_RESTART_NEEDED',
      reason: expect.stringContaining('setRequestHandler'),
      file: expect.stringMatching(/src\/server\.ts$/),
      line: 7,
    });
    expect(await callText(client, 'hit')).toBe('v1 3');

    // Back to what the running server can take: applied, nothing more told.
    await project.write('src/server.ts', server('1.0.0', '// edited'));
    await project.write('src/cache.ts', cache('v3'));
    await expect.poll(() => callText(client, 'hit'), poll).toMatch(/^v3 \d$/);
    expect(messages).toHaveLength(2);
  });

  it('tells a supervisor when a re-evaluated module cannot listen on its port, and keeps serving', async () => {
    const port = await freePort();
    const entry = (note: string) => `import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

createServer(() => {}).listen(${port}, '127.0.0.1'); // ${note}
const server = new McpServer({ name: 'fixture', version: '1.0.0' });
server.registerTool('ping', { description: 'Ping' }, async () => ({ content: [{ type: 'text', text: 'pong' }] }));
await server.connect(new StdioServerTransport());
`;
    project = await createProject({ 'src/server.ts': entry('first') });
    supervised = await superviseDev(project, 'src/server.ts');
    expect(await callText(supervised.client, 'ping')).toBe('pong');
    await project.write('src/server.ts', entry('edited'));
    await expect.poll(() => supervised?.messages.length, poll).toBe(1);
    expect(supervised.messages[0]).toMatchObject({
      type: 'hotmcp:restart-needed',
      code: 'HOTMCP_ERR_RESTART_NEEDED',
      reason: expect.stringContaining('EADDRINUSE'),
    });
    expect(supervised.stderr()).toMatch(/hotmcp: uncaught: .*EADDRINUSE/);
    expect(await callText(supervised.client, 'ping')).toBe('pong');
  });
});

describe('hotmcp dev of a JavaScript entry (run natively first, then taken over)', () => {
  const entry = (text: string, extra = '') => `import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { registerCounter } from './counter.js';
import { registerLeaf } from './leaf.js';

const server = new McpServer({ name: 'fixture', version: '1.0.0' }, { capabilities: { tools: {} } });
server.registerTool('entry_tool', { description: 'Entry' }, async () => ({ content: [{ type: 'text', text: '${text} ' + process.pid }] }));
registerCounter(server);
registerLeaf(server);
${extra}
await server.connect(new StdioServerTransport());
`;
  const counter = `let count = 0;
export function registerCounter(server) {
  server.registerTool('count', { description: 'Count' }, async () => ({ content: [{ type: 'text', text: 'count ' + ++count }] }));
}
`;
  const leaf = (text: string) => `export function registerLeaf(server) {
  server.registerTool('leaf', { description: 'Leaf' }, async () => ({ content: [{ type: 'text', text: '${text}' }] }));
}
`;
  const files = () => ({
    'src/server.js': entry('entry v1'),
    'src/counter.js': counter,
    'src/leaf.js': leaf('leaf v1'),
  });

  it('applies edits of a leaf and of the entry in place; untouched modules keep their state; break and fix', async () => {
    project = await createProject(files());
    const dev = await connectDev(project, 'src/server.js');
    closers.push(() => dev.client.close());
    expect(dev.client.getServerCapabilities()?.tools?.listChanged).toBe(true);
    expect((await dev.client.listTools()).tools.map((tool) => tool.name).sort()).toEqual([
      'count',
      'entry_tool',
      'leaf',
    ]);
    const pid = (await callText(dev.client, 'entry_tool')).split(' ')[2];
    expect(await callText(dev.client, 'count')).toBe('count 1');

    await project.write('src/leaf.js', leaf('leaf v2'));
    await expect.poll(() => callText(dev.client, 'leaf'), poll).toBe('leaf v2');
    expect(await callText(dev.client, 'count')).toBe('count 2');

    await project.write('src/server.js', entry('entry v2'));
    await expect.poll(() => callText(dev.client, 'entry_tool'), poll).toBe(`entry v2 ${pid}`);
    expect(await callText(dev.client, 'count')).toBe('count 3');

    await project.write('src/server.js', entry('entry v3', 'const broken = ;'));
    await expect.poll(() => dev.stderr(), poll).toMatch(/hotmcp: src\/server\.js:10: /);
    expect(await callText(dev.client, 'entry_tool')).toBe(`entry v2 ${pid}`);
    await project.write('src/server.js', entry('entry v4'));
    await expect.poll(() => callText(dev.client, 'entry_tool'), poll).toBe(`entry v4 ${pid}`);
    expect(await callText(dev.client, 'count')).toBe('count 4');
    // The broken edit was told once, not by the reporter and core each.
    expect(dev.stderr().match(/hotmcp: src\/server\.js:10: /g)).toHaveLength(1);
    expect(dev.stderr().match(/does not advertise listChanged for tools/g)).toHaveLength(1);
  });

  it('refuses process.exit() and process.kill() of itself from a re-evaluated module: no restart, the last good version answers', async () => {
    project = await createProject(files());
    const dev = await connectDev(project, 'src/server.js');
    closers.push(() => dev.client.close());
    const first = await callText(dev.client, 'entry_tool');
    expect(await callText(dev.client, 'count')).toBe('count 1');

    await project.write('src/leaf.js', `process.exit(3);\n${leaf('leaf v2')}`);
    await expect
      .poll(() => dev.stderr(), poll)
      .toMatch(/hotmcp: src\/leaf\.js:1: the edited version called process\.exit\(3\)/);
    expect(await callText(dev.client, 'leaf')).toBe('leaf v1');
    expect(await callText(dev.client, 'entry_tool')).toBe(first); // the same process
    expect(await callText(dev.client, 'count')).toBe('count 2');
    await project.write('src/leaf.js', `process.kill(process.pid, 'SIGTERM');\n${leaf('leaf v2')}`);
    await expect
      .poll(() => dev.stderr(), poll)
      .toMatch(/hotmcp: src\/leaf\.js:1: the edited version called process\.kill\(\d+, "SIGTERM"\)/);
    expect(await callText(dev.client, 'entry_tool')).toBe(first);
    await project.write('src/leaf.js', leaf('leaf v3'));
    await expect.poll(() => callText(dev.client, 'leaf'), poll).toBe('leaf v3');

    // An entry whose start fails the usual way: main().catch(() => process.exit(1)), after its top level ran.
    await project.write(
      'src/server.js',
      `${entry('entry v2')}\nasync function main() { throw new Error('no config'); }\nmain().catch(() => process.exit(1));\n`,
    );
    await expect.poll(() => dev.stderr(), poll).toMatch(/hotmcp: src\/server\.js:14: .*process\.exit\(1\)/);
    expect(await callText(dev.client, 'entry_tool')).toBe(first);

    await project.write('src/server.js', entry('entry v3'));
    await expect.poll(() => callText(dev.client, 'entry_tool'), poll).toBe(first.replace('entry v1', 'entry v3'));
    expect(await callText(dev.client, 'count')).toBe('count 3');
    expect(dev.stderr()).not.toMatch(/restarting the server|ended unexpectedly/);
  });

  it('gives up a version whose top-level await never settles as soon as its file is saved again, and loads the fix', async () => {
    project = await createProject(files());
    const dev = await connectDev(project, 'src/server.js');
    closers.push(() => dev.client.close());
    expect(await callText(dev.client, 'leaf')).toBe('leaf v1');
    expect(await callText(dev.client, 'count')).toBe('count 1');
    await project.write(
      'src/leaf.js',
      `import { writeFileSync } from 'node:fs';\nwriteFileSync('hung.txt', 'yes');\nawait new Promise(() => {});\n${leaf('leaf v2')}`,
    );
    // The hung version is being evaluated: the fix is saved while the engine waits for it.
    await expect.poll(() => project?.read('hung.txt').catch(() => ''), poll).toBe('yes');
    await project.write('src/leaf.js', leaf('leaf v3'));
    await expect.poll(() => callText(dev.client, 'leaf'), poll).toBe('leaf v3');
    expect(dev.stderr()).toMatch(
      /hotmcp: src\/leaf\.js: .*had not finished on the main thread when .*leaf\.js was saved again/,
    );
    expect(dev.stderr()).not.toMatch(/within 5000 ms/);
    expect(await callText(dev.client, 'count')).toBe('count 2'); // the same process, its module state kept
  });

  it('loses no edit made while it starts, and tells the client of the dispatcher tools it adds', async () => {
    project = await createProject(files());
    const dev = await connectDev(project, 'src/server.js', ['--dispatcher']);
    closers.push(() => dev.client.close());
    await project.write('src/leaf.js', leaf('leaf v2'));
    await expect.poll(() => callText(dev.client, 'leaf'), poll).toBe('leaf v2');
    await expect
      .poll(async () => (await dev.client.listTools()).tools.map((tool) => tool.name), poll)
      .toEqual(expect.arrayContaining(['hotmcp_call', 'leaf']));
    expect(await callText(dev.client, 'hotmcp_call', { name: 'count', arguments: {} })).toBe('count 1');
  });

  it('lists hotmcp_call in the first tools/list of a JavaScript entry under --dispatcher, for clients that ignore list_changed', async () => {
    project = await createProject(files());
    const dev = await connectDev(project, 'src/server.js', ['--dispatcher']);
    closers.push(() => dev.client.close());
    // No wait: a client that ignores list_changed has only its first list.
    expect((await dev.client.listTools()).tools.map((tool) => tool.name)).toContain('hotmcp_call');
    expect(await callText(dev.client, 'hotmcp_call', { name: 'count', arguments: {} })).toBe('count 1');
  });
});

describe('hotmcp dev behind its supervisor (the default)', () => {
  const portEntry = (port: number, text: string) => `import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

createServer(() => {}).listen(${port}, '127.0.0.1');
const server = new McpServer({ name: 'fixture', version: '1.0.0' });
server.registerTool('ping', { description: 'Ping' }, async () => ({ content: [{ type: 'text', text: '${text} ' + process.pid }] }));
await server.connect(new StdioServerTransport());
`;

  it('restarts the server when an entry edit that binds a port cannot be applied in place, and the client never sees it', async () => {
    const port = await freePort();
    project = await createProject({ 'src/server.ts': portEntry(port, 'one') });
    const dev = await connectDev(project, 'src/server.ts');
    closers.push(() => dev.client.close());
    const errors: Error[] = [];
    dev.client.onerror = (error) => errors.push(error);
    const first = (await callText(dev.client, 'ping')).split(' ')[1];
    await project.write('src/server.ts', portEntry(port, 'two'));
    await expect.poll(() => callText(dev.client, 'ping'), poll).toMatch(new RegExp(`^two (?!${first}$)\\d+$`));
    expect(dev.stderr()).toMatch(/hotmcp: restarting the server: .*EADDRINUSE/);
    expect(errors).toEqual([]);
  });

  it.each(['src/server.ts', 'src/server.js'])(
    'applies an entry edit in place when its low-level notification handler is one the server has, and the new handler takes the notifications (%s)',
    async (file) => {
      project = await createProject({ [file]: pokeEntry('v1') });
      const dev = await connectDev(project, file);
      closers.push(() => dev.client.close());
      const poke = () => dev.transport.send({ jsonrpc: '2.0', method: 'notifications/poke' });
      const pid = (await callText(dev.client, 'label')).split(' ')[1];
      await poke();
      await expect.poll(() => project?.read('poked.txt').catch(() => undefined), poll).toBe('v1');

      await project.write(file, pokeEntry('v2'));
      await expect.poll(() => callText(dev.client, 'label'), poll).toBe(`v2 ${pid}`);
      await poke();
      await expect.poll(() => project?.read('poked.txt'), poll).toBe('v2');
      expect(dev.stderr()).not.toMatch(/HOTMCP_ERR|restarting the server/);
    },
  );

  it('restarts the server when an entry edit adds a low-level notification handler it does not have', async () => {
    project = await createProject({ 'src/server.ts': pokeEntry('v1', false) });
    const dev = await connectDev(project, 'src/server.ts');
    closers.push(() => dev.client.close());
    const pid = (await callText(dev.client, 'label')).split(' ')[1];
    await project.write('src/server.ts', pokeEntry('v2'));
    await expect.poll(() => callText(dev.client, 'label'), poll).toMatch(new RegExp(`^v2 (?!${pid}$)\\d+$`));
    expect(dev.stderr()).toMatch(/hotmcp: restarting the server: .*setNotificationHandler/);
    await dev.transport.send({ jsonrpc: '2.0', method: 'notifications/poke' });
    await expect.poll(() => project?.read('poked.txt').catch(() => undefined), poll).toBe('v2');
  });

  it.each(['src/server.ts', 'src/server.js'])(
    'applies an entry edit in place when it registers the capabilities the running server already has and sets a resources/subscribe handler (%s)',
    async (file) => {
      const same = '{ resources: { subscribe: true } }';
      project = await createProject({ [file]: mainEntry('v1', same) });
      const dev = await connectDev(project, file);
      closers.push(() => dev.client.close());
      const pid = (await callText(dev.client, 'label')).split(' ')[1];
      await project.write(file, mainEntry('v2', same));
      await expect.poll(() => callText(dev.client, 'label'), poll).toBe(`v2 ${pid}`);
      expect(dev.stderr()).not.toMatch(/HOTMCP_ERR|restarting the server/);
    },
  );

  it("restarts the server when an entry edit adds capabilities, even when the entry's main().catch then calls process.exit", async () => {
    project = await createProject({ 'src/server.ts': mainEntry('v1', '{ resources: { subscribe: true } }') });
    const dev = await connectDev(project, 'src/server.ts');
    closers.push(() => dev.client.close());
    const pid = (await callText(dev.client, 'label')).split(' ')[1];
    await project.write(
      'src/server.ts',
      mainEntry('v2', '{ resources: { subscribe: true }, experimental: { poke: {} } }'),
    );
    await expect.poll(() => callText(dev.client, 'label'), poll).toMatch(new RegExp(`^v2 (?!${pid}$)\\d+$`));
    expect(dev.stderr()).toMatch(/hotmcp: restarting the server: .*registerCapabilities/);
  });

  it('does not restart for code that is simply broken: the last good version keeps answering', async () => {
    const port = await freePort();
    project = await createProject({ 'src/server.ts': portEntry(port, 'one') });
    const dev = await connectDev(project, 'src/server.ts');
    closers.push(() => dev.client.close());
    const first = await callText(dev.client, 'ping');
    await project.write('src/server.ts', `${portEntry(port, 'one')}\nconst broken = ;\n`);
    await expect.poll(() => dev.stderr(), poll).toMatch(/hotmcp: src\/server\.ts:10: /);
    expect(await callText(dev.client, 'ping')).toBe(first);
    expect(dev.stderr()).not.toMatch(/restarting the server/);
  });
});

/** A TCP port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
