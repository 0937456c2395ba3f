import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitUntil } from '@hotmcp/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { connectV1, createSandbox, type RunningServer, type Sandbox, startServer } from '../src/harness.js';

// A tool whose module appends a line to `log` each time it is evaluated.
const countingTool = (log: string) => `import { appendFileSync } from 'node:fs';
import { defineTool } from '@hotmcp/core';

appendFileSync(${JSON.stringify(log)}, 'import\\n');

export default defineTool({
  name: 'counted',
  description: 'Counts its imports',
  handler: async () => ({ content: [{ type: 'text', text: 'counted' }] }),
});
`;

let sandbox: Sandbox | undefined;
let server: RunningServer | undefined;

afterEach(async () => {
  await server?.stop();
  await sandbox?.cleanup();
  server = undefined;
  sandbox = undefined;
});

/** How many times the counting tool's module was evaluated once a client can call it. */
async function importsOfAnEdit(env: Record<string, string>): Promise<number> {
  sandbox = await createSandbox();
  server = await startServer(sandbox, env);
  const session = await connectV1(server.origin);
  try {
    const log = join(sandbox.dir, 'imports.log');
    await sandbox.write('counted.ts', countingTool(log));
    await waitUntil(async () => (await session.listTools()).includes('counted'), {
      timeoutMs: 15_000,
      what: 'the counted tool to be listed',
    });
    expect(await session.callText('counted')).toBe('counted');
    return (await readFile(log, 'utf8')).split('\n').filter(Boolean).length;
  } finally {
    await session.close();
  }
}

describe('HOTMCP_PREFLIGHT_TIMEOUT_MS', () => {
  it('0 turns the import preflight off: a new module is evaluated once, in the server', async () => {
    expect(await importsOfAnEdit({ HOTMCP_PREFLIGHT_TIMEOUT_MS: '0' })).toBe(1);
  });

  it('a limit keeps it on: the module is evaluated in the preflight worker first, then in the server', async () => {
    expect(await importsOfAnEdit({ HOTMCP_PREFLIGHT_TIMEOUT_MS: '5000' })).toBe(2);
  });
});
