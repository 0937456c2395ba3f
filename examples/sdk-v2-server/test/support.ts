import { readFile } from 'node:fs/promises';
import { type Sandbox, until } from '../src/harness.js';

export type AuditEvent = Record<string, unknown> & { event: string };

/**
 * A module that failed to load, for another reason than being caught empty:
 * writeFile truncates before it writes, and a server that looks in between
 * rightly reports HOTMCP_ERR_EMPTY_MODULE first.
 */
export const loadFailed = (event: AuditEvent): boolean =>
  event.event === 'module.failed' && event.code !== 'HOTMCP_ERR_EMPTY_MODULE';

/** A tool module that answers `${greeting} ${name}`; its description names the greeting. */
export function greetTool(name: string, greeting: string): string {
  return `import { defineTool } from '@hotmcp/core';
import { z } from 'zod';

export default defineTool({
  name: '${name}',
  description: 'Say ${greeting}',
  inputSchema: z.object({ name: z.string() }),
  handler: async ({ name }) => ({ content: [{ type: 'text', text: '${greeting} ' + name }] }),
});
`;
}

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
  await until(
    async () => {
      found = (await auditEvents(sandbox)).find(match);
      return found !== undefined;
    },
    10_000,
    'an audit event',
  );
  return found as AuditEvent;
}
