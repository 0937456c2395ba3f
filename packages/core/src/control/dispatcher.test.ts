import 'reflect-metadata';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { MemoryAuditSink } from '../audit/memory-audit-sink.js';
import { createContainer, registerValue } from '../container.js';
import { createReloaderFromContainer } from '../create-reloader.js';
import { defineTool, type ToolResult } from '../define.js';
import { FakeChangeSource, FakeModuleLoader, FakeRegistryAdapter } from '../testing/index.js';
import { TOKENS } from '../tokens.js';
import { inputJsonSchema, validateArguments } from './dispatcher.js';

const ROOT = '/work/tools';
const text = (value: string) => ({ content: [{ type: 'text', text: value }] });
const firstText = (result: ToolResult) => String(result.content[0]?.text);

async function setup(options: { controlTools?: boolean } = {}) {
  const source = new FakeChangeSource([`${ROOT}/a.ts`]);
  const loader = new FakeModuleLoader();
  const adapter = new FakeRegistryAdapter();
  const container = createContainer();
  registerValue(container, TOKENS.settings, { root: ROOT, include: ['**/*.ts'], exclude: [], deny: [], denyFiles: [] });
  registerValue(container, TOKENS.changeSource, source);
  registerValue(container, TOKENS.moduleLoader, loader);
  registerValue(container, TOKENS.registryAdapter, adapter);
  registerValue(container, TOKENS.auditSink, new MemoryAuditSink());
  const reloader = createReloaderFromContainer(container, { dispatcher: true, ...options });
  const call = async (name: string, args?: Record<string, unknown>) => {
    const dispatcher = adapter.tool('hotmcp_call');
    if (!dispatcher) throw new Error('hotmcp_call is not registered');
    const input = await validateArguments(dispatcher.inputSchema, { name, ...(args && { arguments: args }) });
    if (!input.ok) throw new Error(input.issues);
    return (await dispatcher.handler(input.value, {})) as ToolResult;
  };
  return { source, loader, adapter, reloader, call };
}

describe('the dispatcher (dispatcher: true)', () => {
  it('calls a current tool by name with arguments checked against its schema', async () => {
    const t = await setup();
    const handler = vi.fn(({ a, b }: { a: number; b: number }) => text(String(a + b)));
    t.loader.set(`${ROOT}/a.ts`, {
      add: defineTool({ name: 'add', inputSchema: { a: z.number(), b: z.number().default(1) }, handler }),
    });
    await t.reloader.start();
    expect(t.adapter.list().tools.sort()).toEqual(['add', 'hotmcp_call', 'hotmcp_status']);
    expect(firstText(await t.call('add', { a: 2 }))).toBe('3');
    const invalid = await t.call('add', { a: 'two' });
    expect(invalid.isError).toBe(true);
    expect(firstText(invalid)).toContain('a:');
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('answers an unknown name with an error listing the current tools', async () => {
    const t = await setup();
    t.loader.set(`${ROOT}/a.ts`, { one: defineTool({ name: 'one', handler: () => text('1') }) });
    await t.reloader.start();
    const result = await t.call('missing');
    expect(result.isError).toBe(true);
    expect(firstText(result)).toBe('No tool named "missing". Current tools: hotmcp_status, one.');
  });

  it('calls a tool added after start at once, and hotmcp_status lists it with its JSON Schema', async () => {
    const t = await setup();
    t.loader.set(`${ROOT}/a.ts`, {});
    await t.reloader.start();
    t.loader.set(`${ROOT}/b.ts`, {
      shout: defineTool({
        name: 'shout',
        description: 'Shouts',
        inputSchema: z.object({ text: z.string() }),
        handler: ({ text: value }) => text(value.toUpperCase()),
      }),
    });
    t.source.emit({ added: [`${ROOT}/b.ts`] });
    await t.reloader.idle();
    expect(firstText(await t.call('shout', { text: 'hi' }))).toBe('HI');
    const status = JSON.parse(firstText((await t.adapter.tool('hotmcp_status')?.handler({}, {})) as ToolResult));
    expect(status.tools).toContainEqual({
      name: 'shout',
      description: 'Shouts',
      inputSchema: expect.objectContaining({
        type: 'object',
        properties: { text: { type: 'string' } },
        required: ['text'],
      }),
    });
  });

  it('keeps hotmcp_reload and one hotmcp_status beside the control tools', async () => {
    const t = await setup({ controlTools: true });
    t.loader.set(`${ROOT}/a.ts`, {});
    await t.reloader.start();
    expect(t.adapter.list().tools.sort()).toEqual(['hotmcp_call', 'hotmcp_reload', 'hotmcp_status']);
  });
});

describe('inputJsonSchema', () => {
  it('converts raw shapes and object schemas, and says nothing of what it cannot read', () => {
    expect(inputJsonSchema({ n: z.number() }, z as never)).toMatchObject({ properties: { n: { type: 'number' } } });
    expect(inputJsonSchema(undefined, undefined)).toEqual({ type: 'object', properties: {} });
    expect(inputJsonSchema({ n: 'not a schema' }, undefined)).toBeUndefined();
  });
});
