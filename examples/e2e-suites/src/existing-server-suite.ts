/**
 * The e2e suite of the existing-server examples (one per SDK major): runs an
 * example the way a user does — `hotmcp dev src/server.ts` — on a temp copy
 * of it, under the official SDK Client over real stdio.
 */
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

interface Sandbox {
  /** The `hotmcp` bin of the example's @hotmcp/cli, as its `pnpm start` runs it. */
  cliBin: string;
  dir: string;
  auditLog: string;
  read(relative: string): Promise<string>;
  write(relative: string, content: string): Promise<void>;
  /** Replace `from` by `to` in a file; throws when `from` is not in it. */
  edit(relative: string, from: string, to: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** A temp copy of the example's package (sources and package.json), resolving packages from the example. */
async function createSandbox(exampleDir: string): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'hotmcp-existing-'));
  const cliBin = join(dirname(createRequire(join(exampleDir, 'package.json')).resolve('@hotmcp/cli')), 'bin.cjs');
  await cp(join(exampleDir, 'src'), join(dir, 'src'), { recursive: true });
  await cp(join(exampleDir, 'package.json'), join(dir, 'package.json'));
  await symlink(join(exampleDir, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const read = (relative: string) => readFile(join(dir, relative), 'utf8');
  const write = (relative: string, content: string) => writeFile(join(dir, relative), content);
  return {
    cliBin,
    dir,
    auditLog: join(dir, 'audit.log'),
    read,
    write,
    async edit(relative, from, to) {
      const text = await read(relative);
      if (!text.includes(from)) throw new Error(`${relative} does not contain ${from}`);
      await write(relative, text.replace(from, to));
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

interface Session {
  client: Client;
  /** How many notifications/tools/list_changed arrived so far. */
  listChanged(): number;
  /** The log messages the server sent. */
  logs(): Array<{ level: string; data: unknown }>;
  stderr(): string;
  close(): Promise<void>;
}

/** Start `hotmcp dev src/server.ts` in the sandbox and connect the SDK Client over stdio. */
async function connect(sandbox: Sandbox, args: string[] = []): Promise<Session> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [sandbox.cliBin, 'dev', ...args, 'src/server.ts'],
    cwd: sandbox.dir,
    env: { ...(process.env as Record<string, string>), HOTMCP_AUDIT_LOG: sandbox.auditLog },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: 'hotmcp-existing-test', version: '0.0.0' });
  let listChanged = 0;
  const logs: Array<{ level: string; data: unknown }> = [];
  client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
    listChanged++;
  });
  client.setNotificationHandler(LoggingMessageNotificationSchema, async ({ params }) => {
    logs.push({ level: params.level, data: params.data });
  });
  await client.connect(transport);
  return {
    client,
    listChanged: () => listChanged,
    logs: () => logs,
    stderr: () => stderr,
    close: () => client.close(),
  };
}

/** The text of a tool call's first content item. */
async function callText(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const result = await client.callTool({ name, arguments: args });
  const first = (result.content as Array<{ type: string; text?: string }>)[0];
  return first?.text ?? '';
}

/** The names of the listed tools, sorted. */
async function toolNames(client: Client): Promise<string[]> {
  return (await client.listTools()).tools.map((tool) => tool.name).sort();
}

const poll = { timeout: 15_000, interval: 20 };

/**
 * The example at `exampleDir` (examples/existing-server or existing-server-v2)
 * under `hotmcp dev`: every registration shape served, edits applied in place.
 */
export function existingServerSuite(exampleDir: string, sdk: string): void {
  let sandbox: Sandbox;
  let session: Session;

  beforeEach(async () => {
    sandbox = await createSandbox(exampleDir);
  });

  afterEach(async () => {
    await session?.close();
    await sandbox?.cleanup();
  });

  const pidOf = async () => JSON.parse(await callText(session.client, 'server_info')).pid as number;

  describe(`the existing ${sdk} server under hotmcp dev`, () => {
    it('serves every registration shape, and applies edits of each in place, in the same process', async () => {
      session = await connect(sandbox);
      const { client } = session;
      expect(await toolNames(client)).toEqual(['add', 'count', 'greet', 'reverse', 'server_info', 'upper', 'visit']);
      expect((await client.listPrompts()).prompts.map((prompt) => prompt.name)).toEqual(['review']);
      const note = (await client.readResource({ uri: 'notes://7' })).contents[0];
      expect(note && 'text' in note ? note.text : undefined).toBe('note 7');
      const pid = await pidOf();
      expect(await callText(client, 'count')).toBe('1');
      expect(await callText(client, 'count')).toBe('2');
      expect(await callText(client, 'visit')).toBe('visits: 1');

      // A registerTools(server) module: a new handler body, no list_changed.
      await sandbox.edit('src/tools/greet.ts', '`Hello, ', '`Hi, ');
      await expect.poll(() => callText(client, 'greet', { name: 'Ada' }), poll).toBe('Hi, Ada!');
      // A module neither edited nor importing an edited one keeps its state.
      expect(await callText(client, 'count')).toBe('3');

      // A tool in the entry file.
      await sandbox.edit('src/server.ts', '`sum: ', '`total: ');
      await expect.poll(() => callText(client, 'add', { a: 2, b: 3 }), poll).toBe('total: 5');
      // An array registered in a loop.
      await sandbox.edit('src/text-tools.ts', 'text.toUpperCase()', "text.toUpperCase().concat('!')");
      await expect.poll(() => callText(client, 'upper', { text: 'abc' }), poll).toBe('ABC!');
      // State kept in import.meta.hot.data survives an edit of its own module.
      // Every call counts one visit, in the old version or the new: the count goes on from the calls made, however
      // many the poll took before the edit was applied.
      let visits = 1;
      await sandbox.edit('src/tools/visits.ts', '`visits: ', '`visits so far: ');
      await expect
        .poll(() => {
          visits++;
          return callText(client, 'visit');
        }, poll)
        .toMatch(/^visits so far: \d+$/);
      expect(await callText(client, 'visit')).toBe(`visits so far: ${visits + 1}`);
      // A prompt.
      await sandbox.edit('src/server.ts', 'Please review:', 'Review this:');
      await expect
        .poll(async () => {
          const result = await client.getPrompt({ name: 'review', arguments: { code: 'x' } });
          return (result.messages[0]?.content as { text?: string } | undefined)?.text;
        }, poll)
        .toBe('Review this:\nx');
      expect(session.listChanged()).toBe(0);

      // Add a registration: list_changed, then listed and callable.
      await sandbox.edit(
        'src/tools/greet.ts',
        '\n}\n',
        "\n  server.registerTool('farewell', { description: 'Say goodbye' }, async () => ({ content: [{ type: 'text', text: 'Bye!' }] }));\n}\n",
      );
      await expect.poll(() => session.listChanged(), poll).toBeGreaterThan(0);
      expect(await toolNames(client)).toContain('farewell');
      expect(await callText(client, 'farewell')).toBe('Bye!');

      // Remove one: gone.
      const before = session.listChanged();
      const texts = await sandbox.read('src/text-tools.ts');
      await sandbox.write('src/text-tools.ts', texts.replace(/ {2}\{\n {4}name: 'reverse'[\s\S]*?\n {2}\},\n/, ''));
      await expect.poll(() => session.listChanged(), poll).toBeGreaterThan(before);
      expect(await toolNames(client)).not.toContain('reverse');

      // Break the entry: the last good version keeps answering, the error names file and line.
      const entry = await sandbox.read('src/server.ts');
      const lines = entry.split('\n');
      const brokenLine = lines.findIndex((line) => line.startsWith('registerTools(server);')) + 1;
      lines.splice(brokenLine - 1, 0, 'const broken = ;');
      await sandbox.write('src/server.ts', lines.join('\n'));
      await expect.poll(() => session.stderr(), poll).toContain(`hotmcp: src/server.ts:${brokenLine}:`);
      expect(await callText(client, 'add', { a: 1, b: 1 })).toBe('total: 2');
      expect(await callText(client, 'greet', { name: 'Ada' })).toBe('Hi, Ada!');
      await expect.poll(() => JSON.stringify(session.logs()), poll).toContain('server.ts');
      // The audit log is written in the background (from half a second after the start-up on): it follows.
      await expect.poll(() => sandbox.read('audit.log'), poll).toContain('module.failed');

      // Fix it: applied.
      await sandbox.write('src/server.ts', entry.replace('`total: ', '`fixed total: '));
      await expect.poll(() => callText(client, 'add', { a: 1, b: 1 }), poll).toBe('fixed total: 2');

      // Same process all along, and the untouched counter kept counting through every re-evaluation.
      expect(await pidOf()).toBe(pid);
      expect(await callText(client, 'count')).toBe('4');
    });
  });
}
