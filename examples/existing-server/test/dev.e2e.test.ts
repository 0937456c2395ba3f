import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callText, connect, createSandbox, type Sandbox, type Session, toolNames } from './harness.js';

let sandbox: Sandbox;
let session: Session;

beforeEach(async () => {
  sandbox = await createSandbox();
});

afterEach(async () => {
  await session?.close();
  await sandbox?.cleanup();
});

const pidOf = async () => JSON.parse(await callText(session.client, 'server_info')).pid as number;
const poll = { timeout: 15_000, interval: 20 };

describe('the existing SDK 1.x server under hotmcp dev', () => {
  it('serves every registration shape, and applies edits of each in place, in the same process', async () => {
    session = await connect(sandbox);
    const { client } = session;
    expect(await toolNames(client)).toEqual(['add', 'count', 'greet', 'reverse', 'server_info', 'upper', 'visit']);
    expect((await client.listPrompts()).prompts.map((prompt) => prompt.name)).toEqual(['review']);
    const note = (await client.readResource({ uri: 'notes://7' })).contents[0];
    expect(note && 'text' in note ? note.text : undefined).toBe('note 7');
    const pid = await pidOf();
    expect(await callText(client, 'count')).toBe('1');
    expect(await callText(client, 'count')).toBe('2');
    expect(await callText(client, 'visit')).toBe('visits: 1');

    // A registerTools(server) module: a new handler body, no list_changed.
    await sandbox.edit('src/tools/greet.ts', '`Hello, ', '`Hi, ');
    await expect.poll(() => callText(client, 'greet', { name: 'Ada' }), poll).toBe('Hi, Ada!');
    // A module neither edited nor importing an edited one keeps its state.
    expect(await callText(client, 'count')).toBe('3');

    // A tool in the entry file.
    await sandbox.edit('src/server.ts', '`sum: ', '`total: ');
    await expect.poll(() => callText(client, 'add', { a: 2, b: 3 }), poll).toBe('total: 5');
    // An array registered in a loop.
    await sandbox.edit('src/text-tools.ts', 'text.toUpperCase()', "text.toUpperCase().concat('!')");
    await expect.poll(() => callText(client, 'upper', { text: 'abc' }), poll).toBe('ABC!');
    // State kept in import.meta.hot.data survives an edit of its own module.
    await sandbox.edit('src/tools/visits.ts', '`visits: ', '`visits so far: ');
    await expect.poll(() => callText(client, 'visit'), poll).toMatch(/^visits so far: \d+$/);
    expect(await callText(client, 'visit')).toMatch(/^visits so far: [3-9]$/);
    // A prompt.
    await sandbox.edit('src/server.ts', 'Please review:', 'Review this:');
    await expect
      .poll(async () => {
        const result = await client.getPrompt({ name: 'review', arguments: { code: 'x' } });
        return (result.messages[0]?.content as { text?: string } | undefined)?.text;
      }, poll)
      .toBe('Review this:\nx');
    expect(session.listChanged()).toBe(0);

    // Add a registration: list_changed, then listed and callable.
    await sandbox.edit(
      'src/tools/greet.ts',
      '\n}\n',
      "\n  server.registerTool('farewell', { description: 'Say goodbye' }, async () => ({ content: [{ type: 'text', text: 'Bye!' }] }));\n}\n",
    );
    await expect.poll(() => session.listChanged(), poll).toBeGreaterThan(0);
    expect(await toolNames(client)).toContain('farewell');
    expect(await callText(client, 'farewell')).toBe('Bye!');

    // Remove one: gone.
    const before = session.listChanged();
    const texts = await sandbox.read('src/text-tools.ts');
    await sandbox.write('src/text-tools.ts', texts.replace(/ {2}\{\n {4}name: 'reverse'[\s\S]*?\n {2}\},\n/, ''));
    await expect.poll(() => session.listChanged(), poll).toBeGreaterThan(before);
    expect(await toolNames(client)).not.toContain('reverse');

    // Break the entry: the last good version keeps answering, the error names file and line.
    const entry = await sandbox.read('src/server.ts');
    const lines = entry.split('\n');
    const brokenLine = lines.findIndex((line) => line.startsWith('registerTools(server);')) + 1;
    lines.splice(brokenLine - 1, 0, 'const broken = ;');
    await sandbox.write('src/server.ts', lines.join('\n'));
    await expect.poll(() => session.stderr(), poll).toContain(`hotmcp: src/server.ts:${brokenLine}:`);
    expect(await callText(client, 'add', { a: 1, b: 1 })).toBe('total: 2');
    expect(await callText(client, 'greet', { name: 'Ada' })).toBe('Hi, Ada!');
    await expect.poll(() => JSON.stringify(session.logs()), poll).toContain('server.ts');
    expect(await sandbox.read('audit.log')).toContain('module.failed');

    // Fix it: applied.
    await sandbox.write('src/server.ts', entry.replace('`total: ', '`fixed total: '));
    await expect.poll(() => callText(client, 'add', { a: 1, b: 1 }), poll).toBe('fixed total: 2');

    // Same process all along, and the untouched counter kept counting through every re-evaluation.
    expect(await pidOf()).toBe(pid);
    expect(await callText(client, 'count')).toBe('4');
  });
});
