/**
 * Runs this example the way a user does — `hotmcp dev src/server.ts` — on a
 * temp copy of it, under the official SDK Client over real stdio.
 */
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';

const exampleDir = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The `hotmcp` bin of @hotmcp/cli, as `pnpm start` runs it. */
export const cliBin = join(dirname(createRequire(import.meta.url).resolve('@hotmcp/cli')), 'bin.js');

export interface Sandbox {
  dir: string;
  auditLog: string;
  read(relative: string): Promise<string>;
  write(relative: string, content: string): Promise<void>;
  /** Replace `from` by `to` in a file; throws when `from` is not in it. */
  edit(relative: string, from: string, to: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** A temp copy of the example's package (sources and package.json), resolving packages from the example. */
export async function createSandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'hotmcp-existing-v2-'));
  await cp(join(exampleDir, 'src'), join(dir, 'src'), { recursive: true });
  await cp(join(exampleDir, 'package.json'), join(dir, 'package.json'));
  await symlink(join(exampleDir, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const read = (relative: string) => readFile(join(dir, relative), 'utf8');
  const write = (relative: string, content: string) => writeFile(join(dir, relative), content);
  return {
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

export interface Session {
  client: Client;
  /** How many notifications/tools/list_changed arrived so far. */
  listChanged(): number;
  /** The log messages the server sent. */
  logs(): Array<{ level: string; data: unknown }>;
  stderr(): string;
  close(): Promise<void>;
}

/** Start `hotmcp dev src/server.ts` in the sandbox and connect the SDK Client over stdio. */
export async function connect(sandbox: Sandbox, args: string[] = []): Promise<Session> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [cliBin, 'dev', ...args, 'src/server.ts'],
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
export async function callText(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const result = await client.callTool({ name, arguments: args });
  const first = (result.content as Array<{ type: string; text?: string }>)[0];
  return first?.text ?? '';
}

/** The names of the listed tools, sorted. */
export async function toolNames(client: Client): Promise<string[]> {
  return (await client.listTools()).tools.map((tool) => tool.name).sort();
}
