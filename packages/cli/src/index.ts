export type { HotContext } from './dev/hot-context.js';
export type { Problem, RestartNeededMessage } from './dev/reporter.js';
export { type DevOptions, type DevRun, projectRootOf, runDev } from './dev/run-dev.js';
export type { ListenFilter } from './supervisor/client-session.js';
export { DEFAULT_RESTART_ON } from './supervisor/restart-watch.js';
export { type RetryWatch, watchProjectForRetry } from './supervisor/retry-watch.js';
export type { Supervisor, SupervisorEvent, SupervisorOptions } from './supervisor/stdio-supervisor.js';
export { RESTARTED_ERROR_CODE, startSupervisor } from './supervisor/stdio-supervisor.js';
