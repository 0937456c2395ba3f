/** Small servers in temp folders, run by the built `hotmcp` bin, for the CLI's end-to-end tests. */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const bin = join(packageDir, 'dist', 'bundle', 'bin.cjs');

export interface Project {
  dir: string;
  write(relative: string, content: string): Promise<void>;
  read(relative: string): Promise<string>;
  cleanup(): Promise<void>;
}

/** A temp project with the given files, resolving packages (the SDK 1.x, zod) from this package. */
export async function createProject(files: Record<string, string>): Promise<Project> {
  const dir = await mkdtemp(join(tmpdir(), 'hotmcp-cli-'));
  await symlink(join(packageDir, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const write = async (relative: string, content: string) => {
    await mkdir(dirname(join(dir, relative)), { recursive: true });
    await writeFile(join(dir, relative), content);
  };
  await write('package.json', '{ "type": "module" }\n');
  for (const [relative, content] of Object.entries(files)) await write(relative, content);
  return {
    dir,
    write,
    read: (relative) => readFile(join(dir, relative), 'utf8'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Run `hotmcp <args>` to its end; resolves with its exit code and output. */
export function runCli(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = fork(bin, args, {
      cwd,
      stdio: ['pipe', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, HOTMCP_AUDIT_LOG: join(cwd, 'audit.log') },
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // Like a client that stays connected: the CLI must end on its own (stdin is closed once it has).
    child.on('exit', (code) => {
      child.stdin?.destroy();
      resolve({ code, stdout, stderr });
    });
  });
}

/** `hotmcp dev <entry>` started with an IPC channel, as a supervisor starts it, and the SDK Client on its stdio. */
export interface Supervised {
  client: Client;
  child: ChildProcess;
  /** What it sent on the IPC channel, but the message that it serves. */
  messages: unknown[];
  /** Whether it said it serves (`{ type: 'hotmcp:serving' }`, once its first requests are answered). */
  served(): boolean;
  stderr(): string;
  close(): Promise<void>;
}

/** Start `hotmcp dev` on `entry` in `project` with an IPC channel, and connect the SDK Client to its stdio. */
export async function superviseDev(project: Project, entry: string): Promise<Supervised> {
  const child = fork(bin, ['dev', '--no-supervisor', entry], {
    cwd: project.dir,
    stdio: ['pipe', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, HOTMCP_AUDIT_LOG: join(project.dir, 'audit.log') },
  });
  const messages: unknown[] = [];
  let served = false;
  child.on('message', (message) => {
    if ((message as { type?: unknown } | null)?.type === 'hotmcp:serving') served = true;
    else messages.push(message);
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const transport = new ChildStdioTransport(child);
  const client = new Client({ name: 'hotmcp-cli-test', version: '0.0.0' });
  await client.connect(transport);
  return {
    client,
    child,
    messages,
    served: () => served,
    stderr: () => stderr,
    async close() {
      await client.close();
      // Once it has exited: a process still ending (flushing its audit log) writes into the project being removed.
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill();
        await exited;
      }
    },
  };
}

/** A client transport over a forked child's stdin and stdout (newline-delimited JSON-RPC, as the stdio transport). */
class ChildStdioTransport {
  onmessage?: (message: unknown) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  private buffer = '';
  constructor(private readonly child: ChildProcess) {}
  async start(): Promise<void> {
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString();
      for (let at = this.buffer.indexOf('\n'); at !== -1; at = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, at);
        this.buffer = this.buffer.slice(at + 1);
        if (line.trim()) this.onmessage?.(JSON.parse(line));
      }
    });
    this.child.on('exit', () => this.onclose?.());
  }
  async send(message: unknown): Promise<void> {
    this.child.stdin?.write(`${JSON.stringify(message)}\n`);
  }
  async close(): Promise<void> {
    this.child.stdin?.end();
  }
}

/** Use the official stdio client transport when no IPC channel is needed. */
export async function connectDev(
  project: Project,
  entry: string,
  options: string[] = [],
  env: Record<string, string> = {},
): Promise<{ client: Client; transport: StdioClientTransport; errors: Error[]; stderr(): string }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [bin, 'dev', ...options, entry],
    cwd: project.dir,
    env: { ...(process.env as Record<string, string>), HOTMCP_AUDIT_LOG: join(project.dir, 'audit.log'), ...env },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: 'hotmcp-cli-test', version: '0.0.0' });
  // What the client could not make sense of (a broken line on the wire, say).
  const errors: Error[] = [];
  client.onerror = (error) => errors.push(error);
  await client.connect(transport);
  return { client, transport, errors, stderr: () => stderr };
}

/** The text of a tool call's first content item. */
export async function callText(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const result = await client.callTool({ name, arguments: args });
  return (result.content as Array<{ text?: string }>)[0]?.text ?? '';
}
