import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AuditFields, AuditSink } from '@hotmcp/core';

/**
 * A custom AuditSink: one JSON line per event in a file of your choosing,
 * stamped with the watched root, plus a one-line summary of every applied
 * batch on stderr (never stdout: that is the MCP channel). Like every sink,
 * `record` never throws into the reloader.
 */
export class JsonFileAuditSink implements AuditSink {
  readonly #file: string;
  readonly #root: string;
  #closed = false;

  constructor(file: string, root: string) {
    this.#file = file;
    this.#root = root;
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  }

  record(event: string, fields: AuditFields = {}): void {
    if (this.#closed) return;
    try {
      const line = { ...fields, event, timestamp: new Date().toISOString(), pid: process.pid, root: this.#root };
      appendFileSync(this.#file, `${JSON.stringify(line, errorsAsText)}\n`, { mode: 0o600 });
      if (event === 'batch.applied') {
        const notified = (fields.notified as string[] | undefined)?.join(', ') || 'nothing';
        process.stderr.write(`audit: batch applied in ${String(fields.durationMs)} ms, notified ${notified}\n`);
      }
    } catch {
      // An audit sink never throws into the reloader.
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

function errorsAsText(_key: string, value: unknown): unknown {
  return value instanceof Error ? value.message : value;
}
