// Fault catalogue, part 2: faults between files — names two owners want,
// imports that go nowhere or round in circles, helpers and folders that break
// or vanish, renames, and writers that race.

import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitUntil } from '@hotmcp/core/testing';
import { describe, expect, it } from 'vitest';
import { callText } from '../src/harness.js';
import {
  auditEvents,
  auditMark,
  expectEchoKept,
  greetTool,
  moduleFailureAfter,
  serverPid,
  toolNames,
  untilAnswers,
  useServer,
  waitForAuditAfter,
} from './support.js';

const server = useServer();

const failureOf = (file: string, mark: number) => moduleFailureAfter(server, file, mark);

/** Definitions refused (name conflicts, invalid ones) since `mark`. */
async function rejectionsAfter(mark: number) {
  return (await auditEvents(server.sandbox)).slice(mark).filter((e) => e.event === 'definition.rejected');
}

/** Call `echo` over and over until `done()`; returns how many calls did not answer with an echo. */
async function keepCallingEcho(done: () => boolean): Promise<{ calls: number; failures: string[] }> {
  const failures: string[] = [];
  let calls = 0;
  while (!done()) {
    calls++;
    const result = await server.session.client.callTool({ name: 'echo', arguments: { text: 'x' } });
    const text = (result.content as Array<{ text?: string }>)[0]?.text ?? '';
    if (result.isError || text !== '« x »') failures.push(text);
  }
  return { calls, failures };
}

describe('faults between files', () => {
  it('refuses a second module defining a name another module owns, and takes it once renamed', async () => {
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write('echo-again.ts', greetTool('echo', 'Second'));
    const conflict = await waitForAuditAfter(server.sandbox, mark, (e) => e.event === 'definition.rejected');
    expect(conflict).toMatchObject({
      code: 'HOTMCP_ERR_NAME_CONFLICT',
      file: server.path('echo-again.ts'),
      line: 4, // greetTool's `export default defineTool({`
      kind: 'tool',
      name: 'echo',
    });
    await expectEchoKept(server);
    await server.sandbox.write('echo-again.ts', greetTool('echo_again', 'Second'));
    await untilAnswers(server.session, 'echo_again', { name: 'x' }, 'Second x');
    await expectEchoKept(server);
  });

  it("refuses a tool module that takes the static tool's name, and takes the module once renamed", async () => {
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write('impostor.ts', greetTool('server_info', 'Fake'));
    const conflict = await waitForAuditAfter(server.sandbox, mark, (e) => e.event === 'definition.rejected');
    expect(conflict).toMatchObject({
      code: 'HOTMCP_ERR_NAME_CONFLICT',
      file: server.path('impostor.ts'),
      name: 'server_info',
    });
    expect(await serverPid(server.session)).toBe(server.pid); // the static tool still answers, unclobbered
    await server.sandbox.write('impostor.ts', greetTool('impostor', 'Honest'));
    await untilAnswers(server.session, 'impostor', { name: 'x' }, 'Honest x');
    expect(await serverPid(server.session)).toBe(server.pid);
  });

  it('keeps the last good version when an import names a missing file, and loads once the file appears', async () => {
    const mark = await auditMark(server.sandbox);
    const source = (await server.sandbox.read('echo.ts')).replace('./lib/format.js', './lib/fancy.js');
    await server.sandbox.write('echo.ts', source);
    const failure = await failureOf('echo.ts', mark);
    expect(failure).toMatchObject({ code: 'HOTMCP_ERR_MODULE_NOT_FOUND', file: server.path('echo.ts'), line: 3 });
    await expectEchoKept(server);
    await server.sandbox.write('lib/fancy.ts', "export const decorate = (text: string): string => '~' + text + '~';\n");
    await untilAnswers(server.session, 'echo', { text: 'x' }, '~x~');
    expect(await serverPid(server.session)).toBe(server.pid);
  });

  it('keeps the last good version when an import cycle reads a binding too early, with the line, and loads the fixed cycle', async () => {
    const cycleA = "import { count } from './cycle-b.js';\nexport const label = 'A';\nexport const total = count();\n";
    const brokenB =
      "import { label } from './cycle-a.js';\nexport const size = label.length;\nexport const count = () => size;\n";
    await server.sandbox.write('lib/cycle-a.ts', cycleA);
    await server.sandbox.write('lib/cycle-b.ts', brokenB);
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write(
      'echo.ts',
      (await server.sandbox.read('echo.ts'))
        .replace("import { decorate } from './lib/format.js';", "import { label } from './lib/cycle-a.js';")
        .replace('decorate(text)', 'label + text'),
    );
    const failure = await failureOf('echo.ts', mark);
    expect(failure).toMatchObject({
      code: 'HOTMCP_ERR_IMPORT_THREW',
      file: server.path('lib/cycle-b.ts'),
      line: 2,
    });
    await expectEchoKept(server);
    await server.sandbox.write(
      'lib/cycle-b.ts',
      "import { label } from './cycle-a.js';\nexport const count = () => label.length;\n",
    );
    await untilAnswers(server.session, 'echo', { text: 'x' }, 'Ax');
    expect(await serverPid(server.session)).toBe(server.pid);
  });

  it('keeps both tools that import a broken helper on their last good version, and moves both on the fix', async () => {
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write('lib/format.ts', 'export function decorate(text: string): string {\n  return <;\n}\n');
    for (const tool of ['echo.ts', 'word-count.ts']) {
      const failure = await failureOf(tool, mark);
      expect(failure).toMatchObject({ code: 'HOTMCP_ERR_SYNTAX', file: server.path('lib/format.ts'), line: 2 });
    }
    await expectEchoKept(server);
    expect(await callText(server.session.client, 'word_count', { text: 'a b' })).toBe('« 2 words »');
    await server.sandbox.write(
      'lib/format.ts',
      "export const decorate = (text: string): string => '[' + text + ']';\n",
    );
    await untilAnswers(server.session, 'echo', { text: 'x' }, '[x]');
    await untilAnswers(server.session, 'word_count', { text: 'a b' }, '[2 words]');
    expect(await serverPid(server.session)).toBe(server.pid);
  });

  it('keeps the tools whose helper folder is deleted, and moves them on when it is re-created', async () => {
    const mark = await auditMark(server.sandbox);
    await rm(server.path('lib'), { recursive: true });
    for (const tool of ['echo.ts', 'word-count.ts']) {
      const failure = await failureOf(tool, mark);
      expect(failure).toMatchObject({ code: 'HOTMCP_ERR_MODULE_NOT_FOUND', file: server.path(tool), line: 3 });
    }
    await expectEchoKept(server);
    await mkdir(server.path('lib'));
    await server.sandbox.write(
      'lib/format.ts',
      "export const decorate = (text: string): string => '(' + text + ')';\n",
    );
    await untilAnswers(server.session, 'echo', { text: 'x' }, '(x)');
    await untilAnswers(server.session, 'word_count', { text: 'a b' }, '(2 words)');
    expect(await serverPid(server.session)).toBe(server.pid);
  });

  it('removes the tools of a deleted folder of tool modules, and brings them back when it is re-created', async () => {
    await mkdir(server.path('pack'));
    await server.sandbox.write('pack/one.ts', greetTool('one', 'One'));
    await server.sandbox.write('pack/two.ts', greetTool('two', 'Two'));
    await untilAnswers(server.session, 'two', { name: 'x' }, 'Two x');
    await rm(server.path('pack'), { recursive: true });
    // A folder's removals may come as two batches (the coalescer's lead, then the rest): wait for both tools.
    await waitUntil(async () => !(await toolNames(server.session)).some((name) => name === 'one' || name === 'two'), {
      timeoutMs: 10_000,
      what: 'the tools to go',
    });
    expect(await toolNames(server.session)).toEqual(['echo', 'server_info', 'word_count']);
    await mkdir(server.path('pack'));
    await server.sandbox.write('pack/one.ts', greetTool('one', 'Uno'));
    await server.sandbox.write('pack/two.ts', greetTool('two', 'Dos'));
    await untilAnswers(server.session, 'one', { name: 'x' }, 'Uno x');
    await untilAnswers(server.session, 'two', { name: 'x' }, 'Dos x');
    expect(await serverPid(server.session)).toBe(server.pid);
  });

  it('keeps the tools when the whole tools folder goes away, says so, and reloads what it holds once it is back', async () => {
    const mark = await auditMark(server.sandbox);
    const saved = join(server.sandbox.dir, 'saved-tools');
    await rename(server.sandbox.toolsDir, saved);
    const gone = await waitForAuditAfter(server.sandbox, mark, (e) => e.event === 'watcher.error');
    expect(gone).toMatchObject({ code: 'HOTMCP_ERR_WATCHER_FAILED' });
    expect(gone.message).toContain(server.sandbox.toolsDir);
    await expectEchoKept(server);
    await writeFile(join(saved, 'echo.ts'), greetTool('echo', 'Restored'));
    await rename(saved, server.sandbox.toolsDir);
    await untilAnswers(server.session, 'echo', { name: 'x' }, 'Restored x');
    expect(await callText(server.session.client, 'word_count', { text: 'a b' })).toBe('« 2 words »');
    expect(await serverPid(server.session)).toBe(server.pid);
  });

  it('keeps a tool answering, with no conflict left behind, when its file is renamed', async () => {
    const mark = await auditMark(server.sandbox);
    let renamed = false;
    const calling = keepCallingEcho(() => renamed);
    await rename(server.path('echo.ts'), server.path('shout.ts'));
    await waitForAuditAfter(server.sandbox, mark, (e) => e.event === 'batch.applied' && e.removed === 1);
    renamed = true;
    const { calls, failures } = await calling;
    expect(calls).toBeGreaterThan(0);
    expect(failures).toEqual([]);
    // The renamed file owns the tool now: editing it reaches clients.
    await server.sandbox.write('shout.ts', greetTool('echo', 'Renamed'));
    await untilAnswers(server.session, 'echo', { name: 'x' }, 'Renamed x');
    expect(await toolNames(server.session)).toEqual(['echo', 'server_info', 'word_count']);
    expect(await rejectionsAfter(mark)).toEqual([]);
  });

  it('follows a case-only rename of a tool file', async () => {
    const mark = await auditMark(server.sandbox);
    await rename(server.path('echo.ts'), server.path('Echo.ts'));
    await waitForAuditAfter(server.sandbox, mark, (e) => e.event === 'batch.applied' && e.removed === 1);
    await expectEchoKept(server);
    await server.sandbox.write('Echo.ts', greetTool('echo', 'Cased'));
    await untilAnswers(server.session, 'echo', { name: 'x' }, 'Cased x');
    expect(await toolNames(server.session)).toEqual(['echo', 'server_info', 'word_count']);
    expect(await rejectionsAfter(mark)).toEqual([]);
  });

  it('ends on what is on disk when two writers race on one file', async () => {
    // Same length, so one writer's bytes always cover the other's entirely.
    const version = (writer: string, n: number) => greetTool('echo', `${writer}${String(n).padStart(2, '0')}`);
    const writer = async (name: string) => {
      for (let n = 0; n < 25; n++) await writeFile(server.path('echo.ts'), version(name, n));
    };
    await Promise.all([writer('Alpha'), writer('Bravo')]);
    const onDisk = await readFile(server.path('echo.ts'), 'utf8');
    const greeting = /'Say (\w+)'/.exec(onDisk)?.[1];
    expect(greeting).toMatch(/^(Alpha|Bravo)24$/);
    await untilAnswers(server.session, 'echo', { name: 'x' }, `${greeting} x`);
    expect(await serverPid(server.session)).toBe(server.pid);
  });
});
