import { describe, expect, it } from 'vitest';
import { MemoryAuditSink } from './memory-audit-sink.js';

describe('MemoryAuditSink', () => {
  it('keeps each event with event, timestamp and pid first, then its fields as given', () => {
    const audit = new MemoryAuditSink();
    const error = new Error('kept as an error');
    audit.record('module.failed', { error, event: 'fake', pid: -1 });

    const [recorded] = audit.events;
    expect(Object.keys(recorded!)).toEqual(['event', 'timestamp', 'pid', 'error']);
    expect(recorded).toEqual({ event: 'module.failed', timestamp: expect.any(String), pid: process.pid, error });
    expect(recorded!.error).toBe(error);
  });

  it('waitFor resolves with an event recorded before it was called', async () => {
    const audit = new MemoryAuditSink();
    audit.record('batch.applied', { n: 1 });
    await expect(audit.waitFor((e) => e.event === 'batch.applied')).resolves.toMatchObject({ n: 1 });
  });

  it('waitFor resolves with the first matching event recorded later', async () => {
    const audit = new MemoryAuditSink();
    const waiting = audit.waitFor((e) => e.event === 'batch.applied' && e.n === 2);
    audit.record('batch.applied', { n: 1 });
    audit.record('batch.applied', { n: 2 });
    await expect(waiting).resolves.toMatchObject({ n: 2 });
  });

  it('waitFor rejects after its timeout, naming the events it saw', async () => {
    const audit = new MemoryAuditSink();
    audit.record('batch.applied');
    await expect(audit.waitFor((e) => e.event === 'never', 20)).rejects.toThrow(
      /no matching audit event within 20 ms \(recorded: batch\.applied\)/,
    );
  });

  it('record never throws, even when a waiting predicate does', async () => {
    const audit = new MemoryAuditSink();
    const waiting = audit.waitFor(() => {
      throw new Error('bad predicate');
    });
    expect(() => audit.record('x')).not.toThrow();
    await expect(waiting).rejects.toThrow('bad predicate');
  });

  it('drops records after close and keeps the earlier ones', async () => {
    const audit = new MemoryAuditSink();
    audit.record('before');
    await audit.close();
    await audit.close();
    audit.record('after');
    expect(audit.events.map((e) => e.event)).toEqual(['before']);
  });
});
