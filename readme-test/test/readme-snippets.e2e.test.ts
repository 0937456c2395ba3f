import { type ChildProcess, execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readmeSnippets, tarballsNamed } from '../src/snippets.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../..', import.meta.url));
const readme = readFileSync(join(repo, 'README.md'), 'utf8');
const snippets = readmeSnippets(readme);

function snippet(name: string): string {
  const code = snippets.get(name);
  if (code === undefined) throw new Error(`README.md has no block marked <!-- readme-snippet: ${name} -->`);
  return code;
}

/** The versions this workspace tests with, so npm finds them in its cache. */
function versionOf(name: string, from: string): string {
  return JSON.parse(readFileSync(join(repo, from, 'node_modules', name, 'package.json'), 'utf8')).version;
}

let base: string;
let project: string;
let packs: string;

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'hotmcp readme-'));
  project = join(base, 'my server'); // a space in the path, as users' paths have
  packs = join(base, 'packs');
  mkdirSync(project);
  const { stdout: packed } = await run(process.execPath, [join(repo, 'scripts', 'pack-all.mjs'), packs]);
  // One install for every snippet: what the README's two install lines name together. The tarballs are
  // dependencies and overrides alike, so a tarball's own dependency on another (@hotmcp/cli's on
  // @hotmcp/watcher-native@0.0.0, say) resolves to the tarball: npm otherwise asks the registry for
  // it first, and where the registry's answer does not come back at once (a TLS failure retried with
  // back-off, a proxy that holds the connection) the install waits minutes for a 404 it ignores.
  // pack-all prints a line per tarball: `<path>.tgz (<name>@<version>)`.
  const tarballs = Object.fromEntries(
    [...packed.matchAll(/^(.+\.tgz) \((.+)@[^@]+\)$/gm)].map(([, path, name]) => [name, `file:${path}`]),
  );
  // @hotmcp/core's optional peer vitest is pinned to the workspace's version too: left to a range, npm picks the
  // newest release whose engines fit the Node running it (vitest 5 on Node 24, 4 on Node 20), and resolving the
  // newer one's own peers asked the registry for packages no run had cached (under Node 24 here every request
  // failed TLS and was retried until the set-up's 10 minutes ran out).
  const overrides = { ...tarballs, vitest: versionOf('vitest', 'packages/core') };
  const dependencies = {
    '@modelcontextprotocol/sdk': versionOf('@modelcontextprotocol/sdk', 'examples/sdk-v1-server'),
    '@modelcontextprotocol/server': versionOf('@modelcontextprotocol/server', 'examples/sdk-v2-server'),
    zod: versionOf('zod', 'examples/sdk-v2-server'),
    tsx: versionOf('tsx', 'packages/core'),
    ...tarballs,
  };
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'my-server', private: true, type: 'module', dependencies, overrides })}\n`,
  );
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {
    cwd: project,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
});

afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

/** A folder of the project with `server.ts` and `tools/echo.ts` from the README. */
function serverFolder(name: string, server: string, tools: Record<string, string> = {}): string {
  const folder = join(project, name);
  mkdirSync(join(folder, 'tools'), { recursive: true });
  writeFileSync(join(folder, 'server.ts'), server);
  writeFileSync(join(folder, 'tools', 'echo.ts'), snippet('tool-module'));
  for (const [file, code] of Object.entries(tools)) writeFileSync(join(folder, 'tools', file), code);
  return folder;
}

interface Running {
  client: Client;
  child: ChildProcess;
  stderr: () => string;
  listChanged: () => number;
}

/** `node --import tsx server.ts` in the folder, as the README says, under the real SDK client over stdio. */
async function serve(folder: string, env: Record<string, string> = {}): Promise<Running> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', 'server.ts'],
    cwd: folder,
    stderr: 'pipe',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TMPDIR: tmpdir(), ...env },
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const client = new Client({ name: 'readme-test', version: '1.0.0' });
  let listChanged = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    listChanged++;
  });
  try {
    await client.connect(transport);
  } catch (error) {
    throw new Error(`the server did not start: ${String(error)}\n${stderr}`);
  }
  const child = (transport as unknown as { _process: ChildProcess })._process;
  return { client, child, stderr: () => stderr, listChanged: () => listChanged };
}

/**
 * Close the client's end of stdin; the server must end on its own. The bound
 * only tells "exits" from "held open": a loaded CI machine must not turn the
 * time it takes into a failure (it is about 0.25 s on an idle machine).
 */
const EXIT_BOUND_MS = 10_000;

/** Close the client's end of stdin and wait for the server to end. */
async function expectExitOnStdinEnd({ child, client, stderr }: Running): Promise<void> {
  const exited = once(child, 'exit');
  child.stdin?.end();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), EXIT_BOUND_MS);
  });
  const outcome = await Promise.race([exited.then(() => 'exited' as const), late]);
  clearTimeout(timer);
  await client.close();
  expect(outcome, `still running ${EXIT_BOUND_MS} ms after stdin closed; stderr:\n${stderr()}`).toBe('exited');
}

async function toolText(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const result = await client.callTool({ name, arguments: args });
  return (result.content as Array<{ text?: string }>).map((part) => part.text ?? '').join('');
}

async function expectEditReloads(folder: string, running: Running): Promise<void> {
  const { client } = running;
  const file = join(folder, 'tools', 'echo.ts');
  const source = readFileSync(file, 'utf8');
  const edited = source.replace("description: 'Echo the text back'", "description: 'Echo the text back, edited'");
  expect(edited, 'the tool module snippet changed: update this edit').not.toBe(source);
  const before = running.listChanged();
  writeFileSync(file, edited);
  await expect
    .poll(async () => (await client.listTools()).tools.find((tool) => tool.name === 'echo')?.description, {
      timeout: 15_000,
    })
    .toBe('Echo the text back, edited');
  await expect.poll(() => running.listChanged(), { timeout: 5_000 }).toBeGreaterThan(before);
  expect(await toolText(client, 'echo', { text: 'still here' })).toBe('still here');
}

describe('README snippets, installed from the packed tarballs with npm, outside the monorepo', () => {
  it('names only tarballs that pack:all writes', () => {
    const named = [...tarballsNamed(readme)];
    expect(named.length).toBeGreaterThan(0);
    expect(readdirSync(packs)).toEqual(expect.arrayContaining(named));
  });

  it('marks the tool module, both servers and the composed reloader', () => {
    expect([...snippets.keys()]).toEqual(expect.arrayContaining(['tool-module', 'server-v1', 'server-v2', 'compose']));
  });

  it('the SDK 1.x server: lists the tool, reloads an edit, says a broken file on stderr, exits on stdin end', async () => {
    const folder = serverFolder('v1', snippet('server-v1'));
    const running = await serve(folder);
    expect((await running.client.listTools()).tools.map((tool) => tool.name)).toEqual(['echo']);
    expect(await toolText(running.client, 'echo', { text: 'hi' })).toBe('hi');
    expect(running.stderr()).toMatch(/^hotmcp: hot-reloading .*v1\/tools; audit log: /m);
    await expectEditReloads(folder, running);
    writeFileSync(join(folder, 'tools', 'broken.ts'), 'export const x = ;\n');
    await expect
      .poll(running.stderr, { timeout: 15_000 })
      .toMatch(/^hotmcp: tools\/broken\.ts:1: Unexpected ";" \(HOTMCP_ERR_SYNTAX\)$/m);
    await expectExitOnStdinEnd(running);
  });

  it('the SDK 2.x server: lists the tool and the prompt, reloads an edit, exits on stdin end', async () => {
    const folder = serverFolder('v2', snippet('server-v2'), { 'review.ts': snippet('prompts-resources') });
    const running = await serve(folder);
    expect((await running.client.listTools()).tools.map((tool) => tool.name)).toEqual(['echo']);
    expect((await running.client.listPrompts()).prompts.map((prompt) => prompt.name)).toEqual(['review']);
    await expectEditReloads(folder, running);
    await expectExitOnStdinEnd(running);
  });

  it('the composed reloader: lists the tool, reloads an edit, exits on stdin end', async () => {
    const folder = serverFolder('compose', snippet('compose'));
    const running = await serve(folder);
    expect((await running.client.listTools()).tools.map((tool) => tool.name)).toEqual(['echo']);
    await expectEditReloads(folder, running);
    await expectExitOnStdinEnd(running);
  });
});

describe('a server with no shutdown code of its own', () => {
  const bare = `import { fileURLToPath } from 'node:url';
import { startHotReload } from '@hotmcp/core';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const server = new McpServer({ name: 'bare', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });
await startHotReload({ server, root: fileURLToPath(new URL('./tools', import.meta.url)) });
await server.connect(new StdioServerTransport());
`;

  for (const watcher of ['native', 'poll']) {
    it(`exits once its client closes stdin: the reloader (${watcher} watcher, preflight worker, audit log) holds nothing open`, async () => {
      const folder = serverFolder(`bare-${watcher}`, bare);
      const running = await serve(folder, { HOTMCP_WATCHER: watcher });
      expect((await running.client.listTools()).tools.map((tool) => tool.name)).toEqual(['echo']);
      await expectExitOnStdinEnd(running);
    });
  }
});
