import { describe, expect, it } from 'vitest';
import { FuzzModel, helperModule, toolModule } from '../src/fuzz-model.js';

const answers = (model: FuzzModel) =>
  Object.fromEntries(Object.entries(model.view()).map(([name, { answer }]) => [name, answer]));

describe('the fuzz model', () => {
  it('lists an added tool with its first version', () => {
    const model = new FuzzModel();
    const { actions } = model.apply({ op: 'add', pick: 0, helper: false });
    expect(actions).toEqual([{ kind: 'write', path: 't0.ts', content: expect.stringContaining("name: 'tool_0'") }]);
    expect(answers(model)).toEqual({ tool_0: 'tool_0 v1' });
  });

  it('keeps the last good version of a broken module and takes the fix', () => {
    const model = new FuzzModel();
    model.apply({ op: 'add', pick: 0, helper: false });
    model.apply({ op: 'break', pick: 0, how: 'syntax' });
    expect(answers(model)).toEqual({ tool_0: 'tool_0 v1' });
    model.apply({ op: 'fix', pick: 0 });
    expect(answers(model)).toEqual({ tool_0: 'tool_0 v2' });
  });

  it('leaves out a module that was never good', () => {
    const model = new FuzzModel();
    model.apply({ op: 'add', pick: 0, helper: true }); // no helper yet: cannot load
    expect(answers(model)).toEqual({});
    model.apply({ op: 'helperEdit' });
    expect(answers(model)).toEqual({ tool_0: 'tool_0 v1 h2' });
  });

  it('reloads every importer on a helper edit, and only them', () => {
    const model = new FuzzModel();
    model.apply({ op: 'helperEdit' });
    model.apply({ op: 'add', pick: 0, helper: true });
    model.apply({ op: 'add', pick: 0, helper: true });
    model.apply({ op: 'add', pick: 0, helper: false });
    model.apply({ op: 'helperEdit' });
    expect(answers(model)).toEqual({ tool_0: 'tool_0 v2 h5', tool_1: 'tool_1 v3 h5', tool_2: 'tool_2 v4' });
  });

  it('keeps importers on their last good version while the helper is broken', () => {
    const model = new FuzzModel();
    model.apply({ op: 'helperEdit' });
    model.apply({ op: 'add', pick: 0, helper: true });
    model.apply({ op: 'helperBreak', how: 'throw' });
    model.apply({ op: 'edit', pick: 0, describe: false, helper: true });
    expect(answers(model)).toEqual({ tool_0: 'tool_0 v2 h1' });
    model.apply({ op: 'helperEdit' });
    expect(answers(model)).toEqual({ tool_0: 'tool_0 v4 h5' });
  });

  it('removes a deleted module and moves a renamed one', () => {
    const model = new FuzzModel();
    model.apply({ op: 'add', pick: 0, helper: false });
    model.apply({ op: 'add', pick: 0, helper: false });
    expect(model.apply({ op: 'rename', pick: 0, to: 3 }).actions).toEqual([
      { kind: 'rename', from: 't0.ts', to: 't5.ts' },
    ]);
    model.apply({ op: 'delete', pick: 0 }); // t1.ts
    expect(answers(model)).toEqual({ tool_0: 'tool_0 v1' });
  });

  it('drops a renamed module whose content does not load: the new path never was good', () => {
    const model = new FuzzModel();
    model.apply({ op: 'add', pick: 0, helper: false });
    model.apply({ op: 'break', pick: 0, how: 'throw' });
    expect(answers(model)).toEqual({ tool_0: 'tool_0 v1' });
    model.apply({ op: 'rename', pick: 0, to: 0 });
    expect(answers(model)).toEqual({});
  });

  it('writes broken modules that differ from each other and from the good ones', () => {
    const good = toolModule({ name: 'a', version: 1, description: 'd', helper: true });
    const syntax = toolModule({ name: 'a', version: 1, description: 'd', helper: true, broken: 'syntax', breakId: 1 });
    const thrown = toolModule({ name: 'a', version: 1, description: 'd', helper: true, broken: 'throw', breakId: 2 });
    expect(new Set([good, syntax, thrown]).size).toBe(3);
    expect(thrown).toContain('throw new Error');
    expect(helperModule({ version: 3 })).toContain("'h3'");
    expect(helperModule({ version: 3, broken: 'syntax' })).not.toBe(helperModule({ version: 3 }));
  });
});
