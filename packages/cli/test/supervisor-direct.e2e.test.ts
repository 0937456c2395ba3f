// `hotmcp dev` behind its supervisor in direct mode (the default): the server process serves the
// client's stdin and stdout itself, with the real SDK Client over real stdio.
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterEach, describe, expect, it } from 'vitest';
import { bin, connectDev, createProject, type Project } from './fixture.js';

const poll = { timeout: 20_000, interval: 20 };
let project: Project | undefined;
const closers: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const close of closers.splice(0)) await close().catch(() => {});
  await project?.cleanup();
  project = undefined;
});

const entry = `import { existsSync, readdirSync, readlinkSync, writeSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

if (existsSync('crash-at-start')) process.exit(7);
const server = new McpServer({ name: 'direct', version: '1.0.0' });
const text = (t: unknown) => ({ content: [{ type: 'text' as const, text: String(t) }] });
const recorded: number[] = [];
const fds = () => readdirSync('/proc/self/fd').map((fd) => { try { return readlinkSync('/proc/self/fd/' + fd); } catch { return ''; } });
server.registerTool('whoami', {}, async () => text(JSON.stringify({ pid: process.pid, fds: fds() })));
server.registerTool('scribble', {}, async () => {
  writeSync(1, 'not JSON-RPC, written past the transport\\n');
  return text('scribbled');
});
server.registerTool('crash', {}, async () => process.exit(3));
server.registerTool('slow', { inputSchema: { ms: z.number() } }, async ({ ms }) => {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return text('slept ' + ms + ' in ' + process.pid);
});
server.registerTool('ask_restart', {}, async () => {
  process.send?.({ type: 'hotmcp:restart-needed', reason: 'the test asked' });
  return text('asked');
});
server.registerTool('record', { inputSchema: { n: z.number() } }, async ({ n }) => {
  recorded.push(n);
  return text(JSON.stringify({ pid: process.pid, recorded }));
});
server.registerTool('big', { inputSchema: { kb: z.number() } }, async ({ kb }) => text('x'.repeat(kb * 1024)));
await server.connect(new StdioServerTransport());
`;

async function start(env?: Record<string, string>) {
  project = await createProject({ 'src/server.ts': entry });
  const session = await connectDev(project, 'src/server.ts', [], env);
  closers.push(() => session.client.close());
  return session;
}

const text = async (result: Promise<unknown>) =>
  ((await result) as { content: Array<{ text: string }> }).content[0]?.text as string;
const whoami = async (client: Client) =>
  JSON.parse(await text(client.callTool({ name: 'whoami', arguments: {} }))) as { pid: number; fds: string[] };
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('hotmcp dev behind its supervisor in direct mode', () => {
  it('serves the client’s own stdin and stdout from the server process, and answers the requests a crash took with an error', async () => {
    const { client, transport, stderr, errors } = await start();
    const first = await whoami(client);
    // The server process holds the very pipes the client gave the supervisor.
    const supervisor = transport.pid as number;
    expect(first.fds).toContain(readlinkSync(`/proc/${supervisor}/fd/0`));
    expect(first.fds).toContain(readlinkSync(`/proc/${supervisor}/fd/1`));
    expect(first.pid).not.toBe(supervisor);
    // What it writes on its fd 1 past the transport never reaches the client.
    expect(await text(client.callTool({ name: 'scribble', arguments: {} }))).toBe('scribbled');
    await expect.poll(stderr, poll).toMatch(/kept off the wire\): not JSON-RPC, written past the transport/);

    const slow = text(client.callTool({ name: 'slow', arguments: { ms: 10_000 } }));
    const other = text(client.callTool({ name: 'slow', arguments: { ms: 8000 } }));
    const crash = text(client.callTool({ name: 'crash', arguments: {} }));
    await expect(slow).rejects.toThrow(/restarted while handling this request .*may be retried/);
    await expect(other).rejects.toThrow(/may be retried/);
    await expect(crash).rejects.toThrow(/exit code 3/);
    expect(errors).toEqual([]);
    const second = await whoami(client);
    expect(second.pid).not.toBe(first.pid);
    expect(alive(first.pid)).toBe(false);
    // The crash is on stderr and in the audit log, with what the process wrote on stderr.
    expect(stderr()).toMatch(/the server process ended unexpectedly \(exit code 3\)/);
    await expect
      .poll(() => readFileSync(join(project?.dir as string, 'audit.log'), 'utf8'), poll)
      .toMatch(/supervisor\.child_crashed/);
  });

  it('hands the client over to a restarted process: requests made during the restart are answered by it in order', async () => {
    // HOTMCP_DEBUG_TIMING: the supervisor's events on stderr, among them when the old process stopped reading.
    const { client, errors, stderr } = await start({ HOTMCP_DEBUG_TIMING: '1' });
    const first = await whoami(client);
    const slow = text(client.callTool({ name: 'slow', arguments: { ms: 300 } }));
    await text(client.callTool({ name: 'ask_restart', arguments: {} }));
    // The old process reads stdin until the supervisor, told over IPC, stops it: call once it has stopped (on
    // a loaded machine it read every call made as soon as the restart was said).
    await expect.poll(stderr, poll).toMatch(/restarting the server: the test asked/);
    await expect.poll(stderr, poll).toMatch(/supervisor \{"event":"child.stopped_reading"/);
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, n) => text(client.callTool({ name: 'record', arguments: { n } }))),
    );
    expect(await slow).toBe(`slept 300 in ${first.pid}`);
    const records = answers.map((answer) => JSON.parse(answer) as { pid: number; recorded: number[] });
    // Every call answered; each process saw its calls in the order they were made.
    for (const { recorded } of records) expect(recorded).toEqual([...recorded].sort((a, b) => a - b));
    const last = records.at(-1) as { pid: number; recorded: number[] };
    expect(last.pid).not.toBe(first.pid);
    const before = records.filter((r) => r.pid === first.pid).length;
    expect(last.recorded).toEqual(Array.from({ length: 30 - before }, (_, i) => before + i));
    expect((await whoami(client)).pid).toBe(last.pid);
    expect(errors).toEqual([]);
  });

  it('writes an answer larger than a pipe holds in one piece, beside small ones, and across a restart', async () => {
    const { client, errors } = await start();
    const answers = await Promise.all([
      text(client.callTool({ name: 'big', arguments: { kb: 300 } })),
      text(client.callTool({ name: 'record', arguments: { n: 1 } })),
      text(client.callTool({ name: 'big', arguments: { kb: 100 } })),
    ]);
    expect(answers[0]).toHaveLength(300 * 1024);
    expect(answers[2]).toHaveLength(100 * 1024);
    const first = await whoami(client);
    await text(client.callTool({ name: 'ask_restart', arguments: {} }));
    const big = text(client.callTool({ name: 'big', arguments: { kb: 500 } }));
    expect(await big).toHaveLength(500 * 1024);
    await expect.poll(async () => (await whoami(client)).pid, poll).not.toBe(first.pid);
    expect(errors).toEqual([]);
  });

  it('hands a line the old process read only in part to the new one', async () => {
    project = await createProject({ 'src/server.ts': entry });
    const child = spawn(process.execPath, [bin, 'dev', 'src/server.ts'], {
      cwd: project.dir,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, HOTMCP_AUDIT_LOG: join(project.dir, 'audit.log') },
    });
    closers.push(async () => child.kill());
    const lines: Array<{ id?: number; result?: { content: Array<{ text: string }> } }> = [];
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const part of parts) lines.push(JSON.parse(part));
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const send = (message: unknown) => child.stdin.write(`${JSON.stringify(message)}\n`);
    const answer = (id: number) => lines.find((line) => line.id === id);
    send({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
    await expect.poll(() => answer(1), poll).toBeDefined();
    const first = JSON.parse(answer(1)?.result?.content[0]?.text as string).pid as number;
    const call = `${JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'whoami', arguments: {} } })}\n`;
    // The old process asks for the restart and reads the first half of the next call before it stops reading.
    send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'ask_restart', arguments: {} } });
    child.stdin.write(call.slice(0, 40));
    await expect.poll(() => stderr, poll).toMatch(/restarting the server: the test asked/);
    await expect.poll(() => alive(first), poll).toBe(false);
    child.stdin.write(call.slice(40));
    await expect.poll(() => answer(3), poll).toBeDefined();
    expect(JSON.parse(answer(3)?.result?.content[0]?.text as string).pid).not.toBe(first);
    // One initialize answer, and the list_changed the restart sent: nothing else the client did not ask for.
    expect(lines.filter((line) => line.id === 0)).toHaveLength(1);
  });

  it('answers requests made while a crash loop waits, and serves again once the server starts', async () => {
    const { client, transport, stderr } = await start();
    const first = await whoami(client);
    const dir = project?.dir as string;
    writeFileSync(join(dir, 'crash-at-start'), '');
    await expect(text(client.callTool({ name: 'crash', arguments: {} }))).rejects.toThrow(/may be retried/);
    await expect.poll(stderr, poll).toMatch(/restarting in \d+ ms/);
    // No process runs: the supervisor reads the client's stdin meanwhile and answers at once.
    await expect(whoami(client)).rejects.toThrow(/repeated crashes .*may be retried/);
    unlinkSync(join(dir, 'crash-at-start'));
    await expect
      .poll(
        () =>
          whoami(client).then(
            (who) => who.pid,
            () => first.pid,
          ),
        { timeout: 40_000, interval: 100 },
      )
      .not.toBe(first.pid);
    // The restarted process serves the same pipes.
    expect((await whoami(client)).fds).toContain(readlinkSync(`/proc/${transport.pid}/fd/0`));
  });

  it('leaves no process behind when the client closes its side', async () => {
    const { client, transport } = await start();
    const { pid } = await whoami(client);
    const supervisor = transport.pid as number;
    await client.close();
    await expect.poll(() => [alive(pid), alive(supervisor)], poll).toEqual([false, false]);
  });
});
