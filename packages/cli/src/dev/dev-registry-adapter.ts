import type {
  ClientLogMessage,
  CommitResult,
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
    return this.inner.list();
  }

  prepare(change: RegistryChange): Promise<PreparedChange> {
    return this.inner.prepare(change);
  }

  commit(prepared: PreparedChange): CommitResult {
    this.session.passThrough = true;
    let result: CommitResult;
    try {
      result = this.inner.commit(prepared);
    } finally {
      this.session.passThrough = false;
    }
    this.committed();
    this.afterCommit();
    return result;
  }

  sendLog(message: ClientLogMessage): void {
    this.inner.sendLog?.(message);
  }
}
