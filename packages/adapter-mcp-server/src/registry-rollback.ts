import type { DefinitionKind } from '@hotmcp/core';
import {
  KIND_ORDER,
  type McpServerLike,
  type RegisteredEntryLike,
  type Registry,
  registryOf,
} from './mcp-server-shape.js';

/** Put `registry`'s keys back in `order` (keys not in it go last), keeping its identity. */
function reorder(registry: Registry, order: readonly string[]): void {
  const current = Object.keys(registry);
  const kept = order.filter((key) => Object.hasOwn(registry, key));
  const keptSet = new Set(kept);
  const wanted = [...kept, ...current.filter((key) => !keptSet.has(key))];
  if (wanted.every((key, index) => current[index] === key)) return;
  const entries = wanted.map((key) => [key, registry[key]] as const);
  for (const key of current) delete registry[key];
  for (const [key, value] of entries) registry[key] = value as RegisteredEntryLike;
}

/** Make `registry` hold exactly `entries`, in their order. */
function restore(registry: Registry, entries: ReadonlyArray<readonly [string, RegisteredEntryLike]>): void {
  for (const key of Object.keys(registry)) delete registry[key];
  for (const [key, value] of entries) registry[key] = value;
}

/** What a server's four registries held before a commit, and how to go back to it. */
export interface RegistryCheckpoint {
  /** Put every registry back exactly as it was: same entries, same order, same objects. */
  rollback(): void;
  /**
   * Keep the new entries, but in the order the old keys had: a replaced entry
   * keeps its place in the lists clients see; new keys go last.
   */
  keepOrder(): void;
}

/** Record what every registry of `server` holds now, before a commit changes it. */
export function checkpoint(server: McpServerLike): RegistryCheckpoint {
  const before = KIND_ORDER.map((kind: DefinitionKind) => [kind, Object.entries(registryOf(server, kind))] as const);
  return {
    rollback() {
      for (const [kind, entries] of before) restore(registryOf(server, kind), entries);
    },
    keepOrder() {
      for (const [kind, entries] of before) {
        reorder(
          registryOf(server, kind),
          entries.map(([key]) => key),
        );
      }
    },
  };
}
