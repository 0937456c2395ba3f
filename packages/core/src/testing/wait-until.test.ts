import { describe, expect, it } from 'vitest';
import { waitUntil } from './wait-until.js';

describe('waitUntil', () => {
  it('resolves once the condition holds, sync or async', async () => {
    let checks = 0;
    await waitUntil(() => ++checks >= 3);
    expect(checks).toBe(3);
    await waitUntil(async () => ++checks >= 5);
    expect(checks).toBe(5);
  });

  it('rejects after the timeout, naming what it waited for', async () => {
    await expect(waitUntil(() => false, { timeoutMs: 20, what: 'the answer' })).rejects.toThrow(
      'timed out after 20 ms waiting for the answer',
    );
  });

  it('describes the state at the timeout through a function', async () => {
    let state = 'start';
    const waiting = waitUntil(
      () => {
        state = 'later';
        return false;
      },
      { timeoutMs: 20, what: () => `a change (state ${state})` },
    );
    await expect(waiting).rejects.toThrow('waiting for a change (state later)');
  });
});
