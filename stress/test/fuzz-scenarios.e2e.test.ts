import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSequence } from '../src/fuzz.js';
import type { Step } from '../src/fuzz-model.js';
import { StressServer } from '../src/stress-server.js';

// The model's hard cases, run as fixed sequences through the same runner as the fuzz.
let server: StressServer;

beforeAll(async () => {
  server = await StressServer.start();
});

afterAll(async () => {
  await server?.stop();
});

const scenarios: Record<string, Step[]> = {
  'a tool added before its helper exists appears once the helper is written': [
    { op: 'add', pick: 0, helper: true },
    { op: 'helperEdit' },
  ],
  'a tool edited while its helper is broken keeps its last good version, then takes both fixes': [
    { op: 'helperEdit' },
    { op: 'add', pick: 0, helper: true },
    { op: 'add', pick: 0, helper: true },
    { op: 'helperBreak', how: 'throw' },
    { op: 'edit', pick: 0, describe: true, helper: true },
    { op: 'helperEdit' },
  ],
  'a broken tool keeps its old helper through a helper edit, and the fix takes the new one': [
    { op: 'helperEdit' },
    { op: 'add', pick: 0, helper: true },
    { op: 'break', pick: 0, how: 'syntax' },
    { op: 'helperEdit' },
    { op: 'fix', pick: 0 },
  ],
  'a deleted helper keeps importers on their last good version until it comes back': [
    { op: 'helperEdit' },
    { op: 'add', pick: 0, helper: true },
    { op: 'helperDelete' },
    { op: 'edit', pick: 0, describe: false, helper: true },
    { op: 'helperEdit' },
  ],
  'a renamed tool moves, and a renamed broken tool goes away': [
    { op: 'add', pick: 0, helper: false },
    { op: 'add', pick: 0, helper: false },
    { op: 'rename', pick: 0, to: 2 },
    { op: 'break', pick: 1, how: 'throw' },
    { op: 'rename', pick: 1, to: 0 },
    { op: 'fix', pick: 1 },
  ],
};

describe('fixed edit sequences against the SDK v1 example', () => {
  for (const [name, steps] of Object.entries(scenarios)) {
    it(name, async () => {
      expect(await runSequence(server, steps)).toBe(steps.length);
    });
  }
});
