import type { ServerEvent } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { createPacedEventBus } from './paced-event-bus.js';

const turn = () => new Promise((resolve) => setImmediate(resolve));
const tools: ServerEvent = { kind: 'tools_list_changed' };
const prompts: ServerEvent = { kind: 'prompts_list_changed' };

describe('PacedEventBus', () => {
  it('calls its listeners a slice per event-loop turn, events in the order published', async () => {
    const bus = createPacedEventBus({ sliceSize: 2 });
    const seen = Array.from({ length: 5 }, () => [] as string[]);
    for (const [index, events] of seen.entries()) bus.subscribe((event) => events.push(`${index}:${event.kind}`));

    bus.publish(tools);
    bus.publish(prompts);
    expect(seen.flat()).toEqual([]);
    await turn();
    expect(seen.flat()).toEqual(['0:tools_list_changed', '1:tools_list_changed']);
    for (let index = 0; index < 4; index++) await turn();

    expect(seen).toEqual(
      Array.from({ length: 5 }, (_, index) => [`${index}:tools_list_changed`, `${index}:prompts_list_changed`]),
    );
  });

  it('skips a listener that unsubscribed before its turn, and one that subscribed after the event', async () => {
    const bus = createPacedEventBus({ sliceSize: 1 });
    const calls: string[] = [];
    bus.subscribe(() => calls.push('first'));
    const unsubscribe = bus.subscribe(() => calls.push('leaving'));
    bus.publish(tools);
    bus.subscribe(() => calls.push('late'));
    unsubscribe();
    unsubscribe();
    for (let index = 0; index < 3; index++) await turn();

    expect(calls).toEqual(['first']);
    expect(bus.listenerCount).toBe(2);
  });

  it('hands what a listener throws to onerror and still calls the others', async () => {
    const errors: string[] = [];
    const bus = createPacedEventBus({ onerror: (error) => errors.push(error.message) });
    const calls: number[] = [];
    bus.subscribe(() => calls.push(1));
    bus.subscribe(() => {
      throw new Error('stream closed');
    });
    bus.subscribe(() => calls.push(3));
    bus.publish(tools);
    await turn();

    expect(calls).toEqual([1, 3]);
    expect(errors).toEqual(['stream closed']);
  });

  it('refuses a slice size that is not a positive integer', () => {
    for (const sliceSize of [0, -2, 0.5]) {
      expect(() => createPacedEventBus({ sliceSize })).toThrow(
        expect.objectContaining({ code: 'HOTMCP_ERR_BAD_OPTION' }),
      );
    }
  });
});
