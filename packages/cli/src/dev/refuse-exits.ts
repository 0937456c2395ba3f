import { HotMcpError } from '@hotmcp/core';
import { callSite } from './call-site.js';

/** What `process.exit()` threw while refused: told once, as the evaluation's failure. */
const refusedExits = new WeakSet<object>();

/** True for what a refused `process.exit()` threw (see {@link refuseExits}). */
export function isRefusedExit(error: unknown): boolean {
  return typeof error === 'object' && error !== null && refusedExits.has(error);
}

/**
 * While a re-evaluation runs, `process.exit()`, `process.abort()` and
 * `process.kill()` of the process itself throw a typed error instead of
 * ending the process: an edit that calls one at its top level (or in the
 * `main().catch(() => process.exit(1))` of an entry whose start fails) would
 * otherwise end the server, and every restart would evaluate the same file
 * again. In place until `restore()`; a call after it, or one with no frame
 * of the project's own code in its stack (hotmcp's own exit when the client
 * leaves), is real. What it threw carries its file and line but no stack
 * frames, so a rejection it causes (thrown in a `.catch` handler) is not told
 * again as that module's crash: the process handlers leave it to the
 * evaluation's failure.
 */
export function refuseExits(root: string): { refused: HotMcpError[]; restore(): void } {
  const { exit, abort, kill } = process;
  const refused: HotMcpError[] = [];
  /** The project's frame that made the call, when there is one. */
  const fromProject = (): { file: string; line?: number } | undefined => {
    const { file, line } = callSite(new Error().stack, root);
    return file === undefined ? undefined : { file, ...(line !== undefined && { line }) };
  };
  const refuse = (
    { file, line }: { file: string; line?: number },
    call: string,
    details: Record<string, unknown>,
  ): never => {
    const error = new HotMcpError(
      'HOTMCP_ERR_IMPORT_THREW',
      // The file and line are the error's own (a reporter puts them first): not repeated in the message.
      `the edited version called ${call} while hotmcp dev evaluated it; refused, so the edit cannot end the server, and the last good version keeps serving`,
      { file, ...(line !== undefined && { line }), details: { call, ...details } },
    );
    error.stack = `${error.name}: ${error.message}`;
    refusedExits.add(error);
    refused.push(error);
    throw error;
  };
  process.exit = ((code?: string | number | null) => {
    const site = fromProject();
    if (!site) return exit.call(process, code);
    return refuse(site, `process.exit(${code ?? ''})`, { exitCode: code ?? null });
  }) as typeof process.exit;
  process.abort = (() => {
    const site = fromProject();
    if (!site) return abort.call(process);
    return refuse(site, 'process.abort()', {});
  }) as typeof process.abort;
  process.kill = ((pid: number, signal?: string | number) => {
    const site = pid === process.pid || pid === 0 ? fromProject() : undefined;
    if (!site) return kill.call(process, pid, signal);
    return refuse(site, `process.kill(${pid}${signal === undefined ? '' : `, ${JSON.stringify(signal)}`})`, {
      signal: signal ?? 'SIGTERM',
    });
  }) as typeof process.kill;
  return {
    refused,
    restore: () => {
      Object.assign(process, { exit, abort, kill });
    },
  };
}
