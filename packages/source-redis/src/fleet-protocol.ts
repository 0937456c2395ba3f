/**
 * What a fleet keeps in Redis, and how an entry is written: shared by the
 * replicas' change source, `publish` and `fleetStatus`.
 *
 * Keys, for a stream named `S` (default `hotmcp:fleet`):
 *
 * - `S`: the stream. Each entry is one batch, fields `prev` (the id of the
 *   entry before it, `0-0` for the first), `seq` (its number: 1 for the first
 *   entry ever published, whatever was trimmed since), `files` (JSON,
 *   {@link FileChange}[]) and, when the publisher compiled its modules,
 *   `compiled` (JSON, relative path → `ModuleCompilation`: a hint a replica
 *   runs instead of compiling the file only when its own compiler would make
 *   the same; see {@link decodeCompiled}).
 * - `S:head`: the id of the newest entry; `S:seq`: its number; `S:hashes` / `S:files`: the folder as
 *   of `S:head` (relative path → sha256 / content). `publish` updates all of
 *   them in the same `MULTI`/`EXEC` as its `XADD`, so they are the compacted
 *   snapshot a replica restores when the entries it missed were trimmed.
 * - `S:replicas`: the set of replica names; `S:replica:<name>`: a hash, the
 *   replica's report ({@link ReplicaReport}).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { HotMcpError, type ModuleCompilation } from '@hotmcp/core';

/** The stream used when none is named. */
export const DEFAULT_STREAM = 'hotmcp:fleet';

/** One file of a batch: its new content and hash, or its deletion. Paths are relative to the tools root, with `/`. */
export type FileChange = { path: string; hash: string; content: string } | { path: string; deleted: true };

/** The Redis keys of a fleet. */
export interface FleetKeys {
  stream: string;
  head: string;
  seq: string;
  hashes: string;
  files: string;
  replicas: string;
  replica(name: string): string;
}

export function fleetKeys(stream: string = DEFAULT_STREAM): FleetKeys {
  return {
    stream,
    head: `${stream}:head`,
    seq: `${stream}:seq`,
    hashes: `${stream}:hashes`,
    files: `${stream}:files`,
    replicas: `${stream}:replicas`,
    replica: (name) => `${stream}:replica:${name}`,
  };
}

/** The id before the first entry. */
export const ZERO_ID = '0-0';

function parseId(id: string): [bigint, bigint] {
  const [ms = '0', seq = '0'] = id.split('-');
  return [BigInt(ms), BigInt(seq)];
}

/** Order of two stream ids: negative, zero or positive. */
export function compareIds(a: string, b: string): number {
  const [am, as] = parseId(a);
  const [bm, bs] = parseId(b);
  if (am !== bm) return am < bm ? -1 : 1;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

/** The id `publish` gives the entry after `head`: the current time, always above `head`. */
export function nextId(head: string, now = Date.now()): string {
  const [ms, seq] = parseId(head);
  return BigInt(now) > ms ? `${now}-0` : `${ms}-${seq + 1n}`;
}

export function sha256(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/**
 * Check a path of an entry and resolve it under `root`: relative, `/`-separated,
 * no `..`, no empty or `.` segment, no NUL. Anything else is refused with
 * `HOTMCP_ERR_OUTSIDE_ROOT`.
 */
export function resolveInside(root: string, relative: unknown): string {
  const refuse = (why: string) =>
    new HotMcpError('HOTMCP_ERR_OUTSIDE_ROOT', `fleet entry path ${JSON.stringify(relative)} refused: ${why}`, {
      details: { path: String(relative) },
    });
  if (typeof relative !== 'string' || relative === '') throw refuse('not a non-empty string');
  if (relative.includes('\0') || relative.includes('\\')) throw refuse('it holds a NUL or a backslash');
  if (relative.startsWith('/') || path.isAbsolute(relative)) throw refuse('it is absolute');
  if (relative.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw refuse('it has an empty, "." or ".." segment');
  }
  const file = path.resolve(root, relative);
  if (!file.startsWith(root + path.sep)) throw refuse('it resolves outside the root');
  return file;
}

/** Read the `files` field of an entry; a malformed one is refused with `HOTMCP_ERR_FLEET_ENTRY`. */
export function decodeFiles(raw: string | undefined): FileChange[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw ?? '');
  } catch (cause) {
    throw new HotMcpError('HOTMCP_ERR_FLEET_ENTRY', 'fleet entry: its files field is not JSON', { cause });
  }
  if (!Array.isArray(parsed)) throw new HotMcpError('HOTMCP_ERR_FLEET_ENTRY', 'fleet entry: files is not an array');
  for (const change of parsed as Array<Record<string, unknown>>) {
    const ok =
      typeof change === 'object' &&
      change !== null &&
      typeof change.path === 'string' &&
      (change.deleted === true ||
        (typeof change.content === 'string' &&
          typeof change.hash === 'string' &&
          sha256(change.content) === change.hash));
    if (!ok) {
      throw new HotMcpError(
        'HOTMCP_ERR_FLEET_ENTRY',
        `fleet entry: a file change is malformed or its content does not match its hash (${JSON.stringify(change?.path)})`,
      );
    }
  }
  return parsed as FileChange[];
}

/**
 * Read the `compiled` field of an entry: the compilations of files the entry
 * writes (`written`, relative paths), by absolute path under `root`. A hint
 * only: an entry that is no object is left out, and the runner loader checks
 * each one it would use (its compiler, key and shape) before running it;
 * `undefined` comes back for a field that is not a JSON object at all.
 */
export function decodeCompiled(
  raw: string | undefined,
  root: string,
  written: ReadonlySet<string>,
): Record<string, ModuleCompilation> | undefined {
  if (raw === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const compiled: Record<string, ModuleCompilation> = {};
  for (const [relative, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (written.has(relative) && typeof value === 'object' && value !== null) {
      compiled[resolveInside(root, relative)] = value as ModuleCompilation;
    }
  }
  return compiled;
}

/** Turn a flat `[field, value, ...]` reply into a record. */
export function fieldsOf(flat: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[flat[i] as string] = flat[i + 1] as string;
  return record;
}

/** One module error, as a replica reports it (module path relative to the tools root). */
export interface ReplicaError {
  module?: string;
  code: string;
  message: string;
}

/** How a replica's last entry went. */
export type EntryOutcome = 'applied' | 'failed' | 'refused' | 'written';

/** What a replica reports in `S:replica:<name>`, as {@link fleetStatus} reads it back. */
export interface ReplicaReport {
  name: string;
  /** The id of the last entry it applied (`0-0`: none). */
  id: string;
  /** That entry's number (`seq`; 0: none); undefined when the entry carried none. */
  seq?: number;
  /**
   * `applied`: the engine loaded it with no error; `failed`: a module of the
   * replica has an error (its last good version is live); `refused`: the
   * entry was not written (a path outside the root, a malformed entry);
   * `written`: written to disk, the engine's result unknown (no reloader observed).
   */
  outcome: EntryOutcome;
  /** The replica's current module errors, and the refusal of its last entry. */
  errors: ReplicaError[];
  /** `catching-up` until its start has applied what it missed, then `serving`; `stopped` once stopped. */
  state: 'catching-up' | 'serving' | 'stopped';
  /** Process id and host. */
  pid: number;
  host: string;
  /** ISO time of its last report. */
  at: string;
  /** Epoch ms of its last heartbeat. */
  seenAt: number;
  /** Heartbeat period in ms: a replica not seen for three of them is not live. */
  heartbeatMs: number;
}

export function decodeReport(name: string, hash: Record<string, string>): ReplicaReport {
  let errors: ReplicaError[] = [];
  try {
    errors = JSON.parse(hash.errors ?? '[]') as ReplicaError[];
  } catch {}
  return {
    name,
    id: hash.id ?? ZERO_ID,
    ...(hash.seq !== undefined && hash.seq !== '' && { seq: Number(hash.seq) }),
    outcome: (hash.outcome ?? 'written') as EntryOutcome,
    errors,
    state: (hash.state ?? 'stopped') as ReplicaReport['state'],
    pid: Number(hash.pid ?? 0),
    host: hash.host ?? '',
    at: hash.at ?? '',
    seenAt: Number(hash.seenAt ?? 0),
    heartbeatMs: Number(hash.heartbeatMs ?? 2000),
  };
}

/** True when a replica's heartbeat is recent and it has not stopped. */
export function isLive(report: ReplicaReport, now = Date.now()): boolean {
  return report.state !== 'stopped' && now - report.seenAt <= 3 * report.heartbeatMs;
}
