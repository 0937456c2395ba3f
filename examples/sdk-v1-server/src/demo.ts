/**
 * `pnpm demo`: the example server in a temp copy, driven by the official SDK
 * Client over stdio. Each step is narrated with its latency.
 */

import { readFile } from 'node:fs/promises';
import { waitUntil } from '@hotmcp/core/testing';
import { callText, connect, createSandbox, type Sandbox } from './harness.js';

const say = (line: string) => process.stdout.write(`${line}\n`);
const ms = (start: number) => `${(performance.now() - start).toFixed(1)} ms`;

/** A tool module whose greet tool answers `${prefix}${name}`. */
const tool = (prefix: string, description = 'Greet someone') => `import { defineTool } from '@hotmcp/core';
import { z } from 'zod';

export default defineTool({
  name: 'greet',
  description: ${JSON.stringify(description)},
  inputSchema: { name: z.string() },
  handler: async ({ name }) => ({ content: [{ type: 'text', text: ${JSON.stringify(prefix)} + name }] }),
});
`;

async function auditEvents(sandbox: Sandbox): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(sandbox.auditLog, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function main(): Promise<void> {
  const sandbox = await createSandbox();
  say(`hotmcp demo — example server on @modelcontextprotocol/sdk 1.x, tools in ${sandbox.toolsDir}\n`);
  let start = performance.now();
  const session = await connect(sandbox);
  const { client } = session;
  say(`1. started the server and connected over stdio (${ms(start)})`);
  try {
    const info = JSON.parse(await callText(client, 'server_info')) as { pid: number };
    start = performance.now();
    const names = (await client.listTools()).tools.map((t) => t.name);
    say(`2. tools/list: ${names.join(', ')} (${ms(start)}); server pid ${info.pid}`);

    start = performance.now();
    await sandbox.write('greet.ts', tool('Hello, '));
    await session.waitForListChanged(1);
    say(`3. wrote tools/greet.ts → notifications/tools/list_changed arrived (${ms(start)})`);
    say(
      '   the first edit right after a start also starts the preflight worker (a thread that evaluates new code first)',
    );
    start = performance.now();
    say(`4. greet({ name: "Ada" }) → "${await callText(client, 'greet', { name: 'Ada' })}" (${ms(start)})`);

    start = performance.now();
    const notifiedBeforeEdit = session.listChanged();
    await sandbox.write('greet.ts', tool('Good morning, '));
    let reply = '';
    await waitUntil(async () => {
      reply = await callText(client, 'greet', { name: 'Ada' });
      return reply.startsWith('Good morning');
    });
    say(`5. edited greet.ts → the next call returns the new text: "${reply}" (${ms(start)})`);
    if (session.listChanged() === notifiedBeforeEdit) {
      say('   no list_changed: only the handler changed, nothing a client lists');
    }

    const before = (await auditEvents(sandbox)).length;
    const said = session.stderr().length;
    start = performance.now();
    await sandbox.write('greet.ts', `${tool('Broken ')}\nexport const oops = ;\n`);
    // Timed to the server's stderr line, said as it rejects the edit; the audit log, written a little later, has
    // the details.
    await waitUntil(() => /\((?!HOTMCP_ERR_EMPTY_MODULE)HOTMCP_ERR_\w+\)/.test(session.stderr().slice(said)));
    const rejected = ms(start);
    let failure: Record<string, unknown> | undefined;
    await waitUntil(async () => {
      // writeFile truncates first: a look in between sees the file empty, which is not the failure shown here.
      failure = (await auditEvents(sandbox))
        .slice(before)
        .find((e) => e.event === 'module.failed' && e.code !== 'HOTMCP_ERR_EMPTY_MODULE');
      return failure !== undefined;
    });
    say(`6. broke greet.ts with a syntax error → rejected (${rejected}):`);
    // The loader's message starts "Failed to load <file> (<file>:<line>): ": the place is said already.
    const message = String(failure?.message).replace(/^Failed to load .*?(?: \([^)]*\))?: /, '');
    say(`   ${failure?.code} at ${String(failure?.file).replace(`${sandbox.dir}/`, '')}:${failure?.line}: ${message}`);
    say(`   greet still answers with the last good version: "${await callText(client, 'greet', { name: 'Ada' })}"`);

    start = performance.now();
    const seen = session.listChanged();
    await sandbox.write('greet.ts', tool('Fixed: hi, ', 'Greet someone, warmly'));
    await session.waitForListChanged(seen + 1);
    say(
      `7. fixed it, with a new description → list_changed (${ms(start)}); greet → "${await callText(client, 'greet', { name: 'Ada' })}"`,
    );

    start = performance.now();
    await sandbox.remove('greet.ts');
    await session.waitForListChanged(seen + 2);
    const after = (await client.listTools()).tools.map((t) => t.name);
    say(`8. deleted greet.ts → list_changed (${ms(start)}); tools/list: ${after.join(', ')}`);
    if (after.includes('greet')) throw new Error('greet is still listed after deletion');

    const infoAfter = JSON.parse(await callText(client, 'server_info')) as { pid: number };
    if (infoAfter.pid !== info.pid) throw new Error('the server restarted');
    say(`9. server pid is still ${infoAfter.pid}: no restart, the client never reconnected.`);
  } finally {
    await session.close();
    await sandbox.cleanup();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
