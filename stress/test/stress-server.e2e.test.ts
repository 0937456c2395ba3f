import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FuzzModel } from '../src/fuzz-model.js';
import { StressServer } from '../src/stress-server.js';

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

  it('keeps serving the same process', async () => {
    expect(await server.currentPid()).toBe(server.pid);
  });
});
