import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  CreateMessageRequestSchema,
  type LoggingMessageNotification,
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const supervise = fileURLToPath(new URL('./fixtures/supervise.mjs', import.meta.url));
const fixtureServer = fileURLToPath(new URL('./fixtures/server/server.mjs', import.meta.url));

interface Running {
  client: Client;
  transport: StdioClientTransport;
  logs: LoggingMessageNotification['params'][];
  listChanged: number;
  stderr: () => string;
  errors: Error[];
  /** The client's sampling requests, each answered when the test calls its `answer`. */
  asked: { text: string; answer: (text: string) => void }[];
}

let dir: string;
const opened: Running[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hotmcp-supervisor-'));
});

afterEach(async () => {
  for (const running of opened.splice(0)) await running.client.close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

/** The supervisor's modes: it relays every message, or the server serves the client's stdio itself. */
const MODES = ['relay', 'direct'] as const;
let mode: (typeof MODES)[number] = 'relay';
const superviseArgs = () => [
  supervise,
  ...(mode === 'direct' ? ['--direct'] : []),
  '--',
  process.execPath,
  fixtureServer,
];

async function start(env?: Record<string, string>): Promise<Running> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: superviseArgs(),
    cwd: dir,
    stderr: 'pipe',
    ...(env ? { env: { ...(process.env as Record<string, string>), ...env } } : {}),
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: 'supervisor-test', version: '1.0.0' }, { capabilities: { sampling: {} } });
  const running: Running = {
    client,
    transport,
    logs: [],
    listChanged: 0,
    stderr: () => stderr,
    errors: [],
    asked: [],
  };
  client.setRequestHandler(
    CreateMessageRequestSchema,
    (request) =>
      new Promise((resolve) => {
        const content = request.params.messages[0]?.content as { text: string };
        running.asked.push({
          text: content.text,
          answer: (text) => resolve({ model: 'test', role: 'assistant', content: { type: 'text', text } }),
        });
      }),
  );
  client.onerror = (error) => running.errors.push(error);
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    running.logs.push(n.params);
  });
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    running.listChanged++;
  });
  await client.connect(transport);
  opened.push(running);
  return running;
}

const textOf = (result: unknown): string =>
  ((result as { content: { text: string }[] }).content[0] as { text: string }).text;

async function whoami(client: Client): Promise<{ pid: number; value: string }> {
  return JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const waitFor = <T>(fn: () => T | Promise<T>, timeout = 15_000) => vi.waitFor(fn, { timeout, interval: 25 });

describe.each(MODES)('the stdio supervisor (%s)', (which) => {
  beforeEach(() => {
    mode = which;
  });

  it('answers through to the server and restarts it when a tool calls process.exit', async () => {
    const { client, transport } = await start();
    const first = await whoami(client);
    await expect(client.callTool({ name: 'crash', arguments: {} })).rejects.toThrow(/restarted while handling/);
    const second = await waitFor(async () => {
      const now = await whoami(client);
      expect(now.pid).not.toBe(first.pid);
      return now;
    });
    expect(alive(first.pid)).toBe(false);
    expect(second.pid).not.toBe(transport.pid);
  });

  it('answers a request in flight when the server dies with an error that says it may be retried', async () => {
    const { client } = await start();
    const slow = client.callTool({ name: 'slow', arguments: { ms: 5000 } });
    const crash = client.callTool({ name: 'crash', arguments: {} });
    await expect(slow).rejects.toThrow(/may be retried/);
    await expect(crash).rejects.toThrow(/may be retried/);
    await waitFor(() => whoami(client));
  });

  it('lets requests in flight finish on the old process and sends the ones made during a restart to the new one', async () => {
    const { client } = await start();
    const first = await whoami(client);
    const slow = client.callTool({ name: 'slow', arguments: { ms: 400 } });
    await client.callTool({ name: 'ask_restart', arguments: {} });
    const during = await Promise.all(Array.from({ length: 5 }, () => whoami(client)));
    expect(textOf(await slow)).toBe(`slept 400 in ${first.pid}`);
    const last = during.at(-1);
    await waitFor(async () => expect((await whoami(client)).pid).not.toBe(first.pid));
    // Every call made while it restarted was answered, none failed; the later ones by the new process.
    expect(during).toHaveLength(5);
    expect(last).toBeDefined();
  });

  it('delivers requests made while the new process starts beside the draining old one in the order they were sent', async () => {
    const { client, stderr } = await start({ SUPERVISE_EVENTS: '1' });
    const first = await whoami(client);
    // The old process drains a slow call while the new one starts.
    const slow = client.callTool({ name: 'slow', arguments: { ms: 300 } });
    await client.callTool({ name: 'ask_restart', arguments: {} });
    // In direct mode the old process reads stdin until the supervisor, told over IPC, stops it: the calls below
    // are made once it has stopped reading (in relay mode once the restart is under way; no difference there).
    await waitFor(() =>
      expect(stderr()).toMatch(mode === 'direct' ? /"event":"child.stopped_reading"/ : /restarting the server/),
    );
    const sent = Array.from({ length: 10 }, (_, i) => i + 1);
    const answers = await Promise.all(
      sent.map(
        async (n) =>
          JSON.parse(textOf(await client.callTool({ name: 'record', arguments: { n } }))) as {
            pid: number;
            recorded: number[];
          },
      ),
    );
    expect(textOf(await slow)).toBe(`slept 300 in ${first.pid}`);
    const last = answers.at(-1);
    expect(last?.pid).not.toBe(first.pid);
    // Each process got its share in order, the new one the tail: together, every call once, in the order sent.
    const onOld = answers.filter((a) => a.pid === first.pid).map((a) => a.recorded.at(-1));
    expect([...onOld, ...(last?.recorded ?? [])]).toEqual(sent);
  });

  it('restarts on a .env change and tells the client its lists may have changed', async () => {
    writeFileSync(join(dir, '.env'), 'VALUE=one\n');
    const running = await start();
    expect((await whoami(running.client)).value).toBe('one');
    writeFileSync(join(dir, '.env'), 'VALUE=two\n');
    await waitFor(async () => expect((await whoami(running.client)).value).toBe('two'));
    await waitFor(() => expect(running.listChanged).toBeGreaterThanOrEqual(1));
    expect(running.errors).toEqual([]);
  });

  it('restarts an entry that binds a port: the old process is gone before the new one binds it', async () => {
    const port = await freePort();
    writeFileSync(join(dir, 'caps.json'), JSON.stringify({ port }));
    const { client } = await start();
    const first = await whoami(client);
    await client.callTool({ name: 'ask_restart', arguments: {} });
    const second = await waitFor(async () => {
      const now = await whoami(client);
      expect(now.pid).not.toBe(first.pid);
      return now;
    });
    expect(alive(second.pid)).toBe(true);
  });

  it('starts a new process that needs a port the draining old one still holds again once the old one is gone, and the old one first from then on', async () => {
    const port = await freePort();
    writeFileSync(join(dir, 'caps.json'), JSON.stringify({ port }));
    // The old process may drain for as long as the test needs, however slow the machine.
    const running = await start({ SUPERVISE_DRAIN_MS: '120000', SUPERVISE_EVENTS: '1' });
    const { client } = running;
    const first = await whoami(client);
    // The old process holds the port until the new one has failed to bind it and ended: this call ends only then.
    const held = client.callTool({ name: 'hold', arguments: {} }, undefined, { timeout: 120_000 });
    await client.callTool({ name: 'ask_restart', arguments: {} });
    await waitFor(() => expect(existsSync(join(dir, 'bind-failed'))).toBe(true), 60_000);
    const failed = readFileSync(join(dir, 'bind-failed'), 'utf8');
    await waitFor(() => expect(running.stderr()).toContain(`"event":"child.exited","generation":2,"pid":${failed}`));
    writeFileSync(join(dir, 'release'), '');
    expect(textOf(await held)).toBe(`held in ${first.pid}`);
    const second = await waitFor(async () => {
      const now = await whoami(client);
      expect(now.pid).not.toBe(first.pid);
      return now;
    });
    expect(running.stderr()).toMatch(/ended while the old one still ran \(.*EADDRINUSE.*\); starting it again/);
    await client.callTool({ name: 'ask_restart', arguments: {} });
    await waitFor(async () => expect((await whoami(client)).pid).not.toBe(second.pid));
    expect(running.stderr().match(/ended while the old one still ran/g)).toHaveLength(1);
    expect(running.errors).toEqual([]);
  }, 120_000);

  it('keeps the old process serving when the new one ends before it answers, and restarts once a new one starts', async () => {
    const running = await start({ SUPERVISE_EVENTS: '1' });
    const { client } = running;
    const first = await whoami(client);
    // The new process fails 1 s into its start: calls made meanwhile wait for it, and go to the old one.
    writeFileSync(join(dir, 'crash-at-start'), '1000');
    await client.callTool({ name: 'ask_restart', arguments: {} });
    await waitFor(() => expect(running.stderr()).toMatch(/"event":"restart"/));
    const during = Promise.all([whoami(client), whoami(client)]);
    await waitFor(() =>
      expect(running.stderr()).toMatch(
        /the new server process ended before it answered \(exit code 7: fixture: crashing at start as asked\); not restarted: the running version \(pid \d+\) serves until the next change/,
      ),
    );
    expect((await during).map((answer) => answer.pid)).toEqual([first.pid, first.pid]);
    expect(running.stderr()).toMatch(/"event":"restart\.failed"/);
    expect((await whoami(client)).pid).toBe(first.pid);
    unlinkSync(join(dir, 'crash-at-start'));
    await client.callTool({ name: 'ask_restart', arguments: {} });
    const second = await waitFor(async () => {
      const now = await whoami(client);
      expect(now.pid).not.toBe(first.pid);
      return now;
    });
    await waitFor(() => expect(alive(first.pid)).toBe(false));
    expect(alive(second.pid)).toBe(true);
    expect(running.stderr()).not.toMatch(/ended unexpectedly|only once the old one has stopped/);
    expect(running.errors).toEqual([]);
  });

  it('hands the client’s answer to a request the old process sent before a restart back to it', async () => {
    const running = await start({ SUPERVISE_DRAIN_MS: '120000', SUPERVISE_EVENTS: '1' });
    const { client } = running;
    const first = await whoami(client);
    const asking = client.callTool({ name: 'ask_client', arguments: {} }, undefined, { timeout: 120_000 });
    await waitFor(() => expect(running.asked).toHaveLength(1));
    expect(running.asked[0]?.text).toBe(`from ${first.pid}`);
    // The old process drains the call that waits for the client's answer; the new one starts meanwhile.
    await client.callTool({ name: 'ask_restart', arguments: {} });
    // Direct mode: once the old process has stopped reading the client's stdin, as it does in a restart.
    await waitFor(() =>
      expect(running.stderr()).toMatch(mode === 'direct' ? /"event":"child.stopped_reading"/ : /restarting the server/),
    );
    running.asked[0]?.answer('late');
    expect(textOf(await asking)).toBe(`late in ${first.pid}`);
    const second = await waitFor(async () => {
      const now = await whoami(client);
      expect(now.pid).not.toBe(first.pid);
      return now;
    });
    // The new process's own request (whose id the old one's may share) gets its own answer.
    const again = client.callTool({ name: 'ask_client', arguments: {} });
    await waitFor(() => expect(running.asked).toHaveLength(2));
    expect(running.asked[1]?.text).toBe(`from ${second.pid}`);
    running.asked[1]?.answer('prompt');
    expect(textOf(await again)).toBe(`prompt in ${second.pid}`);
    expect(running.errors).toEqual([]);
  }, 60_000);

  it('reports capabilities that differ after a restart as a log message and on stderr', async () => {
    const running = await start();
    await running.client.setLoggingLevel('debug');
    writeFileSync(join(dir, 'caps.json'), JSON.stringify({ prompts: true, name: 'renamed' }));
    await running.client.callTool({ name: 'ask_restart', arguments: {} });
    await waitFor(() => {
      const warning = running.logs.find((log) => JSON.stringify(log.data).includes('differs'));
      expect(warning?.level).toBe('warning');
      expect(JSON.stringify(warning?.data)).toContain('capability prompts');
      expect(JSON.stringify(warning?.data)).toContain('server name');
    });
    expect(running.stderr()).toContain('differs from what the client was told');
    // The client still holds the first answer; the supervisor swallowed the new one.
    expect(running.client.getServerVersion()?.name).toBe('fixture');
    expect(running.errors).toEqual([]);
  });

  it('replays the logging level and resource subscriptions to the new process', async () => {
    const { client } = await start();
    await client.setLoggingLevel('warning');
    await client.subscribeResource({ uri: 'state://value' });
    const first = await whoami(client);
    await expect(client.callTool({ name: 'crash', arguments: {} })).rejects.toThrow();
    await waitFor(async () => expect((await whoami(client)).pid).not.toBe(first.pid));
    const session = JSON.parse(textOf(await client.callTool({ name: 'session', arguments: {} })));
    expect(session).toEqual({ level: 'warning', subscriptions: ['state://value'] });
  });

  it('passes cancellations and progress through to the process that handles the request', async () => {
    const running = await start();
    const progress: number[] = [];
    const result = await running.client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(textOf(result)).toBe('progressed 3');
    expect(progress).toEqual([1, 2, 3]);
    const abort = new AbortController();
    const slow = running.client.callTool({ name: 'slow', arguments: { ms: 5000 } }, undefined, {
      signal: abort.signal,
    });
    setTimeout(() => abort.abort('no longer needed'), 100);
    await expect(slow).rejects.toThrow();
    await waitFor(() => expect(running.stderr()).toMatch(/slow call cancelled/));
  });

  it('passes a cancellation to the old process while it drains a restart, which then ends', async () => {
    const running = await start({ SUPERVISE_DRAIN_MS: '120000', SUPERVISE_EVENTS: '1' });
    const first = await whoami(running.client);
    const abort = new AbortController();
    const slow = running.client.callTool({ name: 'slow', arguments: { ms: 120_000 } }, undefined, {
      signal: abort.signal,
      timeout: 120_000,
    });
    await running.client.callTool({ name: 'ask_restart', arguments: {} });
    await waitFor(() =>
      expect(running.stderr()).toMatch(mode === 'direct' ? /"event":"child.stopped_reading"/ : /restarting the server/),
    );
    abort.abort('no longer needed');
    await expect(slow).rejects.toThrow();
    await waitFor(() => expect(running.stderr()).toContain(`slow call cancelled in ${first.pid}`));
    // With nothing left to drain, the old process stops and the new one serves.
    await waitFor(async () => expect((await whoami(running.client)).pid).not.toBe(first.pid));
    expect(running.errors).toEqual([]);
  }, 60_000);

  it('backs off a crash loop, tells the client with the last stderr lines, and recovers once the server starts', async () => {
    const running = await start();
    await running.client.setLoggingLevel('debug');
    writeFileSync(join(dir, 'crash-at-start'), '');
    await expect(running.client.callTool({ name: 'crash', arguments: {} })).rejects.toThrow();
    await waitFor(() => {
      const crash = running.logs.find((log) => JSON.stringify(log.data).includes('crashing at start'));
      expect(crash?.level).toBe('error');
    });
    await waitFor(() => expect(running.stderr()).toMatch(/restarting in \d+ ms/));
    unlinkSync(join(dir, 'crash-at-start'));
    await waitFor(() => whoami(running.client), 20_000);
  });

  it('ends a crash loop’s wait at once when a file of the project changes', async () => {
    // A first delay of 10 minutes: only the changed file can bring the server back within the test.
    const running = await start({ SUPERVISE_BACKOFF_MS: '600000', SUPERVISE_RETRY_WATCH: '1', SUPERVISE_EVENTS: '1' });
    const first = await whoami(running.client);
    writeFileSync(join(dir, 'caps.json'), JSON.stringify({ crashAtStart: true }));
    await expect(running.client.callTool({ name: 'crash', arguments: {} })).rejects.toThrow();
    await waitFor(() => expect(running.stderr()).toMatch(/restarting in 600000 ms/));
    // Once the supervisor watches (a save before that is found by its time, unless it is within the file
    // system's clock tick of the end): the change that ends the wait.
    await waitFor(() => expect(running.stderr()).toMatch(/"event":"retry\.watching"/), 30_000);
    writeFileSync(join(dir, 'caps.json'), JSON.stringify({ name: 'fixed' }));
    await waitFor(() => expect(running.stderr()).toMatch(/caps\.json changed: starting the server again now/));
    const after = await waitFor(() => whoami(running.client), 20_000);
    expect(after.pid).not.toBe(first.pid);
  }, 90_000);

  it('leaves no process behind when the client closes', async () => {
    const { client, transport } = await start();
    const { pid } = await whoami(client);
    const supervisorPid = transport.pid;
    expect(supervisorPid).toBeTypeOf('number');
    await client.close();
    await waitFor(() => {
      expect(alive(pid)).toBe(false);
      expect(alive(supervisorPid as number)).toBe(false);
    });
  });

  it('takes the server down with it when the supervisor itself is killed', async () => {
    const { client, transport } = await start();
    const { pid } = await whoami(client);
    process.kill(transport.pid as number, 'SIGKILL');
    await waitFor(() => expect(alive(pid)).toBe(false));
  });
});

describe.each(MODES)('the stdio supervisor on the wire (%s)', (which) => {
  beforeEach(() => {
    mode = which;
  });

  it('sends the client exactly one initialize response across restarts, and only JSON-RPC on stdout', async () => {
    const child = spawn(process.execPath, superviseArgs(), {
      cwd: dir,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const lines: Record<string, unknown>[] = [];
    const raw: string[] = [];
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const part of parts) {
        raw.push(part);
        lines.push(JSON.parse(part));
      }
    });
    const send = (message: unknown) => child.stdin.write(`${JSON.stringify(message)}\n`);
    try {
      send({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
      });
      await waitFor(() => expect(lines.some((l) => l.id === 0)).toBe(true));
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'crash', arguments: {} } });
      await waitFor(() => expect(lines.some((l) => l.id === 1)).toBe(true));
      send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'ask_restart', arguments: {} } });
      send({ jsonrpc: '2.0', id: 3, method: 'tools/list', params: {} });
      await waitFor(() => expect(lines.some((l) => l.id === 3)).toBe(true));
      send({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
      await waitFor(() => expect(lines.some((l) => l.id === 4)).toBe(true));
      expect(lines.filter((l) => l.id === 0)).toHaveLength(1);
      expect(lines.filter((l) => (l as { error?: unknown }).error !== undefined).map((l) => l.id)).toEqual([1]);
      expect(raw.every((line) => (JSON.parse(line) as { jsonrpc?: string }).jsonrpc === '2.0')).toBe(true);
    } finally {
      await stop(child);
    }
  });
});

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin?.end();
  await exited;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
    server.on('error', reject);
  });
}
