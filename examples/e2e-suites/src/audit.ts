import { readFile } from 'node:fs/promises';
import { waitUntil } from '@hotmcp/core/testing';
import type { Sandbox } from './example.js';

/** One line of the example's JSON-lines audit log. */
export type AuditEvent = Record<string, unknown> & { event: string };

/**
 * A module that failed to load, for another reason than being caught empty:
 * writeFile truncates before it writes, and a server that looks in between
 * rightly reports HOTMCP_ERR_EMPTY_MODULE first.
 */
export const loadFailed = (event: AuditEvent): boolean =>
  event.event === 'module.failed' && event.code !== 'HOTMCP_ERR_EMPTY_MODULE';

/** Every audit event the sandbox's server has written so far. */
export async function auditEvents(sandbox: Sandbox): Promise<AuditEvent[]> {
  const text = await readFile(sandbox.auditLog, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditEvent);
}

/** Wait (bounded) for an audit event matching `match`. */
export async function waitForAudit(sandbox: Sandbox, match: (event: AuditEvent) => boolean): Promise<AuditEvent> {
  let found: AuditEvent | undefined;
  await waitUntil(
    async () => {
      found = (await auditEvents(sandbox)).find(match);
      return found !== undefined;
    },
    { timeoutMs: 10_000, what: 'an audit event' },
  );
  return found as AuditEvent;
}
