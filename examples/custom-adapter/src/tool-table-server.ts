/**
 * An MCP server written on the SDK's low-level `Server` class, as some
 * applications are: no McpServer, just its own table of tools and two request
 * handlers that read it on every request.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';

/** One row of the table: what tools/list shows, and how tools/call runs it. */
export interface TableTool {
  name: string;
  title?: string;
  description?: string;
  annotations?: Record<string, unknown>;
  /** JSON Schema of the arguments, as listed. */
  inputSchema: { type: 'object'; [key: string]: unknown };
  /** Check the arguments; returns the parsed value or an error message. */
  parse(args: unknown): Promise<{ ok: true; value: unknown } | { ok: false; error: string }>;
  run(args: unknown, extra: unknown): CallToolResult | Promise<CallToolResult>;
}

export interface ToolTableServer {
  server: Server;
  /** The server's own handler map, read afresh by every tools/list and tools/call. */
  tools: Map<string, TableTool>;
}

export function createToolTableServer(info: { name: string; version: string }): ToolTableServer {
  const server = new Server(info, { capabilities: { tools: { listChanged: true } } });
  const tools = new Map<string, TableTool>();

  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: [...tools.values()].map(({ name, title, description, annotations, inputSchema }) => ({
      name,
      ...(title !== undefined && { title }),
      ...(description !== undefined && { description }),
      ...(annotations !== undefined && { annotations }),
      inputSchema,
    })),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    // The row is read once; a call keeps it to the end even if the table changes meanwhile.
    const tool = tools.get(request.params.name);
    if (tool === undefined) throw new McpError(ErrorCode.InvalidParams, `Tool ${request.params.name} not found`);
    const parsed = await tool.parse(request.params.arguments ?? {});
    if (!parsed.ok) {
      return { content: [{ type: 'text', text: `Invalid arguments: ${parsed.error}` }], isError: true };
    }
    try {
      return await tool.run(parsed.value, extra);
    } catch (error) {
      return {
        content: [{ type: 'text', text: error instanceof Error ? error.message : String(error) }],
        isError: true,
      };
    }
  });

  return { server, tools };
}
