export type { ListenFilter } from './supervisor/client-session.js';
export { DEFAULT_RESTART_ON } from './supervisor/restart-watch.js';
export type {
  RestartNeededMessage,
  Supervisor,
  SupervisorEvent,
  SupervisorOptions,
} from './supervisor/stdio-supervisor.js';
export { RESTARTED_ERROR_CODE, startSupervisor } from './supervisor/stdio-supervisor.js';
