import { fstatSync } from 'node:fs';

/** The environment variable that asks a server process for direct mode (see `dev/supervised-stdio.ts`). */
const SUPERVISOR_FD_ENV = 'HOTMCP_SUPERVISOR_FD';

/** Set (to `1`) in the environment of every server process but the first: what the first said once is not said again. */
export const RESTARTED_ENV = 'HOTMCP_DEV_RESTARTED';

/** Whether this process is a server process the supervisor started after the first. */
export const restarted = (): boolean => process.env[RESTARTED_ENV] === '1';

/** What a server process of `hotmcp dev` sends over IPC once it has answered its client's first requests. */
export const SERVING_MESSAGE = 'hotmcp:serving';

/**
 * The stdio and environment of a server process. Relay mode: its stdin and stdout are pipes to
 * the supervisor, IPC on fd 3. Direct mode: the channel to the supervisor on fd 3, IPC on fd 4,
 * the client's stdin on fd 5 and its stdout on fd 6; fds 0 and 1 are not the client's (a process
 * the server starts with inherited stdio cannot read the client's messages, and what is written
 * on fd 1 by other means than the transport reaches the supervisor, which keeps it off the wire).
 * Only the first process reads stdin at once; a later one waits until the supervisor says so.
 */
export function childStdio(
  direct: boolean,
  first: boolean,
  env: NodeJS.ProcessEnv,
): { env: NodeJS.ProcessEnv; stdio: Array<'ignore' | 'pipe' | 'ipc' | number> } {
  const own = first ? env : { ...env, [RESTARTED_ENV]: '1' };
  if (!direct) return { env: own, stdio: ['pipe', 'pipe', 'pipe', 'ipc'] };
  return {
    env: { ...own, [SUPERVISOR_FD_ENV]: `3,5,6${first ? '' : 'w'}` },
    stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'ipc', 0, 1],
  };
}

/** Whether these fds are pipes or sockets (a file or a terminal cannot be handed over between processes). */
export function pipes(...fds: number[]): boolean {
  try {
    return fds.every((fd) => {
      const stat = fstatSync(fd);
      return stat.isFIFO() || stat.isSocket();
    });
  } catch {
    return false;
  }
}
