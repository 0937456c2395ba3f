import { HotMcpError } from '@hotmcp/core';
import { callSite } from './call-site.js';

/** What `process.exit()` threw while refused: told once, as the evaluation's failure. */
const refusedExits = new WeakSet<object>();

/** True for what a refused `process.exit()` threw (see {@link refuseExits}). */
export function isRefusedExit(error: unknown): boolean {
  return typeof error === 'object' && error !== null && refusedExits.has(error);
}

/**
 * While a re-evaluation runs, `process.exit()` throws a typed error instead
 * of ending the process: an edit that calls it at its top level (or in the
 * `main().catch(() => process.exit(1))` of an entry whose start fails) would
 * otherwise end the server, and every restart would evaluate the same file
 * again. In place until `restore()`; a call after it is a real exit. What it
 * threw carries its file and line but no stack frames, so a rejection it
 * causes (thrown in a `.catch` handler) is not told again as that module's
 * crash: the process handlers leave it to the evaluation's failure.
 */
export function refuseExits(root: string): { refused: HotMcpError[]; restore(): void } {
  const exit = process.exit;
  const refused: HotMcpError[] = [];
  process.exit = ((code?: string | number | null) => {
    const { file, line } = callSite(new Error().stack, root);
    const error = new HotMcpError(
      'HOTMCP_ERR_IMPORT_THREW',
      `${file ?? 'a module'}: its new version called process.exit(${code ?? ''}) while hotmcp dev evaluated it; refused, so the edit cannot end the server, and the last good version keeps serving`,
      { ...(file !== undefined && { file }), ...(line !== undefined && { line }), details: { exitCode: code ?? null } },
    );
    error.stack = `${error.name}: ${error.message}`;
    refusedExits.add(error);
    refused.push(error);
    throw error;
  }) as typeof process.exit;
  return {
    refused,
    restore: () => {
      process.exit = exit;
    },
  };
}
