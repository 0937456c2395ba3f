// Fault catalogue, part 1: what a tool module's file can hold that does not load.
// Each case: the server keeps answering (same pid), the last good version stays,
// a coded error is audited with file (and line where there is one), and the
// next good save is picked up.

import { open, readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { waitUntil } from '@hotmcp/core/testing';
import { describe, expect, it } from 'vitest';
import { callText } from '../src/harness.js';
import {
  auditMark,
  expectEchoKept,
  expectEchoRecovers,
  moduleFailureAfter,
  useServer,
  waitForAuditAfter,
} from './support.js';

const server = useServer();

const ECHO_LINES = 10; // examples/sdk-v1-server/tools/echo.ts
const ECHO_DEFINE_LINE = 5; // its `export default defineTool({`

const failureOf = (file: string, mark: number, empty = false) => moduleFailureAfter(server, file, mark, empty);

/** Deterministic bytes that are no text at all: NULs, control bytes, and bytes UTF-8 never uses. */
function garbage(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  let state = 0x2545f491;
  for (let i = 0; i < size; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[i] = state >>> 24;
  }
  bytes[0] = 0xff;
  return bytes;
}

describe('a tool module that does not load', () => {
  it('keeps the last good version on a syntax error, audits file and line, and recovers on the fix', async () => {
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write('echo.ts', `${await server.sandbox.read('echo.ts')}\nexport const broken = ;\n`);
    const failure = await failureOf('echo.ts', mark);
    expect(failure).toMatchObject({ code: 'HOTMCP_ERR_SYNTAX', file: server.path('echo.ts'), line: ECHO_LINES + 2 });
    await expectEchoKept(server);
    await expectEchoRecovers(server);
  });

  it('keeps the last good version when a module throws at import, with the line that threw', async () => {
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write('echo.ts', `throw new Error('not today');\n${await server.sandbox.read('echo.ts')}`);
    const failure = await failureOf('echo.ts', mark);
    expect(failure).toMatchObject({ code: 'HOTMCP_ERR_IMPORT_THREW', file: server.path('echo.ts'), line: 1 });
    expect(failure.message).toContain('not today');
    await expectEchoKept(server);
    await expectEchoRecovers(server);
  });

  it('keeps the last good version when a top-level await rejects, with the line that awaited', async () => {
    const mark = await auditMark(server.sandbox);
    const source = await server.sandbox.read('echo.ts');
    await server.sandbox.write('echo.ts', `${source}await Promise.reject(new Error('database unreachable'));\n`);
    const failure = await failureOf('echo.ts', mark);
    expect(failure).toMatchObject({
      code: 'HOTMCP_ERR_IMPORT_THREW',
      file: server.path('echo.ts'),
      line: ECHO_LINES + 1,
    });
    expect(failure.message).toContain('database unreachable');
    await expectEchoKept(server);
    await expectEchoRecovers(server);
  });

  it('keeps the last good version when a module is emptied, instead of removing its tools', async () => {
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write('echo.ts', '');
    const failure = await failureOf('echo.ts', mark, true);
    expect(failure).toMatchObject({ code: 'HOTMCP_ERR_EMPTY_MODULE', file: server.path('echo.ts') });
    expect(server.session.listChanged()).toBe(0);
    await expectEchoKept(server);
    await expectEchoRecovers(server);
  });

  it('keeps the last good version while a file is written in chunks, and loads it once complete', async () => {
    const final = (await server.sandbox.read('echo.ts')).replace('decorate(text)', "'whole ' + text");
    const cut = final.indexOf('handler');
    const handle = await open(server.path('echo.ts'), 'w');
    try {
      const mark = await auditMark(server.sandbox);
      await handle.write(final.slice(0, cut));
      await handle.sync();
      // The first half is delivered (the writer paused past the settle window) and refused.
      const failure = await failureOf('echo.ts', mark);
      expect(failure).toMatchObject({ code: 'HOTMCP_ERR_SYNTAX', file: server.path('echo.ts') });
      expect(failure.line).toBeGreaterThan(1);
      await expectEchoKept(server);
      await handle.write(final.slice(cut));
    } finally {
      await handle.close();
    }
    await waitUntil(async () => (await callText(server.session.client, 'echo', { text: 'x' })) === 'whole x');
    expect(await callText(server.session.client, 'word_count', { text: 'a b' })).toBe('« 2 words »');
  });

  it('refuses binary garbage as not UTF-8 text, without putting the bytes in the error', async () => {
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write('echo.ts', garbage(64 * 1024));
    const failure = await failureOf('echo.ts', mark);
    expect(failure).toMatchObject({ code: 'HOTMCP_ERR_INVALID_ENCODING', file: server.path('echo.ts'), line: 1 });
    expect(JSON.stringify(failure).length).toBeLessThan(2000);
    await expectEchoKept(server);
    await expectEchoRecovers(server);
  });

  it('refuses a module with invalid UTF-8, naming the line of the first bad byte', async () => {
    const mark = await auditMark(server.sandbox);
    const source = (await server.sandbox.read('echo.ts')).replace('Echo the text back', 'Caf\u0000 echo');
    const latin1 = Buffer.from(source, 'utf8');
    latin1[latin1.indexOf(0)] = 0xe9; // "é" as Latin-1: a lone continuation-less lead byte in UTF-8
    await server.sandbox.write('echo.ts', latin1);
    const failure = await failureOf('echo.ts', mark);
    const line = source.slice(0, source.indexOf('Caf')).split('\n').length;
    expect(failure).toMatchObject({ code: 'HOTMCP_ERR_INVALID_ENCODING', file: server.path('echo.ts'), line });
    await expectEchoKept(server);
    await expectEchoRecovers(server);
  });

  it('refuses a 5 MB file with a syntax error, and the audit line stays small', async () => {
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write('echo.ts', `export const huge = 1 ${'y'.repeat(5 * 1024 * 1024)};\n`);
    const failure = await failureOf('echo.ts', mark);
    expect(failure).toMatchObject({ code: 'HOTMCP_ERR_SYNTAX', file: server.path('echo.ts'), line: 1 });
    // Every audit file, rotated ones included: a 5 MB line would rotate the log.
    const folder = dirname(server.sandbox.auditLog);
    for (const name of await readdir(folder)) {
      for (const line of (await readFile(join(folder, name), 'utf8')).split('\n')) {
        expect(line.length).toBeLessThan(4000);
      }
    }
    await expectEchoKept(server);
    await expectEchoRecovers(server);
  });

  it('refuses an export that looks like a tool but was not made by defineTool', async () => {
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write(
      'echo.ts',
      `export default {
  name: 'echo',
  description: 'Echo, undefined',
  handler: async () => ({ content: [{ type: 'text', text: 'plain object' }] }),
};
`,
    );
    const failure = await failureOf('echo.ts', mark);
    expect(failure).toMatchObject({ code: 'HOTMCP_ERR_INVALID_DEFINITION', file: server.path('echo.ts') });
    expect(failure.message).toContain('defineTool');
    await expectEchoKept(server);
    await expectEchoRecovers(server);
  });

  it('refuses a definition with no name', async () => {
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write(
      'echo.ts',
      (await server.sandbox.read('echo.ts')).replace("name: 'echo',", "title: 'Echo',"),
    );
    const failure = await failureOf('echo.ts', mark);
    expect(failure).toMatchObject({
      code: 'HOTMCP_ERR_INVALID_DEFINITION',
      file: server.path('echo.ts'),
      line: ECHO_DEFINE_LINE,
    });
    expect(failure.message).toContain('has no name');
    await expectEchoKept(server);
    await expectEchoRecovers(server);
  });

  it('refuses a definition with no handler', async () => {
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write(
      'echo.ts',
      (await server.sandbox.read('echo.ts')).replace('handler: async', 'handle: async'),
    );
    const failure = await failureOf('echo.ts', mark);
    expect(failure).toMatchObject({
      code: 'HOTMCP_ERR_INVALID_DEFINITION',
      file: server.path('echo.ts'),
      line: ECHO_DEFINE_LINE,
    });
    expect(failure.message).toContain('has no handler');
    await expectEchoKept(server);
    await expectEchoRecovers(server);
  });

  it('refuses a tool whose input schema the SDK cannot take, and keeps its last good version', async () => {
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write(
      'echo.ts',
      (await server.sandbox.read('echo.ts')).replace('{ text: z.string() }', "{ text: 'a string, please' }"),
    );
    const rejected = await waitForAuditAfter(server.sandbox, mark, (e) => e.event === 'definition.rejected');
    expect(rejected).toMatchObject({
      code: 'HOTMCP_ERR_INVALID_DEFINITION',
      module: server.path('echo.ts'),
      file: server.path('echo.ts'),
      line: ECHO_DEFINE_LINE,
      kind: 'tool',
      name: 'echo',
    });
    await expectEchoKept(server);
    await expectEchoRecovers(server);
  });

  it('refuses a module that defines one tool name twice', async () => {
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write(
      'echo.ts',
      `${await server.sandbox.read('echo.ts')}
export const again = defineTool({ name: 'echo', handler: async () => ({ content: [] }) });
`,
    );
    const failure = await failureOf('echo.ts', mark);
    expect(failure).toMatchObject({
      code: 'HOTMCP_ERR_DUPLICATE_NAME',
      file: server.path('echo.ts'),
      line: ECHO_DEFINE_LINE, // the second export seen: a module's exports come sorted, 'again' before 'default'
      kind: 'tool',
      name: 'echo',
    });
    await expectEchoKept(server);
    await expectEchoRecovers(server);
  });
});
