import { fileURLToPath } from 'node:url';
import { type AnyDefinition, isDefinition, isHotMcpError } from '@hotmcp/core';
import {
  McpServer as McpServerV1,
  ResourceTemplate as ResourceTemplateV1,
} from '@modelcontextprotocol/sdk/server/mcp.js';
import { McpServer as McpServerV2, ResourceTemplate as ResourceTemplateV2 } from '@modelcontextprotocol/server';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  captureRegistrations,
  createRecordingServer,
  type RecordingServer,
  routeToRecording,
} from './recording-server.js';

const HERE = fileURLToPath(import.meta.url);
const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });

function byName(recording: RecordingServer, name: string): AnyDefinition {
  const found = recording.definitions().find((definition) => definition.name === name);
  if (!found) throw new Error(`no definition ${name}`);
  return found;
}

/** The line of the first line of this file containing `marker`. */
async function lineOf(marker: string): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const lines = (await readFile(HERE, 'utf8')).split('\n');
  return lines.findIndex((line) => line.includes(marker) && !line.includes('lineOf(')) + 1;
}

function refusalOf(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected a refusal');
}

describe('createRecordingServer', () => {
  it('records registerTool calls as tool definitions with the file and line of the call', async () => {
    const recording = createRecordingServer({ attribute: HERE });
    const server = recording.server;
    server.registerTool(
      'add', // marker: registerTool add
      { title: 'Add', description: 'Adds', inputSchema: z.object({ a: z.number(), b: z.number() }) },
      async ({ a, b }: { a: number; b: number }) => text(String(a + b)),
    );
    server.registerTool('ping', { description: 'no arguments' }, async (extra: unknown) =>
      text(`pong ${typeof extra}`),
    );

    const [add, ping] = recording.entries();
    expect(add?.call).toBe('registerTool');
    expect(add?.site?.file).toBe(HERE);
    expect(add?.site?.line).toBe((await lineOf('marker: registerTool add')) - 1);
    const definition = byName(recording, 'add');
    expect(isDefinition(definition)).toBe(true);
    expect(definition).toMatchObject({ kind: 'tool', name: 'add', title: 'Add', description: 'Adds' });
    expect(definition.kind === 'tool' && (await definition.handler({ a: 2, b: 3 }, {}))).toEqual(text('5'));
    // Without an input schema the SDK calls cb(extra); the definition's handler is always (args, extra).
    const pingDefinition = byName(recording, 'ping');
    expect(pingDefinition.kind === 'tool' && (await pingDefinition.handler({}, { any: 1 }))).toEqual(
      text('pong object'),
    );
    expect(ping?.site?.line).toBe(add?.site === undefined ? -1 : (add.site.line as number) + 5);
  });

  it.each([
    ['(name, cb)', [], {}],
    ['(name, description, cb)', ['Says hi'], { description: 'Says hi' }],
    ['(name, paramsSchema, cb)', [{ who: z.string() }], { schema: true }],
    ['(name, annotations, cb)', [{ readOnlyHint: true }], { annotations: { readOnlyHint: true } }],
    [
      '(name, description, paramsSchema, cb)',
      ['Says hi', { who: z.string() }],
      { description: 'Says hi', schema: true },
    ],
    [
      '(name, description, annotations, cb)',
      ['Says hi', { readOnlyHint: true }],
      { description: 'Says hi', annotations: { readOnlyHint: true } },
    ],
    [
      '(name, paramsSchema, annotations, cb)',
      [{ who: z.string() }, { destructiveHint: false }],
      { schema: true, annotations: { destructiveHint: false } },
    ],
    [
      '(name, description, paramsSchema, annotations, cb)',
      ['Says hi', { who: z.string() }, { idempotentHint: true }],
      { description: 'Says hi', schema: true, annotations: { idempotentHint: true } },
    ],
  ] as const)('reads SDK 1.x tool%s as the SDK does', async (_form, middle, expected) => {
    const callback = vi.fn(async () => text('hi'));
    const recording = createRecordingServer();
    recording.server.tool('hello', ...middle, callback);
    const real = new McpServerV1({ name: 'real', version: '1' });
    (real.tool as (...args: unknown[]) => unknown)('hello', ...middle, callback);
    const registered = (real as unknown as { _registeredTools: Record<string, Record<string, unknown>> })
      ._registeredTools.hello as Record<string, unknown>;

    const definition = byName(recording, 'hello');
    expect(definition.description).toBe(registered.description);
    expect(definition.kind === 'tool' ? definition.annotations : 'not a tool').toEqual(registered.annotations);
    expect(definition.kind === 'tool' ? definition.annotations : undefined).toEqual(
      'annotations' in expected ? expected.annotations : undefined,
    );
    expect(definition.kind === 'tool' && definition.inputSchema !== undefined).toBe(
      registered.inputSchema !== undefined,
    );
    expect('description' in expected ? expected.description : undefined).toBe(definition.description);
    expect('schema' in expected).toBe(definition.kind === 'tool' && definition.inputSchema !== undefined);
    if (definition.kind === 'tool') await definition.handler({ who: 'x' }, { extra: true });
    expect(callback).toHaveBeenCalledWith(
      ...('schema' in expected ? [{ who: 'x' }, { extra: true }] : [{ extra: true }]),
    );
  });

  it('refuses an SDK 1.x tool() object that is neither a raw shape nor annotations, as the SDK does', () => {
    const recording = createRecordingServer();
    const error = refusalOf(() => recording.server.tool('odd', { nested: { a: 1 } }, async () => text('')));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_CAPTURE_UNSUPPORTED');
    const real = new McpServerV1({ name: 'real', version: '1' });
    expect(() =>
      (real.tool as (...args: unknown[]) => unknown)('odd', { nested: { a: 1 } }, async () => text('')),
    ).toThrow();
  });

  it('records prompts in the registerPrompt and SDK 1.x prompt() forms', async () => {
    const recording = createRecordingServer();
    const server = recording.server;
    server.registerPrompt(
      'review',
      { description: 'Review', argsSchema: { code: z.string() } },
      ({ code }: { code: string }) => ({
        messages: [{ role: 'user', content: { type: 'text', text: `review ${code}` } }],
      }),
    );
    server.prompt('plain', () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'plain' } }] }));
    server.prompt('described', 'With a description', { topic: z.string() }, ({ topic }: { topic: string }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: topic } }],
    }));
    const review = byName(recording, 'review');
    expect(review.kind === 'prompt' && (await review.handler({ code: 'x' }, {}))).toMatchObject({
      messages: [{ content: { text: 'review x' } }],
    });
    const plain = byName(recording, 'plain');
    expect(plain.kind === 'prompt' && plain.argsSchema).toBeUndefined();
    expect(plain.kind === 'prompt' && (await plain.handler({}, {}))).toMatchObject({
      messages: [{ content: { text: 'plain' } }],
    });
    expect(byName(recording, 'described')).toMatchObject({ kind: 'prompt', description: 'With a description' });
  });

  it.each([
    ['SDK 1.x', ResourceTemplateV1],
    ['SDK 2.x', ResourceTemplateV2],
  ] as const)(
    'records fixed resources and %s ResourceTemplates with their list and complete callbacks',
    async (_sdk, Template) => {
      const recording = createRecordingServer();
      const server = recording.server;
      server.registerResource(
        'config',
        'config://app',
        { mimeType: 'text/plain', description: 'The config' },
        (uri: URL) => ({
          contents: [{ uri: uri.href, text: 'debug=false' }],
        }),
      );
      server.resource('legacy', 'legacy://one', (uri: URL) => ({ contents: [{ uri: uri.href, text: 'one' }] }));
      const list = async () => ({ resources: [{ uri: 'users://1', name: 'user 1' }] });
      server.registerResource(
        'user',
        new Template('users://{id}', { list, complete: { id: (value: string) => [`${value}1`, `${value}2`] } }),
        { title: 'User' },
        (uri: URL, { id }: Record<string, unknown>) => ({ contents: [{ uri: uri.href, text: `user ${String(id)}` }] }),
      );
      server.resource(
        'legacy-template',
        new Template('legacy://{n}', { list: undefined }),
        { description: 'd' },
        (uri: URL) => ({
          contents: [{ uri: uri.href, text: 'n' }],
        }),
      );

      expect(byName(recording, 'config')).toMatchObject({
        kind: 'resource',
        uri: 'config://app',
        mimeType: 'text/plain',
      });
      expect(byName(recording, 'legacy')).toMatchObject({ kind: 'resource', uri: 'legacy://one' });
      const user = byName(recording, 'user');
      if (user.kind !== 'resourceTemplate') throw new Error('not a template');
      expect(user).toMatchObject({ template: 'users://{id}', title: 'User' });
      expect(await user.list?.({})).toEqual(await list());
      expect(await user.complete?.id?.('a')).toEqual(['a1', 'a2']);
      expect(await user.handler(new URL('users://7'), { id: '7' }, {})).toMatchObject({
        contents: [{ text: 'user 7' }],
      });
      const legacy = byName(recording, 'legacy-template');
      expect(legacy).toMatchObject({ kind: 'resourceTemplate', template: 'legacy://{n}', description: 'd' });
      expect(legacy.kind === 'resourceTemplate' && legacy.list).toBeUndefined();
    },
  );

  it('follows the handles: disable hides, enable shows, update changes and renames, remove drops', async () => {
    const recording = createRecordingServer();
    const handle = recording.server.registerTool('one', { description: 'first' }, async () => text('v1'));
    const other = recording.server.registerPrompt('p', {}, () => ({ messages: [] }));
    handle.disable();
    expect(handle.enabled).toBe(false);
    expect(recording.definitions().map((definition) => definition.name)).toEqual(['p']);
    expect(recording.entries()).toHaveLength(2);
    handle.enable();
    handle.update({ name: 'renamed', description: 'second', callback: async () => text('v2') });
    const renamed = byName(recording, 'renamed');
    expect(renamed.description).toBe('second');
    expect(renamed.kind === 'tool' && (await renamed.handler({}, {}))).toEqual(text('v2'));
    expect(recording.definitions().some((definition) => definition.name === 'one')).toBe(false);
    // The old name is free again, as in the SDK.
    recording.server.registerTool('one', {}, async () => text('new one'));
    other.update({ name: null });
    handle.remove();
    expect(recording.definitions().map((definition) => definition.name)).toEqual(['one']);
  });

  it('renames a fixed resource by update({ uri }) and a template by update({ name })', () => {
    const recording = createRecordingServer();
    const fixed = recording.server.registerResource('c', 'a://x', {}, (uri: URL) => ({
      contents: [{ uri: uri.href }],
    }));
    fixed.update({ uri: 'a://y', name: 'display' });
    expect(recording.definitions()[0]).toMatchObject({ kind: 'resource', uri: 'a://y', name: 'display' });
    const template = recording.server.registerResource(
      't',
      new ResourceTemplateV2('t://{id}', { list: undefined }),
      {},
      (uri: URL) => ({ contents: [{ uri: uri.href }] }),
    );
    template.update({ name: 't2', template: new ResourceTemplateV2('t2://{id}', { list: undefined }) });
    expect(recording.definitions()[1]).toMatchObject({ kind: 'resourceTemplate', name: 't2', template: 't2://{id}' });
  });

  it('refuses a second registration of one name, as the SDK does, with the file and line', () => {
    const recording = createRecordingServer({ attribute: HERE });
    recording.server.registerTool('dup', {}, async () => text(''));
    const error = refusalOf(() => recording.server.tool('dup', async () => text('')));
    expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_DUPLICATE_NAME');
    expect(isHotMcpError(error) && error.file).toBe(HERE);
  });

  it('refuses server.server.setRequestHandler with a typed error naming the call, file and line', async () => {
    const recording = createRecordingServer({ attribute: HERE });
    const error = refusalOf(() => recording.server.server.setRequestHandler({}, () => ({}))); // marker: setRequestHandler
    expect(isHotMcpError(error)).toBe(true);
    if (!isHotMcpError(error)) return;
    expect(error.code).toBe('HOTMCP_ERR_CAPTURE_UNSUPPORTED');
    expect(error.file).toBe(HERE);
    expect(error.line).toBe(await lineOf('marker: setRequestHandler'));
    expect(error.message).toContain('server.server.setRequestHandler()');
    expect(error.message).toContain(`${HERE}:${error.line}`);
    expect(recording.refusals()).toEqual([error]);
  });

  it('refuses capabilities, unknown members, writes and experimental tasks', () => {
    const recording = createRecordingServer();
    const server = recording.server as unknown as Record<string, any>;
    const calls = [
      () => server.server.registerCapabilities({ tools: {} }),
      () => server.experimental.tasks.registerToolTask('t', {}, {}),
      () => server.registerSomething('x'),
      () => {
        server.server.onerror = () => {};
      },
    ];
    for (const call of calls) {
      const error = refusalOf(call);
      expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_CAPTURE_UNSUPPORTED');
    }
    expect(recording.refusals().map((error) => error.details?.call)).toEqual([
      'server.server.registerCapabilities()',
      'server.experimental',
      'server.registerSomething',
      'assigning server.server.onerror',
    ]);
  });

  it('ignores connect() by default and refuses it when told to', async () => {
    await expect(createRecordingServer().server.connect({})).resolves.toBeUndefined();
    const refusing = createRecordingServer({ connect: 'refuse' });
    await expect(refusing.server.connect({})).rejects.toMatchObject({ code: 'HOTMCP_ERR_CAPTURE_UNSUPPORTED' });
  });

  it('answers probes (await, JSON) without refusing', async () => {
    const recording = createRecordingServer();
    await expect(Promise.resolve(recording.server)).resolves.toBe(recording.server);
    expect(() => JSON.stringify(Object.keys(recording.server))).not.toThrow();
    expect(recording.refusals()).toEqual([]);
  });

  it('refuses registrations and handle changes once sealed; run-time calls still forward', async () => {
    const sent: unknown[] = [];
    const live = {
      isConnected: () => true,
      sendLoggingMessage: async (params: unknown) => {
        sent.push(params);
      },
      server: { getClientVersion: () => ({ name: 'client' }) },
    };
    const recording = createRecordingServer({ forward: live });
    const handle = recording.server.registerTool('t', {}, async () => text(''));
    recording.seal();
    expect(recording.sealed).toBe(true);
    expect(refusalOf(() => recording.server.registerTool('late', {}, async () => text('')))).toMatchObject({
      code: 'HOTMCP_ERR_CAPTURE_UNSUPPORTED',
    });
    expect(refusalOf(() => handle.disable())).toMatchObject({ code: 'HOTMCP_ERR_CAPTURE_UNSUPPORTED' });
    expect(recording.definitions().map((definition) => definition.name)).toEqual(['t']);
    expect(recording.server.isConnected()).toBe(true);
    await recording.server.sendLoggingMessage({ level: 'info', data: 'x' });
    expect(sent).toEqual([{ level: 'info', data: 'x' }]);
    expect(recording.server.server.getClientVersion()).toEqual({ name: 'client' });
  });

  it('without a server to forward to, is not connected and refuses calls that need one', () => {
    const recording = createRecordingServer();
    expect(recording.server.isConnected()).toBe(false);
    expect(() => recording.server.sendToolListChanged()).not.toThrow();
    expect(refusalOf(() => recording.server.server.createMessage({}))).toMatchObject({
      code: 'HOTMCP_ERR_CAPTURE_UNSUPPORTED',
    });
  });
});

describe('routeToRecording', () => {
  it.each([
    ['SDK 1.x', () => new McpServerV1({ name: 's', version: '1' }, { capabilities: { tools: { listChanged: true } } })],
    ['SDK 2.x', () => new McpServerV2({ name: 's', version: '1' }, { capabilities: { tools: { listChanged: true } } })],
  ] as const)('makes a real %s McpServer record its registrations instead of serving them', (_sdk, make) => {
    const instance = make() as unknown as {
      registerTool(name: string, config: object, cb: () => unknown): unknown;
      server: { setRequestHandler(...args: unknown[]): unknown };
    };
    const recording = createRecordingServer({ attribute: HERE });
    const restore = routeToRecording(instance, recording);
    instance.registerTool('routed', { description: 'routed' }, async () => text('r'));
    const registry = (instance as unknown as { _registeredTools: Record<string, unknown> })._registeredTools;
    expect(Object.keys(registry)).toEqual([]);
    expect(recording.entries()[0]).toMatchObject({ call: 'registerTool', site: { file: HERE } });
    expect(refusalOf(() => instance.server.setRequestHandler({}, () => ({})))).toMatchObject({
      code: 'HOTMCP_ERR_CAPTURE_UNSUPPORTED',
    });
    restore();
    instance.registerTool('served', {}, async () => text('s'));
    expect(Object.keys(registry)).toEqual(['served']);
  });
});

describe('captureRegistrations', () => {
  it('awaits an async register function and seals the recording', async () => {
    const recording = await captureRegistrations(async (server) => {
      await new Promise((resolve) => setImmediate(resolve));
      server.registerTool('later', {}, async () => text('later'));
    });
    expect(recording.definitions().map((definition) => definition.name)).toEqual(['later']);
    expect(recording.sealed).toBe(true);
  });

  it('rejects with a refusal the register function caught', async () => {
    await expect(
      captureRegistrations((server) => {
        try {
          server.server.setRequestHandler({}, () => ({}));
        } catch {}
        server.registerTool('kept', {}, async () => text(''));
      }),
    ).rejects.toMatchObject({ code: 'HOTMCP_ERR_CAPTURE_UNSUPPORTED' });
  });

  it('rejects with what the register function threw', async () => {
    await expect(
      captureRegistrations(() => {
        throw new Error('broken register');
      }),
    ).rejects.toThrow('broken register');
  });

  it('rejects on abort, and refuses what the function registers afterwards', async () => {
    const controller = new AbortController();
    let server: Parameters<Parameters<typeof captureRegistrations>[0]>[0] | undefined;
    let release: () => void = () => {};
    const capture = captureRegistrations(
      async (recording) => {
        server = recording;
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      },
      { signal: controller.signal },
    );
    controller.abort(new Error('too slow'));
    await expect(capture).rejects.toThrow('too slow');
    release();
    expect(refusalOf(() => server?.registerTool('late', {}, async () => text('')))).toMatchObject({
      code: 'HOTMCP_ERR_CAPTURE_UNSUPPORTED',
    });
  });
});
