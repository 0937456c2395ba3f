export type { HotContext } from './dev/hot-context.js';
export type { Problem, RestartNeededMessage } from './dev/reporter.js';
export { type DevOptions, type DevRun, projectRootOf, runDev } from './dev/run-dev.js';
