/** Structured fields of an audit event. */
export type AuditFields = Record<string, unknown>;

/**
 * Port: records what the reloader did. Each event carries `event`,
 * `timestamp`, `pid` and its fields. `record` never throws.
 */
export interface AuditSink {
  /** Record one event (`reload.batch`, `watcher.error`...) with its fields; never throws. */
  record(event: string, fields?: AuditFields): void;
  /** Flush and release the sink. */
  close(): Promise<void>;
}
