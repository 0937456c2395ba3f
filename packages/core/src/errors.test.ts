import { expect, it } from 'vitest';
import { describeThrown } from './errors.js';

it('describes what was thrown on one line, an object as code shows it', () => {
  expect(describeThrown(new Error('real'))).toBe('real');
  expect(describeThrown('boom')).toBe('boom');
  expect(describeThrown(42)).toBe('a non-Error value was thrown (42)');
  expect(describeThrown({ code: 42, why: 'no' })).toBe("a non-Error value was thrown ({ code: 42, why: 'no' })");
  expect(describeThrown(Object.assign(Object.create(null), { a: 1 }))).toBe(
    'a non-Error value was thrown ([Object: null prototype] { a: 1 })',
  );
  expect(describeThrown(() => {})).toBe('a non-Error value was thrown (a function)');
});

it('never throws, nor calls what the thrown value defines, and cuts a long one', () => {
  const hostile = {
    toString() {
      throw new Error('no');
    },
  };
  expect(describeThrown(hostile)).toMatch(/^a non-Error value was thrown \(\{ toString: \[Function: toString\] \}\)$/);
  const trap = new Proxy(
    {},
    {
      get() {
        throw new Error('trap');
      },
      ownKeys() {
        throw new Error('trap');
      },
    },
  );
  expect(describeThrown(trap)).toMatch(/^a non-Error value was thrown \(/);
  const long = describeThrown({ list: Array.from({ length: 50 }, (_, n) => `item ${n}`.repeat(5)) });
  expect(long.length).toBeLessThanOrEqual('a non-Error value was thrown ()'.length + 200);
  expect(long).toMatch(/…\)$/);
});
