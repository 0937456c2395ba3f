import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { callText, connect, createSandbox, type Sandbox, type Session } from '../src/harness.js';

let sandbox: Sandbox | undefined;
let session: Session | undefined;

afterEach(async () => {
  await session?.close();
  await sandbox?.cleanup();
  session = undefined;
  sandbox = undefined;
});

/** The most files loaded before the server answers `initialize` (core's FIRST_BATCH_FILES). */
const FIRST_BATCH_FILES = 200;

const bulkTool = (n: number) => `import { defineTool } from '@hotmcp/core';

export default defineTool({
  name: 'bulk_${n}',
  description: 'Bulk tool ${n}',
  handler: async () => ({ content: [{ type: 'text', text: 'bulk ${n}' }] }),
});
`;

/** A tool module whose import does not finish before `go` exists. */
const slowTool = (go: string) => `import { existsSync } from 'node:fs';
import { defineTool } from '@hotmcp/core';

while (!existsSync(${JSON.stringify(go)})) await new Promise((resolve) => setTimeout(resolve, 20));

export default defineTool({
  name: 'zz_slow',
  description: 'Loaded once go exists',
  handler: async () => ({ content: [{ type: 'text', text: 'slow loaded' }] }),
});
`;

const toolNames = async (session: Session) => (await session.client.listTools()).tools.map((tool) => tool.name);

it('answers initialize once the first 200 files of a larger folder are live, then lists the rest with one list_changed', async () => {
  sandbox = await createSandbox();
  const bulk = Array.from({ length: FIRST_BATCH_FILES }, (_, n) => n);
  // Sorted first: the first batch is the folder's first 200 files by path.
  for (const n of bulk) await sandbox.write(`a-bulk-${String(n).padStart(3, '0')}.ts`, bulkTool(n));
  const go = join(sandbox.dir, 'go');
  await sandbox.write('zz-slow.ts', slowTool(go));
  // The preflight's limit well above how long the module waits for `go` here.
  session = await connect(sandbox, { HOTMCP_PREFLIGHT_TIMEOUT_MS: '120000' });

  // Answered while zz-slow.ts cannot have finished its import: `go` does not exist yet.
  const first = await toolNames(session);
  expect(first.filter((name) => name.startsWith('bulk_')).sort()).toEqual(bulk.map((n) => `bulk_${n}`).sort());
  expect(first).toContain('server_info');
  expect(first).not.toContain('zz_slow');
  expect(first).not.toContain('echo');
  expect(session.listChanged()).toBe(0);

  await writeFile(go, '');
  await session.waitForListChanged(1, 60_000);
  const all = await toolNames(session);
  expect(all).toEqual(expect.arrayContaining(['zz_slow', 'echo', 'word_count', 'bulk_0', 'bulk_199']));
  expect(await callText(session.client, 'zz_slow')).toBe('slow loaded');
  expect(session.listChanged()).toBe(1);
}, 120_000);
