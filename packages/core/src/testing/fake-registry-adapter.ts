import { type AnyDefinition, keyOf, listOf, type ToolDefinition } from '../define.js';
import { HotMcpError } from '../errors.js';
import type {
  CommitResult,
  PreparedChange,
  RegistryChange,
  RegistrySnapshot,
  ToolRegistryAdapter,
} from '../ports/tool-registry-adapter.js';

/**
 * An in-memory ToolRegistryAdapter that records commits and notifications,
 * with switches to make prepare or commit fail.
 */
export class FakeRegistryAdapter implements ToolRegistryAdapter {
  readonly contractVersion = 1 as const;
  readonly adapterName = 'fake';
  /** Entries by `kind:name`; foreign ones are plain strings. */
  readonly entries = new Map<string, AnyDefinition | 'foreign'>();
  /** Every committed change, in order. */
  readonly commits: RegistryChange[] = [];
  /** list_changed notifications sent so far (one per list per commit). */
  notifications = 0;
  /** Names whose upsert `prepare` refuses. */
  readonly refuse = new Set<string>();
  /** Make the next commit throw. */
  failNextCommit = false;

  /** Register a tool as if outside the reloader. */
  addForeignTool(name: string): this {
    this.entries.set(`tool:${name}`, 'foreign');
    return this;
  }

  /** The reloader's tool of that name, if registered. */
  tool(name: string): ToolDefinition<any> | undefined {
    const entry = this.entries.get(`tool:${name}`);
    return entry === 'foreign' || entry?.kind !== 'tool' ? undefined : entry;
  }

  /** Names of every entry, foreign ones included. */
  list(): RegistrySnapshot {
    const snapshot: RegistrySnapshot = { tools: [], prompts: [], resources: [], resourceTemplates: [] };
    for (const key of this.entries.keys()) {
      const [kind, name] = key.split(/:(.*)/s) as [string, string];
      snapshot[`${kind}s` as keyof RegistrySnapshot].push(name);
    }
    return snapshot;
  }

  /** Refuse a definition named in `refuse`; otherwise pass the change through. */
  async prepare(change: RegistryChange): Promise<PreparedChange> {
    for (const definition of change.upsert) {
      if (this.refuse.has(definition.name)) {
        throw new HotMcpError('HOTMCP_ERR_INVALID_DEFINITION', `${definition.name} refused`, {
          details: { kind: definition.kind, name: definition.name },
        });
      }
    }
    return { change };
  }

  /** Apply the change to `entries`, or throw once after `failNextCommit` was set. */
  commit(prepared: PreparedChange): CommitResult {
    if (this.failNextCommit) {
      this.failNextCommit = false;
      throw new HotMcpError('HOTMCP_ERR_COMMIT_FAILED', 'commit failed on purpose');
    }
    const { change } = prepared;
    for (const ref of change.remove) this.entries.delete(keyOf(ref));
    for (const definition of change.upsert) this.entries.set(keyOf(definition), definition);
    this.commits.push(change);
    const notified = [...new Set([...change.upsert, ...change.remove].map((entry) => listOf(entry.kind)))];
    this.notifications += notified.length;
    return { notified };
  }
}
