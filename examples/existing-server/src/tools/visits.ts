import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';

// State that survives edits of this very module: kept in import.meta.hot.data under hotmcp dev.
const visits: { total: number } = (import.meta.hot?.data.visits as { total: number } | undefined) ?? { total: 0 };
if (import.meta.hot) import.meta.hot.data.visits = visits;

export function registerVisitTools(server: McpServer): void {
  server.registerTool('visit', { description: 'Count visits, across edits of this module' }, async () => {
    visits.total += 1;
    return { content: [{ type: 'text', text: `visits: ${visits.total}` }] };
  });
}
