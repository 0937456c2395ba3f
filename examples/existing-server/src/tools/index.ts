import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { registerCounterTools } from './counter.js';
import { registerGreetTools } from './greet.js';
import { registerVisitTools } from './visits.js';

/** Every feature module's tools. */
export function registerTools(server: McpServer): void {
  registerGreetTools(server);
  registerCounterTools(server);
  registerVisitTools(server);
}
