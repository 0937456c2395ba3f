export { type AuditEvent, auditEvents, loadFailed, waitForAudit } from '@hotmcp/example-e2e-suites';

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
