import type {
  ClientLogMessage,
  CommitResult,
  ListKind,
  PreparedChange,
  RegistryChange,
  RegistrySnapshot,
  ToolRegistryAdapter,
} from '@hotmcp/core';
import type { DevSession } from './dev-session.js';

/**
 * The SDK adapter of the live server, as `hotmcp dev` drives it: while it
 * commits, the server's registration methods register for real (elsewhere
 * they record); after each commit, the module versions it replaced are disposed.
 */
export class DevRegistryAdapter implements ToolRegistryAdapter {
  readonly contractVersion = 1 as const;
  readonly adapterName: string;
  readonly sdk?: { name: string; range: string; version?: string };
  /** Settles after the first commit: the live server holds what the entry registered before connect(). */
  readonly firstCommit: Promise<void>;
  private committed!: () => void;

  /**
   * Set while the engine's first commit takes over what a native first run
   * registered on the live server itself: changes are checked by `adopting.scratch`
   * (an adapter of an empty server of the same SDK: the live server's entries
   * are not the adapter's), and the commit drops those entries first, in the
   * same synchronous step.
   */
  adopting: { scratch: ToolRegistryAdapter; drop: () => () => void } | undefined;

  constructor(
    private readonly inner: ToolRegistryAdapter,
    private readonly session: DevSession,
    private readonly afterCommit: () => void,
  ) {
    this.adapterName = inner.adapterName;
    if (inner.sdk) this.sdk = inner.sdk;
    this.firstCommit = new Promise((resolve) => {
      this.committed = resolve;
    });
  }

  list(): RegistrySnapshot {
    return (this.adopting?.scratch ?? this.inner).list();
  }

  prepare(change: RegistryChange): Promise<PreparedChange> {
    return (this.adopting?.scratch ?? this.inner).prepare(change);
  }

  commit(prepared: PreparedChange): CommitResult {
    this.session.passThrough = true;
    let result: CommitResult;
    try {
      result = this.adopting ? this.adopt(prepared, this.adopting.drop) : this.inner.commit(prepared);
    } finally {
      this.session.passThrough = false;
    }
    this.committed();
    this.afterCommit();
    return result;
  }

  /** The first commit after a native first run: the client is told of the lists whose names changed only. */
  private adopt(prepared: PreparedChange, drop: () => () => void): CommitResult {
    this.adopting = undefined;
    const before = this.inner.list();
    const restore = drop();
    let result: CommitResult;
    try {
      result = this.inner.commitQuietly ? this.inner.commitQuietly(prepared) : this.inner.commit(prepared);
    } catch (error) {
      restore();
      throw error;
    }
    if (!this.inner.commitQuietly) return result;
    const after = this.inner.list();
    const names = (snapshot: RegistrySnapshot, kind: ListKind) =>
      JSON.stringify(
        (kind === 'tool'
          ? [snapshot.tools]
          : kind === 'prompt'
            ? [snapshot.prompts]
            : [snapshot.resources, snapshot.resourceTemplates]
        ).map((names) => [...names].sort()),
      );
    const notified = result.notified.filter((kind) => names(before, kind) !== names(after, kind));
    this.inner.sendListChanged?.(notified);
    return { ...result, notified };
  }

  sendLog(message: ClientLogMessage): void {
    this.inner.sendLog?.(message);
  }
}
