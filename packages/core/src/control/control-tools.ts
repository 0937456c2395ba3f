import { defineTool, type ToolDefinition, type ToolResult } from '../define.js';
import type { ReloaderStatus, RescanReport } from '../engine/status.js';
import { type ControlInfo, clientMessage, clientRescan, clientStatus } from './client-view.js';

/** The names of the control tools, reserved while they are enabled. */
export const CONTROL_TOOL_NAMES = ['hotmcp_status', 'hotmcp_reload'] as const;

/** What the control tools drive: a reloader. */
export interface ControlTarget {
  /** The reloader's current status, as {@link ReloaderStatus}. */
  status(): ReloaderStatus;
  /** Scan the root now and apply what differs, through the reload queue. */
  rescan(): Promise<RescanReport>;
  /** The tools served now, listed by the status tool with their input schemas. */
  tools?(): ReadonlyArray<ToolDefinition<any>>;
}

/** Options of {@link createControlTools}. */
export interface ControlToolsOptions {
  /** Converts a tool's input schema to JSON Schema for the status tool; undefined when it cannot. */
  inputJsonSchema?(schema: unknown): unknown;
}

function json(value: unknown): ToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value, null, 2) }] };
}

/**
 * The opt-in control tools, for clients that ignore list_changed:
 *
 * - `hotmcp_status`: every module and what it registered, the current tools
 *   with their input schemas as JSON Schema (when the target lists them), the last batch,
 *   every error with its code, message and root-relative file:line, and the
 *   watcher, loader and adapter in use; and, from a change source that can
 *   tell (a fleet replica fed by Redis), whether it is behind.
 * - `hotmcp_reload`: rescan the root now through the reload queue, wait for
 *   the batch and answer with what it found and did.
 *
 * Both answer with JSON text. Paths are relative to the root; messages are
 * one line, never file contents.
 */
export function createControlTools(
  target: ControlTarget,
  info: ControlInfo = {},
  options: ControlToolsOptions = {},
): ToolDefinition[] {
  const tools = () =>
    target
      .tools?.()
      .map((tool) => ({
        name: tool.name,
        ...(tool.description !== undefined && { description: tool.description }),
        inputSchema: options.inputJsonSchema?.(tool.inputSchema) ?? null,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  const status = defineTool({
    name: CONTROL_TOOL_NAMES[0],
    title: 'hotmcp status',
    description:
      'What the hot reloader has loaded: each module with its tools, prompts and resources, the current tools with their input schemas (JSON Schema), the last reload, and every error (code, message, file:line). Use it when a tool seems missing, stale or broken.',
    annotations: { readOnlyHint: true, openWorldHint: false },
    handler: () => {
      const current = tools();
      return json({ ...clientStatus(target.status(), info), ...(current && { tools: current }) });
    },
  });
  const reload = defineTool({
    name: CONTROL_TOOL_NAMES[1],
    title: 'hotmcp reload',
    description:
      'Rescan the tools folder now and apply what changed (files added, edited or deleted that the file watcher missed); answers with what was reloaded and any errors. List the tools again afterwards.',
    annotations: { readOnlyHint: false, idempotentHint: true, openWorldHint: false },
    handler: async () => {
      const root = target.status().root;
      try {
        const report = await target.rescan();
        return json(clientRescan(root, report, target.status().errors));
      } catch (error) {
        const message = clientMessage(root, error instanceof Error ? error.message : String(error));
        return { ...json({ error: message }), isError: true };
      }
    },
  });
  return [status, reload];
}
