import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { callText, connectDev, createProject, type Project } from './fixture.js';

const poll = { timeout: 20_000, interval: 20 };
let project: Project | undefined;
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  await project?.cleanup();
  project = undefined;
});

/**
 * A server on the low-level `Server`, in the style of older servers and of Notion's: its own tools/list and
 * tools/call handlers, a tool description from a module of its graph, and a tool that writes a data file
 * into the project (which must restart nothing).
 */
const IMPORTS = {
  '1.x': `import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';`,
  // SDK 2.x takes the handlers by method name.
  '2.x': `import { Server } from '@modelcontextprotocol/server';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
const ListToolsRequestSchema = 'tools/list';
const CallToolRequestSchema = 'tools/call';`,
};
const entry = (sdk: keyof typeof IMPORTS) => `import { writeFileSync } from 'node:fs';
${IMPORTS[sdk]}
import { answer, description } from './tools.js';

const server = new Server({ name: 'low-level', version: '1.0.0' }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, async () => ({
  tools: [
    { name: 'ping', description: description(), inputSchema: { type: 'object' } },
    { name: 'save', description: 'Save data', inputSchema: { type: 'object' } },
  ],
}));
server.setRequestHandler(CallToolRequestSchema, async (request) => {
  if (request.params.name === 'save') writeFileSync('data.json', JSON.stringify({ at: Date.now() }));
  return { content: [{ type: 'text', text: answer() + ' ' + process.pid }] };
});
await server.connect(new StdioServerTransport());
`;
const tools = (version: string) => `export const description = () => 'Ping ${version}';
export const answer = () => '${version}';
`;

describe('hotmcp dev of an entry built on the low-level Server', () => {
  it.each([
    ['1.x', 'src/server.ts', 'src/tools.ts'],
    ['1.x', 'src/server.js', 'src/tools.js'],
    ['2.x', 'src/server.ts', 'src/tools.ts'],
  ] as const)(
    'serves it, and applies each edit of its graph by a restart the client does not see (SDK %s, %s)',
    async (sdk, file, helper) => {
      project = await createProject({ [file]: entry(sdk), [helper]: tools('one') });
      const dev = await connectDev(project, file);
      closers.push(() => dev.client.close());
      let listChanged = 0;
      dev.client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        listChanged++;
      });
      expect(dev.client.getServerCapabilities()?.tools).toEqual({ listChanged: true });
      expect(dev.client.getServerCapabilities()?.prompts).toBeUndefined();
      expect((await dev.client.listTools()).tools.map((tool) => tool.description)).toEqual(['Ping one', 'Save data']);
      const [text, first] = (await callText(dev.client, 'ping')).split(' ');
      expect(text).toBe('one');
      await expect.poll(() => dev.stderr(), poll).toMatch(/hotmcp: src\/server\.[jt]s serves a low-level Server/);

      await project.write(helper, tools('two'));
      await expect.poll(() => callText(dev.client, 'ping'), poll).toMatch(new RegExp(`^two (?!${first}$)\\d+$`));
      await expect.poll(() => listChanged, poll).toBeGreaterThan(0);
      expect((await dev.client.listTools()).tools[0]?.description).toBe('Ping two');
      expect(dev.stderr()).toMatch(
        /restarting the server: src\/tools\.[jt]s changed \(the entry serves a low-level Server/,
      );

      // A file the server writes into the project is not in its graph: it restarts nothing.
      const second = (await callText(dev.client, 'save')).split(' ')[1];
      await expect.poll(() => project?.read('data.json').catch(() => undefined), poll).toBeDefined();
      await project.write(helper, tools('three'));
      await expect.poll(() => callText(dev.client, 'ping'), poll).toMatch(new RegExp(`^three (?!${second}$)\\d+$`));
      expect(dev.stderr()).not.toMatch(/data\.json/);
      expect(dev.stderr()).not.toMatch(/"jsonrpc"|HOTMCP_ERR_NO_SERVER/);
      // Said by the first process only; no process stopped for a restart was aborted on its way out.
      expect(dev.stderr().match(/serves a low-level Server \(no McpServer\)/g)).toHaveLength(1);
      expect(dev.stderr()).not.toMatch(/FATAL ERROR/);
    },
  );

  it('does not restart into an edit that does not compile: the running version serves until the fix, then one restart', async () => {
    project = await createProject({ 'src/server.ts': entry('1.x'), 'src/tools.ts': tools('one') });
    const dev = await connectDev(project, 'src/server.ts');
    closers.push(() => dev.client.close());
    const first = await callText(dev.client, 'ping');
    await project.write('src/tools.ts', `${tools('two')}const broken = ;\n`);
    await expect
      .poll(() => dev.stderr(), poll)
      .toMatch(/hotmcp: src\/tools\.ts:3: Unexpected ";"; not restarted: the running version serves/);
    expect(await callText(dev.client, 'ping')).toBe(first);
    await project.write('src/tools.ts', tools('fixed'));
    await expect.poll(() => callText(dev.client, 'ping'), poll).toMatch(/^fixed \d+$/);
    expect(await callText(dev.client, 'ping')).not.toBe(first.replace('one', 'fixed'));
    expect(dev.stderr().match(/restarting the server/g)).toHaveLength(1);
    expect(dev.stderr()).not.toMatch(/ended unexpectedly/);
  });

  it('keeps the running version when an edit compiles but fails at start, and restarts at the fix', async () => {
    project = await createProject({ 'src/server.ts': entry('1.x'), 'src/tools.ts': tools('one') });
    const dev = await connectDev(project, 'src/server.ts');
    closers.push(() => dev.client.close());
    const first = await callText(dev.client, 'ping');
    await project.write('src/tools.ts', `${tools('two')}throw new Error('no config for two');\n`);
    await expect
      .poll(() => dev.stderr(), poll)
      .toMatch(
        /the new server process ended before it answered \(exit code \d+: .*no config for two.*\); not restarted: the running version \(pid \d+\) serves until the next change/,
      );
    expect(await callText(dev.client, 'ping')).toBe(first);
    await project.write('src/tools.ts', tools('fixed'));
    await expect.poll(() => callText(dev.client, 'ping'), poll).toMatch(/^fixed \d+$/);
    expect(dev.stderr()).not.toMatch(/ended unexpectedly|repeated crashes|only once the old one has stopped/);
  });

  it('restarts nothing for a save that leaves a file of its graph as it was', async () => {
    project = await createProject({ 'src/server.ts': entry('1.x'), 'src/tools.ts': tools('one') });
    const dev = await connectDev(project, 'src/server.ts');
    closers.push(() => dev.client.close());
    const first = await callText(dev.client, 'ping');
    // The same text saved again (its time changes), before or after its watch is on: compared with what it loaded.
    await project.write('src/tools.ts', tools('one'));
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(await callText(dev.client, 'ping')).toBe(first);
    await project.write('src/tools.ts', tools('two'));
    await expect.poll(() => callText(dev.client, 'ping'), poll).toMatch(/^two \d+$/);
    expect(dev.stderr().match(/restarting the server/g)).toHaveLength(1);
  });

  it('says a restart is needed when it runs with no supervisor, and keeps serving (and that --dispatcher does not apply)', async () => {
    project = await createProject({ 'src/server.ts': entry('1.x'), 'src/tools.ts': tools('one') });
    const dev = await connectDev(project, 'src/server.ts', ['--no-supervisor', '--dispatcher']);
    closers.push(() => dev.client.close());
    const first = await callText(dev.client, 'ping');
    expect((await dev.client.listTools()).tools.map((tool) => tool.name)).toEqual(['ping', 'save']);
    await expect.poll(() => dev.stderr(), poll).toMatch(/hotmcp: --dispatcher is not available for it/);
    await project.write('src/tools.ts', tools('two'));
    await expect
      .poll(() => dev.stderr(), poll)
      .toMatch(
        /hotmcp: src\/tools\.ts changed \(the entry serves a low-level Server.*\); restart hotmcp dev to apply it/,
      );
    expect(await callText(dev.client, 'ping')).toBe(first);
  });
});
