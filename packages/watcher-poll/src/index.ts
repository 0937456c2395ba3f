export type { PollChangeSourceOptions } from './poll-change-source.js';
export { createPollChangeSource, PollChangeSource } from './poll-change-source.js';
