import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { assertAdapter } from '../adapter-contract.js';
import {
  type AnyDefinition,
  type DefinitionKind,
  definePrompt,
  defineResource,
  defineTool,
  type ToolConfig,
} from '../define.js';
import { isHotMcpError } from '../errors.js';
import type {
  ListKind,
  RegistryChange,
  RegistryEntryRef,
  ToolRegistryAdapter,
} from '../ports/tool-registry-adapter.js';

/** What a tool call returned, as the conformance suite reads it. */
export interface ConformanceCallResult {
  /** Text of the first content item, or the error message of a JSON-RPC error. */
  text: string;
  /** True for a result with `isError` and for a JSON-RPC error. */
  isError: boolean;
}

/**
 * One fresh server with its adapter and a connected, real MCP client: what
 * {@link adapterConformance} drives. Lists and calls go through the client,
 * so they show what a user of the server sees.
 */
export interface ConformanceSession {
  /** The adapter under test, bound to this session's server. */
  adapter: ToolRegistryAdapter;
  /**
   * Register an entry on the server directly, outside the reloader (a
   * "foreign" entry). For a fixed resource, `name` is its URI; a foreign
   * tool answers `foreign:<name>`.
   */
  addForeign(kind: DefinitionKind, name: string): void | Promise<void>;
  /** Tool names from the client's tools/list. */
  listTools(): Promise<string[]>;
  /** Call a tool through the client. */
  callTool(name: string, args?: Record<string, unknown>): Promise<ConformanceCallResult>;
  /** Prompt names from prompts/list (needed when the adapter supports prompts). */
  listPrompts?(): Promise<string[]>;
  /** Text of the first message of prompts/get. */
  getPrompt?(name: string, args?: Record<string, string>): Promise<string>;
  /** URIs from resources/list (needed when the adapter supports fixed resources). */
  listResources?(): Promise<string[]>;
  /** Template names from resources/templates/list (needed when the adapter supports templates). */
  listResourceTemplates?(): Promise<string[]>;
  /** Text of the first content item of resources/read. */
  readResource?(uri: string): Promise<string>;
  /** How many list_changed notifications of each list the client has received. */
  notifications(): Record<ListKind, number>;
  /** A round trip to the server, so every notification sent before it has arrived (a ping). */
  settle(): Promise<void>;
  /** Make the server throw when the entry with this name is next registered (to fail a commit midway). */
  failRegistrationOf(name: string): void;
  /** Close the client and the server. */
  close(): Promise<void>;
}

/** What an adapter package hands {@link adapterConformance}. */
export interface AdapterConformanceHarness {
  /** A fresh server, an adapter for it, and a client connected to it. */
  connect(): Promise<ConformanceSession>;
  /** The definition kinds the adapter supports. Default: all four. */
  kinds?: readonly DefinitionKind[];
  /**
   * A schema of required string fields in the form the adapter's SDK takes
   * (e.g. a zod raw shape). Enables the cases about schemas.
   */
  stringSchema?(fields: readonly string[]): unknown;
}

const text = (value: string) => ({ content: [{ type: 'text', text: value }] });

function tool(name: string, reply: string, config: Partial<ToolConfig> = {}) {
  return defineTool({ name, description: `The ${name} tool`, ...config, handler: () => text(reply) });
}

function prompt(name: string, reply: string, description = `The ${name} prompt`) {
  return definePrompt({
    name,
    description,
    handler: () => ({ messages: [{ role: 'user', content: { type: 'text', text: reply } }] }),
  });
}

function resource(uri: string, reply: string, name = 'doc') {
  return defineResource({
    name,
    uri,
    mimeType: 'text/plain',
    handler: (url) => ({ contents: [{ uri: url.href, text: reply }] }),
  });
}

function template(name: string, uriTemplate: string, reply: string) {
  return defineResource({
    name,
    template: uriTemplate,
    handler: (url, variables) => ({ contents: [{ uri: url.href, text: `${reply}:${String(variables.id)}` }] }),
  });
}

function change(upsert: unknown[], remove: RegistryEntryRef[] = []): RegistryChange {
  return { upsert: upsert as AnyDefinition[], remove };
}

const ref = (kind: DefinitionKind, name: string): RegistryEntryRef => ({ kind, name });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

/**
 * Register the shared conformance cases for a `ToolRegistryAdapter` as
 * vitest tests. Run it from the adapter package's own test file, with a
 * harness that makes a real server and a real MCP client:
 *
 * ```ts
 * adapterConformance('@hotmcp/adapter-sdk-v1', { connect: async () => ({ ... }) });
 * ```
 *
 * Cases: the contract; foreign entries listed and never clobbered; add,
 * replace, remove; one list_changed per list kind per batch and none for
 * untouched lists; none for a change of handler body alone, one for every
 * visible change; a failed commit rolled back with nothing sent; a refused
 * prepare touching nothing; a call in flight finishing on its old handler;
 * no ghost entries; resource URIs keyed by `new URL(uri).href`; nothing on
 * stdout. Cases for prompts and resources run when the harness supports them.
 */
export function adapterConformance(name: string, harness: AdapterConformanceHarness): void {
  const kinds = new Set<DefinitionKind>(harness.kinds ?? ['tool', 'prompt', 'resource', 'resourceTemplate']);
  const supports = (kind: DefinitionKind) => kinds.has(kind);

  describe(`${name}: adapter conformance`, () => {
    let s: ConformanceSession;

    beforeEach(async () => {
      s = await harness.connect();
    });

    afterEach(async () => {
      await s?.close();
    });

    const apply = async (c: RegistryChange) => s.adapter.commit(await s.adapter.prepare(c));

    /** Wait for every notification in flight, then check the counts per list (since `baseline`). */
    async function expectNotifications(
      expected: Partial<Record<ListKind, number>>,
      baseline: Record<ListKind, number> = { tool: 0, prompt: 0, resource: 0 },
    ): Promise<void> {
      await s.settle();
      const now = s.notifications();
      expect({
        tool: now.tool - baseline.tool,
        prompt: now.prompt - baseline.prompt,
        resource: now.resource - baseline.resource,
      }).toEqual({ tool: 0, prompt: 0, resource: 0, ...expected });
    }

    /** The counts once every notification sent so far has arrived (e.g. by registering a foreign entry). */
    async function counted(): Promise<Record<ListKind, number>> {
      await s.settle();
      return s.notifications();
    }

    const sorted = async (names: Promise<string[]>) => [...(await names)].sort();

    it('follows adapter contract 1 and passes the core contract check', () => {
      expect(s.adapter.contractVersion).toBe(1);
      expect(typeof s.adapter.adapterName).toBe('string');
      expect(() => assertAdapter(s.adapter)).not.toThrow();
    });

    it('lists entries registered outside the reloader', async () => {
      await s.addForeign('tool', 'foreign_tool');
      if (supports('prompt')) await s.addForeign('prompt', 'foreign_prompt');
      if (supports('resource')) await s.addForeign('resource', 'config://foreign/doc');
      if (supports('resourceTemplate')) await s.addForeign('resourceTemplate', 'foreign_template');
      const snapshot = s.adapter.list();
      expect(snapshot.tools).toContain('foreign_tool');
      if (supports('prompt')) expect(snapshot.prompts).toContain('foreign_prompt');
      if (supports('resource')) expect(snapshot.resources).toContain('config://foreign/doc');
      if (supports('resourceTemplate')) expect(snapshot.resourceTemplates).toContain('foreign_template');
    });

    it('adds a tool the client lists and calls, with one tools list_changed', async () => {
      expect(await apply(change([tool('echo', 'v1')]))).toEqual({ notified: ['tool'] });
      expect(await s.listTools()).toContain('echo');
      expect(await s.callTool('echo')).toEqual({ text: 'v1', isError: false });
      expect(s.adapter.list().tools).toContain('echo');
      await expectNotifications({ tool: 1 });
    });

    it('replaces a tool so the next call gets the new handler', async () => {
      await apply(change([tool('echo', 'v1')]));
      expect(await apply(change([tool('echo', 'v2', { description: 'Echo, second edition' })]))).toEqual({
        notified: ['tool'],
      });
      expect(await s.callTool('echo')).toEqual({ text: 'v2', isError: false });
      await expectNotifications({ tool: 2 });
    });

    it('removes a tool so the client neither lists nor reaches it', async () => {
      await apply(change([tool('gone', 'x'), tool('kept', 'y')]));
      expect(await apply(change([], [ref('tool', 'gone')]))).toEqual({ notified: ['tool'] });
      expect(await s.listTools()).not.toContain('gone');
      expect((await s.callTool('gone')).isError).toBe(true);
      expect(await s.callTool('kept')).toEqual({ text: 'y', isError: false });
      await expectNotifications({ tool: 2 });
    });

    it('sends nothing for an empty change', async () => {
      expect(await apply(change([], [ref('tool', 'never-registered')]))).toEqual({ notified: [] });
      await expectNotifications({});
    });

    it('sends exactly one list_changed per list kind for a mixed batch', async () => {
      await apply(change([tool('old', 'x')]));
      await expectNotifications({ tool: 1 });
      const upsert: unknown[] = [tool('a', 'a'), tool('b', 'b'), tool('c', 'c')];
      const expected: ListKind[] = ['tool'];
      if (supports('prompt')) {
        upsert.push(prompt('p1', 'one'), prompt('p2', 'two'));
        expected.push('prompt');
      }
      if (supports('resource')) upsert.push(resource('config://app/one', '1', 'one'));
      if (supports('resourceTemplate')) upsert.push(template('user', 'users://{id}', 'user'));
      if (supports('resource') || supports('resourceTemplate')) expected.push('resource');

      expect(await apply(change(upsert, [ref('tool', 'old')]))).toEqual({ notified: expected });
      expect(await sorted(s.listTools())).toEqual(['a', 'b', 'c']);
      await expectNotifications({
        tool: 2,
        prompt: expected.includes('prompt') ? 1 : 0,
        resource: expected.includes('resource') ? 1 : 0,
      });
    });

    it('sends no list_changed for lists a batch does not touch', async () => {
      await apply(change([tool('a', 'a')]));
      await apply(change([tool('a', 'a2', { description: 'changed' }), tool('b', 'b')]));
      await expectNotifications({ tool: 2 });
    });

    it('swaps a handler body without a list_changed when nothing listed changes', async () => {
      const schema = harness.stringSchema?.(['text']);
      const withSchema = schema === undefined ? {} : { inputSchema: schema };
      const args = schema === undefined ? {} : { text: 'hi' };
      await apply(change([tool('echo', 'v1', withSchema)]));
      await expectNotifications({ tool: 1 });
      const again = harness.stringSchema === undefined ? {} : { inputSchema: harness.stringSchema(['text']) };
      expect(await apply(change([tool('echo', 'v2', again)]))).toEqual({ notified: [] });
      expect(await s.callTool('echo', args)).toEqual({ text: 'v2', isError: false });
      await expectNotifications({ tool: 1 });
    });

    it('sends one list_changed for each visible change: title, description, annotations, schema', async () => {
      await apply(change([tool('echo', 'v1')]));
      const variants: Array<Partial<ToolConfig>> = [
        { title: 'Echo' },
        { title: 'Echo', description: 'Says it back' },
        { title: 'Echo', description: 'Says it back', annotations: { readOnlyHint: true } },
      ];
      if (harness.stringSchema) {
        variants.push({ ...variants[2], inputSchema: harness.stringSchema(['text']) });
        variants.push({ ...variants[2], inputSchema: harness.stringSchema(['text', 'more']) });
      }
      for (const variant of variants) {
        expect(await apply(change([tool('echo', 'v1', variant)]))).toEqual({ notified: ['tool'] });
      }
      await expectNotifications({ tool: 1 + variants.length });
    });

    it('rolls back a commit that fails midway and sends nothing', async () => {
      await apply(change([tool('replaced', 'v1'), tool('removed', 'v1')]));
      await expectNotifications({ tool: 1 });
      const before = [...s.adapter.list().tools].sort();

      const prepared = await s.adapter.prepare(
        change(
          [tool('replaced', 'v2', { description: 'new' }), tool('added', 'v2'), tool('boom', 'v2')],
          [ref('tool', 'removed')],
        ),
      );
      s.failRegistrationOf('boom');
      let error: unknown;
      try {
        s.adapter.commit(prepared);
      } catch (caught) {
        error = caught;
      }
      expect(isHotMcpError(error)).toBe(true);
      expect([...s.adapter.list().tools].sort()).toEqual(before);
      expect(await sorted(s.listTools())).toEqual(['removed', 'replaced']);
      expect(await s.callTool('replaced')).toEqual({ text: 'v1', isError: false });
      expect(await s.callTool('removed')).toEqual({ text: 'v1', isError: false });
      await expectNotifications({ tool: 1 });
    });

    it('refuses a definition at prepare with a coded error naming it, touching nothing', async () => {
      await apply(change([tool('echo', 'v1')]));
      const error = await rejection(s.adapter.prepare(change([tool('echo', 'v2'), tool('has space', 'x')])));
      expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_INVALID_DEFINITION');
      expect(isHotMcpError(error) && error.details).toMatchObject({ kind: 'tool', name: 'has space' });
      expect(await s.callTool('echo')).toEqual({ text: 'v1', isError: false });
      await expectNotifications({ tool: 1 });
    });

    it('refuses the same name twice in one change', async () => {
      const error = await rejection(s.adapter.prepare(change([tool('twice', 'a'), tool('twice', 'b')])));
      expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_DUPLICATE_NAME');
    });

    it('lets a call in flight finish on the handler it started with', async () => {
      let entered!: () => void;
      const started = new Promise<void>((resolve) => {
        entered = resolve;
      });
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const slow = defineTool({
        name: 'slow',
        description: 'slow',
        handler: async () => {
          entered();
          await released;
          return text('v1');
        },
      });
      await apply(change([slow]));
      const first = s.callTool('slow');
      await started;
      await apply(change([tool('slow', 'v2', { description: 'fast' })]));
      expect(await s.callTool('slow')).toEqual({ text: 'v2', isError: false });
      release();
      expect(await first).toEqual({ text: 'v1', isError: false });
    });

    it('refuses to take the name of a tool registered outside the reloader', async () => {
      await s.addForeign('tool', 'static');
      const baseline = await counted();
      const error = await rejection(s.adapter.prepare(change([tool('static', 'mine')])));
      expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_NAME_CONFLICT');
      expect(isHotMcpError(error) && error.details).toMatchObject({ kind: 'tool', name: 'static' });
      expect(await s.callTool('static')).toEqual({ text: 'foreign:static', isError: false });
      const removal = await rejection(s.adapter.prepare(change([], [ref('tool', 'static')])));
      expect(isHotMcpError(removal) && removal.code).toBe('HOTMCP_ERR_NAME_CONFLICT');
      await expectNotifications({}, baseline);
    });

    it('leaves no ghost entries after replaces', async () => {
      await apply(change([tool('a', 'v1'), tool('b', 'v1'), tool('c', 'v1')]));
      await apply(change([tool('b', 'v2', { description: 'b2' }), tool('a', 'v2')]));
      await apply(change([tool('b', 'v3', { description: 'b3' })]));
      const names = await s.listTools();
      expect(new Set(names).size).toBe(names.length);
      expect([...names].sort()).toEqual(['a', 'b', 'c']);
      expect([...s.adapter.list().tools].sort()).toEqual(['a', 'b', 'c']);
    });

    it('writes nothing to stdout while preparing and committing', async () => {
      const write = vi.spyOn(process.stdout, 'write');
      try {
        await apply(change([tool('a', 'v1'), tool('b', 'v1')]));
        await apply(change([tool('a', 'v2', { description: 'new' })], [ref('tool', 'b')]));
        await rejection(s.adapter.prepare(change([tool('bad name', 'x')])));
        expect(write).not.toHaveBeenCalled();
      } finally {
        write.mockRestore();
      }
    });

    if (supports('prompt')) {
      it('adds, replaces and removes a prompt, one prompts list_changed each', async () => {
        const listPrompts = () => s.listPrompts?.() ?? Promise.resolve([]);
        expect(await apply(change([prompt('greet', 'hello')]))).toEqual({ notified: ['prompt'] });
        expect(await listPrompts()).toContain('greet');
        expect(await s.getPrompt?.('greet')).toBe('hello');
        expect(await apply(change([prompt('greet', 'hi', 'Greets, briefly')]))).toEqual({ notified: ['prompt'] });
        expect(await s.getPrompt?.('greet')).toBe('hi');
        expect(await apply(change([prompt('greet', 'hey', 'Greets, briefly')]))).toEqual({ notified: [] });
        expect(await s.getPrompt?.('greet')).toBe('hey');
        expect(await apply(change([], [ref('prompt', 'greet')]))).toEqual({ notified: ['prompt'] });
        expect(await listPrompts()).not.toContain('greet');
        await expectNotifications({ prompt: 3 });
      });

      it('refuses a prompt name registered outside the reloader', async () => {
        await s.addForeign('prompt', 'static_prompt');
        const error = await rejection(s.adapter.prepare(change([prompt('static_prompt', 'mine')])));
        expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_NAME_CONFLICT');
        expect(isHotMcpError(error) && error.details).toMatchObject({ kind: 'prompt', name: 'static_prompt' });
      });

      it('refuses one prompt name twice in one change', async () => {
        const error = await rejection(s.adapter.prepare(change([prompt('p', 'a'), prompt('p', 'b')])));
        expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_DUPLICATE_NAME');
      });
    }

    if (supports('resource')) {
      it('keys a fixed resource by new URL(uri).href, as the SDK reads it back', async () => {
        const spelled = 'HTTPS://Example.COM/docs/../readme';
        const normal = 'https://example.com/readme';
        expect(await apply(change([resource(spelled, 'read me')]))).toEqual({ notified: ['resource'] });
        expect(s.adapter.list().resources).toContain(normal);
        expect(s.adapter.list().resources).not.toContain(spelled);
        expect(await s.listResources?.()).toContain(normal);
        expect(await s.readResource?.(normal)).toBe('read me');
        expect(await s.readResource?.('https://EXAMPLE.com/./readme')).toBe('read me');
        expect(await apply(change([], [ref('resource', normal)]))).toEqual({ notified: ['resource'] });
        expect(s.adapter.list().resources).not.toContain(normal);
        await expectNotifications({ resource: 2 });
      });

      it('refuses a resource whose URI is not a URL', async () => {
        const error = await rejection(s.adapter.prepare(change([resource('not a url', 'x')])));
        expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_INVALID_DEFINITION');
        expect(isHotMcpError(error) && error.details).toMatchObject({ kind: 'resource' });
      });

      it('refuses a resource URI registered outside the reloader, in any spelling', async () => {
        await s.addForeign('resource', 'config://foreign/doc');
        const error = await rejection(s.adapter.prepare(change([resource('CONFIG://foreign/./doc', 'mine')])));
        expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_NAME_CONFLICT');
        expect(isHotMcpError(error) && error.details).toMatchObject({ kind: 'resource', name: 'config://foreign/doc' });
      });
    }

    if (supports('resourceTemplate')) {
      it('adds a resource template the client lists and reads through', async () => {
        expect(await apply(change([template('user', 'users://{id}/profile', 'profile')]))).toEqual({
          notified: ['resource'],
        });
        expect(await s.listResourceTemplates?.()).toContain('user');
        expect(await s.readResource?.('users://42/profile')).toBe('profile:42');
        expect(await apply(change([template('user', 'users://{id}/profile', 'card')]))).toEqual({ notified: [] });
        expect(await s.readResource?.('users://42/profile')).toBe('card:42');
        await expectNotifications({ resource: 1 });
      });

      it('refuses a template whose URI template another template already uses, clobbering nothing', async () => {
        await apply(change([template('user', 'users://{id}', 'first')]));
        const error = await rejection(s.adapter.prepare(change([template('member', 'users://{id}', 'second')])));
        expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_NAME_CONFLICT');
        expect(isHotMcpError(error) && error.details).toMatchObject({ kind: 'resourceTemplate', name: 'member' });
        expect(await s.readResource?.('users://7')).toBe('first:7');
      });
    }
  });
}
