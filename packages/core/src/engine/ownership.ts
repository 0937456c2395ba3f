import { type AnyDefinition, type DefinitionKind, keyOf, registryName } from '../define.js';
import { HotMcpError } from '../errors.js';
import type { RegistryChange } from '../ports/tool-registry-adapter.js';
import { withDefinitionLine } from './definitions.js';
import type { CallsInFlight } from './disposal.js';

/** What the engine keeps of one module file. */
export interface ModuleRecord {
  /** The last version that loaded and validated. */
  exports?: Record<string, unknown>;
  /** Its definitions: what the module offers to the registry. */
  definitions: AnyDefinition[];
  /** Why the newest version is not in use. */
  error?: HotMcpError;
  /** Definitions refused because another owner holds the name. */
  conflicts: HotMcpError[];
  /** Definitions the adapter refused, by key, until the module loads again. */
  rejected: Map<string, HotMcpError>;
  /** The calls in flight into the handlers of the version in use. */
  calls?: CallsInFlight;
}

/** Who holds one registry key, and with which definition. */
export interface Owned {
  file: string;
  definition: AnyDefinition;
}

/** The owner of built-in definitions (the control tools): the reloader itself, not a file. */
export const BUILTIN = 'hotmcp';

/** What ownership is worked out from. */
export interface OwnershipInput {
  /** The reloader's own definitions: no module may take their names. */
  builtins: readonly AnyDefinition[];
  /** Who owns each key now. */
  active: ReadonlyMap<string, Owned>;
  /** Every module's record; `conflicts` is rewritten. */
  records: ReadonlyMap<string, ModuleRecord>;
  /** Keys registered on the server outside the reloader. */
  foreign: ReadonlySet<string>;
}

/**
 * Who owns each name next: built-ins first, then current owners while their
 * modules still offer the name, then modules in path order. A definition whose
 * name is taken is recorded as a conflict on its module; `onConflict` hears of
 * each conflict that is new since the last resolution.
 */
export function resolveOwnership(
  { builtins, active, records, foreign }: OwnershipInput,
  onConflict: (file: string, conflict: HotMcpError) => void,
): Map<string, Owned> {
  const next = new Map<string, Owned>();
  // The reloader's own definitions come first: no module may take their names.
  for (const definition of builtins) {
    if (!foreign.has(keyOf(definition))) next.set(keyOf(definition), { file: BUILTIN, definition });
  }
  // Current owners keep their names while their modules still offer them.
  for (const [key, owned] of active) {
    const record = records.get(owned.file);
    if (!record) continue;
    if (record.rejected.has(key)) {
      next.set(key, owned); // the new version was refused: the last good one stays
      continue;
    }
    const definition = record.definitions.find((candidate) => keyOf(candidate) === key);
    if (definition) next.set(key, { file: owned.file, definition });
  }
  for (const file of [...records.keys()].sort()) {
    const record = records.get(file) as ModuleRecord;
    const before = new Set(record.conflicts.map((error) => error.message));
    record.conflicts = [];
    for (const definition of record.definitions) {
      const key = keyOf(definition);
      if (record.rejected.has(key)) continue;
      const holder = next.get(key);
      if (holder?.file === file) continue;
      if (holder || foreign.has(key)) {
        const by =
          holder?.file === BUILTIN
            ? 'hotmcp itself (a control tool)'
            : holder
              ? `module ${holder.file}`
              : 'the server, outside the reloader';
        const conflict = new HotMcpError(
          'HOTMCP_ERR_NAME_CONFLICT',
          `${definition.kind} '${registryName(definition)}' in ${file} is already registered by ${by}; it was not loaded`,
          { file, details: refOf(definition) },
        );
        const located = withDefinitionLine(conflict, definition, file);
        record.conflicts.push(located);
        if (!before.has(located.message)) onConflict(file, located);
        continue;
      }
      next.set(key, { file, definition });
    }
  }
  return next;
}

/** The registry change that turns the `active` ownership into `next`. */
export function diffOwnership(active: ReadonlyMap<string, Owned>, next: ReadonlyMap<string, Owned>): RegistryChange {
  const change: RegistryChange = { upsert: [], remove: [] };
  for (const [key, owned] of next) {
    if (active.get(key)?.definition !== owned.definition) change.upsert.push(owned.definition);
  }
  for (const [key, owned] of active) {
    if (!next.has(key)) change.remove.push(refOf(owned.definition));
  }
  return change;
}

/** A definition as the registry names it. */
export function refOf(definition: AnyDefinition): { kind: DefinitionKind; name: string } {
  return { kind: definition.kind, name: registryName(definition) };
}
