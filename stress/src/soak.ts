/**
 * The soak: many tool calls in flight over stdio, without pause, while the
 * tools folder goes through `reloads` changes (edits of the tools being
 * called, adds and deletes of others, and the deletion of one tool that is
 * being called). Every call is counted: answered, failed (an error result, a
 * JSON-RPC error or a wrong answer) or lost (no answer within the timeout).
 * Calls to the deliberately deleted tool are counted apart.
 */
import { readFile } from 'node:fs/promises';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { View } from './fuzz-model.js';
import { FENCE_TOOL, StressServer, textOf } from './stress-server.js';

/** Options of {@link runSoak}. */
export interface SoakOptions {
  /** How many reloads (file changes, each spaced to be its own batch). Default 100. */
  reloads?: number;
  /** Pause between two changes; more than the watcher's 100 ms settle window keeps each its own batch. Default 150. */
  intervalMs?: number;
  /** Calls in flight at all times. Default 32. */
  concurrency?: number;
  /** A call without an answer after this long is lost. Default 10,000. */
  callTimeoutMs?: number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

/** Counts for one group of calls. */
export interface CallCounts {
  made: number;
  answered: number;
  failed: number;
  lost: number;
}

/** What {@link runSoak} reports. */
export interface SoakReport {
  /** Calls to the tools that stay (edited under load): target 0 failed, 0 lost. */
  calls: CallCounts;
  /** Calls to the tool deleted halfway: answered before, failed after. */
  removedToolCalls: CallCounts;
  /** The first few failure messages, for the report. */
  failures: string[];
  callsPerSecond: number;
  durationMs: number;
  /** File changes made. */
  reloads: number;
  /** `batch.applied` events in the audit log during the run. */
  batchesApplied: number;
  /** `notifications/tools/list_changed` the client received during the run. */
  listChanged: number;
  /** The final state seen by the client matched the last writes. */
  finalStateMatched: boolean;
  concurrency: number;
}

const HOT = ['hot_0', 'hot_1', 'hot_2', 'hot_3'];
const DOOMED = 'doomed';

function toolSource(name: string, version: number): string {
  return `import { defineTool } from '@hotmcp/core';

export default defineTool({
  name: '${name}',
  description: 'A tool of the soak',
  handler: async () => ({ content: [{ type: 'text', text: '${name} v${version}' }] }),
});
`;
}

/** Run the soak; resolves with its report. */
export async function runSoak(options: SoakOptions = {}): Promise<SoakReport> {
  const reloads = options.reloads ?? 100;
  const intervalMs = options.intervalMs ?? 150;
  const concurrency = options.concurrency ?? 32;
  const callTimeoutMs = options.callTimeoutMs ?? 10_000;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));

  const server = await StressServer.start();
  try {
    const versions = new Map<string, number>();
    const expected = (): View => {
      const view: View = {};
      for (const [name, version] of versions)
        view[name] = { description: 'A tool of the soak', answer: `${name} v${version}` };
      return view;
    };
    const write = async (name: string, version: number) => {
      versions.set(name, version);
      await server.perform([{ kind: 'write', path: `${name}.ts`, content: toolSource(name, version) }]);
    };
    const remove = async (name: string) => {
      versions.delete(name);
      await server.perform([{ kind: 'delete', path: `${name}.ts` }]);
    };
    for (const name of [...HOT, DOOMED]) await write(name, 0);
    await server.settle(expected(), 'the soak tools to load');

    const batchesBefore = (await appliedBatches(server.sandbox.auditLog)).length;
    const listChangedBefore = server.session.listChanged();
    const calls: CallCounts = { made: 0, answered: 0, failed: 0, lost: 0 };
    const removedToolCalls: CallCounts = { made: 0, answered: 0, failed: 0, lost: 0 };
    const failures: string[] = [];
    const newest = new Map<string, number>();
    let stopping = false;
    let next = 0;

    const call = async () => {
      const names = [...HOT, DOOMED];
      const name = names[next++ % names.length] as string;
      const counts = name === DOOMED ? removedToolCalls : calls;
      counts.made++;
      // A call started after an answer of version n must not answer an older version.
      const floor = newest.get(name) ?? 0;
      try {
        const result = await server.session.client.callTool({ name, arguments: {} }, undefined, {
          timeout: callTimeoutMs,
        });
        const text = textOf(result);
        const version = Number(new RegExp(`^${name} v(\\d+)$`).exec(text)?.[1] ?? Number.NaN);
        if (!result.isError && version >= floor) {
          counts.answered++;
          if (version > (newest.get(name) ?? 0)) newest.set(name, version);
          return;
        }
        counts.failed++;
        const why = result.isError ? 'error result' : version < floor ? `older than v${floor}:` : 'wrong answer';
        if (counts === calls && failures.length < 10) failures.push(`${name}: ${why} ${text}`);
      } catch (error) {
        const lost = error instanceof McpError && error.code === ErrorCode.RequestTimeout;
        if (lost) counts.lost++;
        else counts.failed++;
        if (counts === calls && failures.length < 10) failures.push(`${name}: ${String(error)}`);
      }
    };
    const worker = async () => {
      while (!stopping && server.alive) await call();
    };

    const started = performance.now();
    const workers = Array.from({ length: concurrency }, worker);
    let extra = 0;
    const extras: string[] = [];
    for (let reload = 1; reload <= reloads; reload++) {
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
      if (!server.alive) break;
      if (reload === Math.ceil(reloads / 2)) {
        await remove(DOOMED);
      } else if (reload % 5 === 0) {
        const name = `extra_${extra++}`;
        extras.push(name);
        await write(name, 0);
      } else if (reload % 7 === 0 && extras.length > 0) {
        await remove(extras.shift() as string);
      } else {
        const name = HOT[reload % HOT.length] as string;
        await write(name, (versions.get(name) ?? 0) + 1);
      }
      if (reload % 20 === 0) log(`soak: ${reload} reloads, ${calls.made + removedToolCalls.made} calls`);
    }
    // Calls go on for one more interval after the last change, then stop.
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    stopping = true;
    await Promise.all(workers);
    const durationMs = performance.now() - started;

    let finalStateMatched = true;
    try {
      await server.settle(expected(), 'the last change');
    } catch (error) {
      finalStateMatched = false;
      failures.push(String(error));
    }
    if (!server.alive) failures.push(`the server died\n${server.stderrTail()}`);
    // The settle above rewrote the fence: once its batch is in the audit log, so are all of the run's.
    let batches = (await appliedBatches(server.sandbox.auditLog)).slice(batchesBefore);
    const deadline = Date.now() + 5_000;
    while (finalStateMatched && !batches.some(isFence) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      batches = (await appliedBatches(server.sandbox.auditLog)).slice(batchesBefore);
    }
    return {
      calls,
      removedToolCalls,
      failures,
      callsPerSecond: Math.round(((calls.made + removedToolCalls.made) / durationMs) * 1000),
      durationMs: Math.round(durationMs),
      reloads,
      batchesApplied: batches.filter((batch) => !isFence(batch)).length,
      listChanged: server.session.listChanged() - listChangedBefore,
      finalStateMatched,
      concurrency,
    };
  } finally {
    await server.stop();
  }
}

interface AppliedBatch {
  upserted?: string[];
}

const isFence = (batch: AppliedBatch): boolean => batch.upserted?.includes(`tool:${FENCE_TOOL}`) ?? false;

/** The `batch.applied` events of the audit log, in order. */
async function appliedBatches(file: string): Promise<AppliedBatch[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const batches: AppliedBatch[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const event = JSON.parse(line) as AppliedBatch & { event?: string };
      if (event.event === 'batch.applied') batches.push(event);
    } catch {
      // A line being written: read again next time.
    }
  }
  return batches;
}
