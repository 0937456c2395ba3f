import { realpath } from 'node:fs/promises';
import { waitUntil } from '@hotmcp/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadFailed, waitForAudit } from './audit.js';
import type { ExampleSession, ExampleUnderTest, LogParams, Sandbox } from './example.js';

const CONTROL = { HOTMCP_CONTROL_TOOLS: '1' };
const SECRET = 'SECRET-CONTENT-7f3a';
/** A module with a syntax error on line 4, and a line of content no client may see. */
const broken = `import { defineTool } from '@hotmcp/core';
// ${SECRET}
export default defineTool({ name: 'broken', handler: async () => ({ content: [] }) });
export const oops = ;
`;

/** The opt-in control tools (hotmcp_status, hotmcp_reload) and the log messages sent on a failed reload. */
export function controlSuite(example: ExampleUnderTest): void {
  let sandbox: Sandbox;
  let session: ExampleSession;
  let logs: LogParams[];

  /** Start the server with the given environment and record the log messages it sends. */
  async function start(env: Record<string, string>): Promise<void> {
    session = await example.connect(sandbox, env);
    logs = [];
    example.onLogMessage(session.client, (params) => logs.push(params));
  }

  const toolNames = async () => (await session.client.listTools()).tools.map((tool) => tool.name).sort();
  const callJson = async (name: string) => JSON.parse(await example.callText(session.client, name));

  /** Paths a client must never see: the sandbox, absolute and resolved. */
  async function absolutePaths(): Promise<string[]> {
    return [sandbox.dir, sandbox.toolsDir, await realpath(sandbox.toolsDir)];
  }

  beforeEach(async () => {
    sandbox = await example.createSandbox();
  });

  afterEach(async () => {
    await session?.close();
    await sandbox?.cleanup();
  });

  describe(`control tools and log messages of the ${example.sdk} example`, () => {
    it('offers no control tools, and sends no log message on a failed reload, unless opted in', async () => {
      await start({});
      expect(await toolNames()).toEqual(['echo', 'server_info', 'word_count']);
      await sandbox.write('broken.ts', broken);
      await waitForAudit(sandbox, loadFailed);
      // A log message would have been written before the answer to this request.
      await session.client.listTools();
      expect(logs).toEqual([]);
    });

    it('hotmcp_status shows what is loaded and a broken module with root-relative file:line, no contents', async () => {
      await start(CONTROL);
      expect(await toolNames()).toEqual(['echo', 'hotmcp_reload', 'hotmcp_status', 'server_info', 'word_count']);
      await sandbox.write('broken.ts', broken);
      await waitForAudit(sandbox, loadFailed);

      const text = await example.callText(session.client, 'hotmcp_status');
      const status = JSON.parse(text);
      expect(status.modules).toEqual(
        expect.arrayContaining([
          { file: 'echo.ts', tools: ['echo'], prompts: [], resources: [], failed: false },
          ...example.otherModules,
          { file: 'broken.ts', tools: [], prompts: [], resources: [], failed: true },
        ]),
      );
      expect(status.errors).toEqual([
        expect.objectContaining({ module: 'broken.ts', code: 'HOTMCP_ERR_SYNTAX', file: 'broken.ts', line: 4 }),
      ]);
      expect(status).toMatchObject({ running: true, loader: 'runner', adapter: expect.any(String) });
      expect(['native', 'poll']).toContain(status.watcher);
      for (const path of await absolutePaths()) expect(text).not.toContain(path);
      expect(text).not.toContain(SECRET);
    });

    it('hotmcp_reload applies files the watcher missed, through one batch', async () => {
      // Polling every ten minutes: nothing written during the test is seen but by the rescan.
      await start({ ...CONTROL, HOTMCP_WATCHER: 'poll', HOTMCP_POLL_INTERVAL_MS: '600000' });
      await sandbox.write('greet.ts', example.greetTool('greet', 'Hello'));
      await sandbox.write('echo.ts', (await sandbox.read('echo.ts')).replace('Echo the text back', 'Echo it back'));
      await sandbox.remove('word-count.ts');
      expect(await toolNames()).toEqual(['echo', 'hotmcp_reload', 'hotmcp_status', 'server_info', 'word_count']);

      const answer = await callJson('hotmcp_reload');
      expect(answer.found.added).toEqual(['greet.ts']);
      expect(answer.found.changed).toContain('echo.ts');
      expect(answer.found.removed).toEqual(['word-count.ts']);
      expect(answer).toMatchObject({ applied: true, errors: [] });
      expect(answer.batch.upserted).toEqual(expect.arrayContaining(['tool:echo', 'tool:greet']));
      expect(answer.batch.removedEntries).toEqual(['tool:word_count']);

      await session.waitForListChanged(1);
      const tools = (await session.client.listTools()).tools;
      expect(tools.map((tool) => tool.name).sort()).toEqual([
        'echo',
        'greet',
        'hotmcp_reload',
        'hotmcp_status',
        'server_info',
      ]);
      expect(tools.find((tool) => tool.name === 'echo')?.description).toBe('Echo it back');
      expect(await example.callText(session.client, 'greet', { name: 'Ada' })).toBe('Hello Ada');
    });

    it('sends an error log message when a reload fails, as filtered by logging/setLevel', async () => {
      await start(CONTROL);
      await sandbox.write('broken.ts', broken);
      // Skip a log message for the file caught empty between writeFile's truncate and its write.
      const failures = () => logs.filter((log) => log.data.code !== 'HOTMCP_ERR_EMPTY_MODULE');
      await waitUntil(() => failures().length > 0, { timeoutMs: 10_000, what: 'a log message' });
      expect(failures()).toEqual([
        {
          level: 'error',
          logger: 'hotmcp',
          data: expect.objectContaining({
            event: 'module.failed',
            module: 'broken.ts',
            code: 'HOTMCP_ERR_SYNTAX',
            file: 'broken.ts',
            line: 4,
          }),
        },
      ]);
      const sent = JSON.stringify(logs);
      for (const path of await absolutePaths()) expect(sent).not.toContain(path);
      expect(sent).not.toContain(SECRET);

      await session.client.setLoggingLevel('critical');
      const before = logs.length;
      await sandbox.write('broken-too.ts', broken.replace("'broken'", "'broken_too'"));
      await waitForAudit(sandbox, (e) => loadFailed(e) && String(e.module).endsWith('broken-too.ts'));
      await session.client.listTools(); // a log message would have arrived before this answer
      expect(logs).toHaveLength(before);
    });

    it('refuses a tool module that defines a control tool name, and keeps the control tool', async () => {
      await start(CONTROL);
      await sandbox.write('impostor.ts', example.greetTool('hotmcp_status', 'Impostor'));
      await waitForAudit(sandbox, (e) => e.event === 'definition.rejected' && e.code === 'HOTMCP_ERR_NAME_CONFLICT');
      const status = await callJson('hotmcp_status');
      expect(status.errors).toEqual([
        expect.objectContaining({ module: 'impostor.ts', code: 'HOTMCP_ERR_NAME_CONFLICT' }),
      ]);
    });
  });
}
