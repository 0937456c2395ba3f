import { fileURLToPath } from 'node:url';
import { changeSourceConformance } from '@hotmcp/core/testing';
import { createPollChangeSource } from './poll-change-source.js';

changeSourceConformance('PollChangeSource', createPollChangeSource, {
  // The built package, for the cases run in a child process (the exit check, permissions as nobody).
  child: { module: fileURLToPath(new URL('../dist/index.js', import.meta.url)), exportName: 'createPollChangeSource' },
});
