import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FuzzModel, toolModule } from '../src/fuzz-model.js';
import { StressServer, type Viewer } from '../src/stress-server.js';

let server: StressServer;

beforeAll(async () => {
  server = await StressServer.start();
});

afterAll(async () => {
  await server?.stop();
});

describe('settling against the running example', () => {
  it('passes once what the client sees equals the model', async () => {
    const model = new FuzzModel();
    await server.perform(model.apply({ op: 'add', pick: 0, helper: false }).actions);
    await server.settle(model.view(), 'add');
    expect((await server.look()).view).toEqual({ tool_0: { description: 'tool_0 d1', answer: 'tool_0 v1' } });
  });

  it('fails with a diff of model and seen when they differ', async () => {
    const wrong = {
      tool_0: { description: 'tool_0 d1', answer: 'tool_0 v2' },
      tool_9: { description: 'x', answer: 'y' },
    };
    const failure = await server.settle(wrong, 'a wrong model', 1_000).catch((error: Error) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toContain("- tool_0: 'tool_0 v2' [tool_0 d1]");
    expect((failure as Error).message).toContain("+ tool_0: 'tool_0 v1' [tool_0 d1]");
    expect((failure as Error).message).toContain('+ tool_9: (not listed)');
  });

  it('fails when a change of what is listed reaches the client without a list_changed', async () => {
    const viewer = server.viewers[0] as Viewer;
    const heard = viewer.listChanged;
    Object.assign(viewer, { listChanged: () => 0 }); // a client that hears no notification
    try {
      const extra = { name: 'tool_x', description: 'tool_x d1', version: 1, helper: false } as const;
      await server.perform([{ kind: 'write', path: 'extra.ts', content: toolModule(extra) }]);
      const expected = {
        tool_0: { description: 'tool_0 d1', answer: 'tool_0 v1' },
        tool_x: { description: 'tool_x d1', answer: 'tool_x v1' },
      };
      const failure = await server.settle(expected, 'a tool added', 1_000).catch((error: Error) => error);
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).message).toContain('no tools list_changed arrived');
      Object.assign(viewer, { listChanged: heard });
      await server.perform([{ kind: 'delete', path: 'extra.ts' }]);
      await server.settle({ tool_0: expected.tool_0 }, 'the tool removed');
    } finally {
      Object.assign(viewer, { listChanged: heard });
    }
  });

  it('keeps serving the same process', async () => {
    expect(await server.currentPid()).toBe(server.pid);
  });
});
