/**
 * `hotmcp publish` and `hotmcp fleet status`, run by the built `hotmcp` bin
 * against a real redis-server and a real replica (a reloader on a Redis change
 * source, serving an SDK 1.x server to a real client).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSdkV1Adapter } from '@hotmcp/adapter-sdk-v1';
import { createReloader, type Reloader } from '@hotmcp/core';
import { createRedisChangeSource, publish } from '@hotmcp/source-redis';
import { type RedisServer, startRedisServer } from '@hotmcp/source-redis/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { runFleetCommand } from '../src/fleet-command.js';
import { createProject, type Project, runCli } from './fixture.js';

const stream = 'cli:fleet';
let redis: RedisServer;
let project: Project;
let reloader: Reloader;
let client: Client;

const greet = (text: string) => `import { defineTool } from '@hotmcp/core';
export default defineTool({ name: 'greet', description: 'Greet', handler: async () => ({ content: [{ type: 'text', text: ${JSON.stringify(text)} }] }) });
`;

/** `hotmcp <args> --redis <url> --stream <stream>`, from the project folder. */
const hotmcp = (...args: string[]) => runCli([...args, '--redis', redis.url, '--stream', stream], project.dir);

async function greeting(): Promise<string> {
  const result = await client.callTool({ name: 'greet', arguments: {} });
  return (result.content as Array<{ text: string }>)[0]?.text ?? '';
}

beforeAll(async () => {
  redis = await startRedisServer();
  project = await createProject({ 'origin/greet.ts': greet('v1'), 'replica/.keep': '' });
  const root = join(project.dir, 'replica');
  const changeSource = createRedisChangeSource({ root, redis: redis.url, stream, replica: 'r1' });
  const server = new McpServer(
    { name: 'replica', version: '1.0.0' },
    { capabilities: { tools: { listChanged: true } } },
  );
  reloader = await createReloader({
    root,
    adapter: createSdkV1Adapter(server),
    changeSource,
    coalesce: false,
    audit: false,
    preflight: false,
  });
  changeSource.observe(reloader);
  await reloader.start();
  const [serverSide, clientSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(clientSide);
});

afterAll(async () => {
  await client?.close();
  await reloader?.stop();
  await redis?.stop();
  await project?.cleanup();
});

// Each run of the bin pays Node's start and the import of @hotmcp/source-redis: three of them, the rest in-process.
it('hotmcp publish --wait sends the folder, waits for the replica and prints its outcome', async () => {
  const run = await hotmcp('publish', 'origin', '--wait', '--timeout', '30000');
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const id = /^published (\S+): 1 written, 0 deleted$/m.exec(run.stdout)?.[1];
  expect(id).toBeDefined();
  expect(run.stdout).toContain(`  r1 ${id} applied\n`);
  expect(await greeting()).toBe('v1'); // the replica's folder was empty: the tool came through Redis
});

it('hotmcp fleet status says how many entries the replica is behind once it stops', async () => {
  await reloader.stop(); // the replica goes away; two more entries are published
  for (const text of ['v2', 'v3']) {
    await writeFile(join(project.dir, 'origin', 'greet.ts'), greet(text));
    await publish({ dir: join(project.dir, 'origin'), redis: redis.url, stream });
  }
  const run = await hotmcp('fleet', 'status');
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(
    /^cli:fleet: head \S+ \(entry 3\), 3 entries kept, 1 files\n {2}r1 \S+ applied \(down, behind by 2 entries, stopped\)\n$/,
  );
});

it('bad usage exits 2 with the usage of hotmcp', async () => {
  const usage = await runCli(['publish'], project.dir);
  expect(usage.code).toBe(2);
  expect(usage.stderr).toContain('hotmcp publish <dir>');
  expect(usage.stderr).toContain('hotmcp fleet status');
});

it('without @hotmcp/source-redis installed, says how to install it', async () => {
  // A module outside any node_modules that has the package: its import fails as it would in such a project.
  const outside = await mkdtemp(join(tmpdir(), 'hotmcp-cli-bare-'));
  const probe = join(outside, 'probe.mjs');
  await writeFile(probe, "export const load = () => import('@hotmcp/source-redis');\n");
  const { load } = await import(probe);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    expect(await runFleetCommand(['publish', 'tools'], load)).toBe(1);
    expect(String(stderr.mock.calls[0]?.[0])).toMatch(
      /^hotmcp: 'publish' needs @hotmcp\/source-redis, which is not installed; install it next to @hotmcp\/cli \(npm install @hotmcp\/source-redis/,
    );
  } finally {
    stderr.mockRestore();
    await rm(outside, { recursive: true, force: true });
  }
});
