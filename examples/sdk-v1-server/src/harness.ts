/**
 * Runs this example the way a user does: a temp copy of its tools folder, the
 * server started over real stdio under the official SDK Client. Used by the
 * demo, the end-to-end tests and the benchmark.
 */
import { cp, mkdtemp, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sandbox } from '@hotmcp/example-e2e-suites';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

const here = dirname(fileURLToPath(import.meta.url));
export const exampleDir = join(here, '..');
export const serverEntry = join(exampleDir, 'dist', 'server.js');

export type { Sandbox } from '@hotmcp/example-e2e-suites';

/** A temp folder holding a copy of the example's tools, resolving packages from the example. */
export async function createSandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'hotmcp-example-'));
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

export interface Session {
  client: Client;
  /** How many notifications/tools/list_changed arrived so far. */
  listChanged(): number;
  /** Resolves when the count of list_changed reaches `count`; rejects after `timeoutMs`. */
  waitForListChanged(count: number, timeoutMs?: number): Promise<void>;
  /** What the server wrote on stderr. */
  stderr(): string;
  close(): Promise<void>;
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /**
   * Start the server through util-linux `setpriv` without the capabilities
   * that let root read and search any file (CAP_DAC_OVERRIDE,
   * CAP_DAC_READ_SEARCH): a server started by root then meets file
   * permissions like anyone else, and still reads the checkout wherever it
   * is (a user switch could not pass a folder only root may enter).
   */
  withoutFileOverride?: boolean;
  /** Extra Node options for the server process (before the entry module). */
  nodeArgs?: string[];
}

/** Start the example server on the sandbox's tools and connect the SDK Client over stdio. */
export async function connect(
  sandbox: Sandbox,
  env: Record<string, string> = {},
  options: ConnectOptions = {},
): Promise<Session> {
  const transport = new StdioClientTransport({
    ...(options.withoutFileOverride
      ? {
          command: 'setpriv',
          args: [
            '--bounding-set=-dac_override,-dac_read_search',
            '--',
            process.execPath,
            ...(options.nodeArgs ?? []),
            serverEntry,
          ],
        }
      : { command: process.execPath, args: [...(options.nodeArgs ?? []), serverEntry] }),
    cwd: sandbox.dir,
    env: {
      ...(process.env as Record<string, string>),
      HOTMCP_TOOLS_DIR: sandbox.toolsDir,
      HOTMCP_AUDIT_LOG: sandbox.auditLog,
      ...env,
    },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: 'hotmcp-harness', version: '0.0.0' });
  let count = 0;
  const waiters = new Set<() => void>();
  client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
    count++;
    for (const wake of waiters) wake();
  });
  await client.connect(transport);
  return {
    client,
    listChanged: () => count,
    waitForListChanged(target, timeoutMs = 10_000) {
      if (count >= target) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for list_changed #${target} (got ${count})`));
        }, timeoutMs);
        const check = () => {
          if (count < target) return;
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

/** The text of a tool call's first content item. */
export async function callText(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const result = await client.callTool({ name, arguments: args });
  const first = (result.content as Array<{ type: string; text?: string }>)[0];
  return first?.text ?? '';
}
