import { type DefinitionKind, HotMcpError } from '@hotmcp/core';
import {
  isRecord,
  KIND_ORDER,
  KINDS,
  type McpServerLike,
  messageOf,
  registryOf,
  requestHandlerOf,
} from './mcp-server-shape.js';
import type { PreparedEntry } from './prepared-entry.js';
import { invalid } from './refusals.js';
import { stableJson } from './stable-json.js';

/** What listing on a scratch server needs from the adapter. */
export interface ScratchListingOptions {
  /** A fresh, unconnected McpServer of the live server's SDK, advertising tools, prompts and resources. */
  createScratchServer(): McpServerLike;
  /** Throw when a listed entry is not valid MCP. */
  assertListed(kind: DefinitionKind, entry: Record<string, unknown>): void;
  /** The message of `HOTMCP_ERR_ADAPTER_INCOMPATIBLE` when the SDK has no handler for `method`. */
  incompatible(method: string): string;
}

/**
 * A private, never-connected McpServer on which each prepared entry is
 * registered alone and listed through the SDK's own list handler, so every
 * schema goes through exactly the SDK's conversion before the live server is
 * touched. One listing at a time (the registries are shared).
 */
export class ScratchListing {
  readonly #options: ScratchListingOptions;
  #scratch: McpServerLike | undefined;

  constructor(options: ScratchListingOptions) {
    this.#options = options;
  }

  /**
   * List `entry` as the SDK would, for the `live` server. Returns the listed
   * entry as stable JSON; throws `HOTMCP_ERR_INVALID_DEFINITION` when the SDK
   * cannot list it, `HOTMCP_ERR_CAPABILITY_MISSING` when it needs a handler
   * the connected live server lacks.
   */
  async list(entry: PreparedEntry, live: McpServerLike): Promise<string> {
    this.#scratch ??= this.#options.createScratchServer();
    const scratch = this.#scratch;
    const spec = KINDS[entry.kind];
    const clear = () => {
      for (const kind of KIND_ORDER) {
        const registry = registryOf(scratch, kind);
        for (const key of Object.keys(registry)) delete registry[key];
      }
    };
    clear();
    const completionsBefore = scratch._completionHandlerInitialized;
    try {
      entry.register(scratch);
      if (
        scratch._completionHandlerInitialized === true &&
        completionsBefore !== true &&
        live.isConnected() &&
        live._completionHandlerInitialized !== true
      ) {
        throw new HotMcpError(
          'HOTMCP_ERR_CAPABILITY_MISSING',
          `${spec.label} "${entry.key}" offers completions, but the server was connected without a completion handler; register a completable entry before connect().`,
          { details: { kind: entry.kind, name: entry.key, capability: 'completions' } },
        );
      }
      const handler = requestHandlerOf(scratch, spec.listMethod);
      if (handler === undefined) {
        throw new HotMcpError('HOTMCP_ERR_ADAPTER_INCOMPATIBLE', this.#options.incompatible(spec.listMethod));
      }
      const result = (await handler({ jsonrpc: '2.0', id: 0, method: spec.listMethod, params: {} }, {})) as Record<
        string,
        unknown
      >;
      const listed = (result[spec.listKey] as unknown[] | undefined)?.[0];
      if (!isRecord(listed)) throw new Error(`${spec.listMethod} did not list it`);
      this.#options.assertListed(entry.kind, listed);
      return stableJson(listed);
    } catch (error) {
      if (error instanceof HotMcpError) throw error;
      throw invalid(entry.kind, entry.key, `the SDK cannot list it (${messageOf(error)})`);
    } finally {
      clear();
    }
  }
}
