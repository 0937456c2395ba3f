// Fault catalogue, part 3: code that loaded fine and fails later — in a
// handler a client calls, or in the dispose hook a reload runs.
import { describe, expect, it } from 'vitest';
import { callText } from '../src/harness.js';
import {
  auditMark,
  expectEchoKept,
  greetTool,
  serverPid,
  untilAnswers,
  useServer,
  waitForAuditAfter,
} from './support.js';

const server = useServer();

/** A tool whose handler does `body` when called with `{ mode: 'fail' }`, and answers "fine" otherwise. */
function fragileTool(body: string): string {
  return `import { defineTool } from '@hotmcp/core';
import { z } from 'zod';

export default defineTool({
  name: 'fragile',
  description: 'Fails on demand',
  inputSchema: { mode: z.string() },
  handler: async ({ mode }) => {
    if (mode === 'fail') {
      ${body}
    }
    return { content: [{ type: 'text', text: 'fine' }] };
  },
});
`;
}

describe('faults at run time', () => {
  it('answers a call whose handler throws with an error result, and goes on serving', async () => {
    await server.sandbox.write('fragile.ts', fragileTool("throw new Error('handler exploded');"));
    await untilAnswers(server.session, 'fragile', { mode: 'ok' }, 'fine');
    const result = await server.session.client.callTool({ name: 'fragile', arguments: { mode: 'fail' } });
    expect(result.isError).toBe(true);
    const text = (result.content as Array<{ text?: string }>)[0]?.text ?? '';
    expect(text).toContain('handler exploded');
    expect(text).not.toContain(server.sandbox.dir); // no absolute path, no stack
    expect(await callText(server.session.client, 'fragile', { mode: 'ok' })).toBe('fine');
    await expectEchoKept(server);
  });

  it('survives a handler that returns something that is not a tool result', async () => {
    await server.sandbox.write('fragile.ts', fragileTool("return { content: 'not a list' } as never;"));
    await untilAnswers(server.session, 'fragile', { mode: 'ok' }, 'fine');
    // SDK 1.x checks the result against the tools/call schema and answers with a JSON-RPC error.
    const outcome = await server.session.client
      .callTool({ name: 'fragile', arguments: { mode: 'fail' } })
      .then((result) => (result.isError ? 'error result' : JSON.stringify(result)))
      .catch((error: Error) => `client refused: ${error.message}`);
    expect(outcome).toMatch(/^client refused: .*Invalid tools\/call result/);
    expect(await callText(server.session.client, 'fragile', { mode: 'ok' })).toBe('fine');
    await expectEchoKept(server);
  });

  it('audits a dispose hook that throws, with file and line, and still swaps in the new version', async () => {
    const source = await server.sandbox.read('echo.ts');
    const withDispose = `${source}\nexport function dispose(): void {\n  throw new Error('socket already closed');\n}\n`;
    await server.sandbox.write('echo.ts', withDispose);
    await untilAnswers(server.session, 'echo', { text: 'x' }, '« x »');
    await waitForAuditAfter(server.sandbox, 0, (e) => e.event === 'batch.applied' && e.changed === 1);
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write('echo.ts', greetTool('echo', 'Next'));
    const failure = await waitForAuditAfter(server.sandbox, mark, (e) => e.event === 'module.dispose_failed');
    const line = withDispose.split('\n').indexOf("  throw new Error('socket already closed');") + 1;
    expect(failure).toMatchObject({ code: 'HOTMCP_ERR_DISPOSE_FAILED', file: server.path('echo.ts'), line });
    expect(failure.message).toContain('socket already closed');
    await untilAnswers(server.session, 'echo', { name: 'x' }, 'Next x');
    expect(await serverPid(server.session)).toBe(server.pid);
  });
});
