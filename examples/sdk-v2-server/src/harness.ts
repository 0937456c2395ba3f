/**
 * Runs this example the way a user does: a temp copy of its tools folder, the
 * server started over real stdio under the official SDK 2.x Client. Used by
 * the end-to-end tests.
 */
import { cp, mkdtemp, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sandbox } from '@hotmcp/example-e2e-suites';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';

const here = dirname(fileURLToPath(import.meta.url));
export const exampleDir = join(here, '..');
export const serverEntry = join(exampleDir, 'dist', 'server.js');

export type { Sandbox } from '@hotmcp/example-e2e-suites';

/** A temp folder holding a copy of the example's tools, resolving packages from the example. */
export async function createSandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'hotmcp-example-v2-'));
  const toolsDir = join(dir, 'tools');
  await cp(join(exampleDir, 'tools'), toolsDir, { recursive: true });
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
  await symlink(join(exampleDir, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return {
    dir,
    toolsDir,
    auditLog: join(dir, 'audit', 'audit.log'),
    write: (relative, content) => writeFile(join(toolsDir, relative), content),
    remove: (relative) => unlink(join(toolsDir, relative)),
    read: (relative) => readFile(join(toolsDir, relative), 'utf8'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A list whose list_changed the harness counts. */
export type ListName = 'tools' | 'prompts' | 'resources';

export interface Session {
  client: Client;
  /** How many list_changed notifications of `list` arrived so far (default: tools). */
  listChanged(list?: ListName): number;
  /** Resolves when the count of `list`'s list_changed reaches `count`; rejects after `timeoutMs`. */
  waitForListChanged(count: number, list?: ListName, timeoutMs?: number): Promise<void>;
  /** What the server wrote on stderr. */
  stderr(): string;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Extra environment for the server. */
  env?: Record<string, string>;
  /**
   * `'legacy'` (default): the 2025 `initialize` handshake, list_changed sent unsolicited.
   * `'modern'`: negotiate protocol 2026-07-28 and subscribe to every list (`subscriptions/listen`).
   */
  protocol?: 'legacy' | 'modern';
}

/** Start the example server on the sandbox's tools and connect the SDK 2.x Client over stdio. */
export async function connect(sandbox: Sandbox, options: ConnectOptions = {}): Promise<Session> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [serverEntry],
    cwd: sandbox.dir,
    env: {
      ...(process.env as Record<string, string>),
      HOTMCP_TOOLS_DIR: sandbox.toolsDir,
      HOTMCP_AUDIT_LOG: sandbox.auditLog,
      ...options.env,
    },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client(
    { name: 'hotmcp-harness', version: '0.0.0' },
    options.protocol === 'modern' ? { versionNegotiation: { mode: 'auto' } } : {},
  );
  const counts: Record<ListName, number> = { tools: 0, prompts: 0, resources: 0 };
  const waiters = new Set<() => void>();
  for (const list of ['tools', 'prompts', 'resources'] as const) {
    client.setNotificationHandler(`notifications/${list}/list_changed`, async () => {
      counts[list]++;
      for (const wake of waiters) wake();
    });
  }
  await client.connect(transport);
  if (options.protocol === 'modern') {
    await client.listen({ toolsListChanged: true, promptsListChanged: true, resourcesListChanged: true });
  }
  return {
    client,
    listChanged: (list = 'tools') => counts[list],
    waitForListChanged(target, list = 'tools', timeoutMs = 10_000) {
      if (counts[list] >= target) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${list} list_changed #${target}`));
        }, timeoutMs);
        const check = () => {
          if (counts[list] < target) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      });
    },
    stderr: () => stderr,
    close: () => client.close(),
  };
}

/** The text of a tool call's first content item (or the error message of a JSON-RPC error). */
export async function callText(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  try {
    const result = await client.callTool({ name, arguments: args });
    const first = (result.content as Array<{ type: string; text?: string }>)[0];
    return first?.text ?? '';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
