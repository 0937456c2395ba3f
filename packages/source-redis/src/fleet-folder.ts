/** The tools folder on disk: read and hashed by `publish`, written atomically by a replica. */
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { HotMcpError } from '@hotmcp/core';
import picomatch from 'picomatch';
import { type FileChange, resolveInside, sha256 } from './fleet-protocol.js';

/** Folders never published nor reported, whatever the globs say. */
const ALWAYS_EXCLUDED = ['**/node_modules/**', '**/.git/**', '**/dist/**'];

/** Which files of a folder belong to the fleet: relative paths with `/`. */
export interface FolderSelection {
  /** Globs relative to the folder. Default: every file (`**`; dot-files excluded). */
  include?: readonly string[];
  /** Globs never selected (besides `node_modules`, `.git` and `dist`). */
  exclude?: readonly string[];
}

export function createSelector(selection: FolderSelection = {}): (relative: string) => boolean {
  const included = picomatch([...(selection.include ?? ['**'])], { dot: false });
  const excluded = picomatch([...ALWAYS_EXCLUDED, ...(selection.exclude ?? [])], { dot: true });
  return (relative) => included(relative) && !excluded(relative);
}

/** A folder's selected files: relative path → content and sha256. */
export type FolderFiles = Map<string, { hash: string; content: string }>;

/** Every selected file under `dir`, as sorted absolute paths. */
export function listFolder(dir: string, selected: (relative: string) => boolean): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const absolute = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    if (selected(path.relative(dir, absolute).split(path.sep).join('/'))) files.push(absolute);
  }
  return files.sort();
}

/** Read and hash every selected file under `dir` (symlinks are not followed). */
export function readFolder(dir: string, selection: FolderSelection = {}): FolderFiles {
  const files: FolderFiles = new Map();
  for (const absolute of listFolder(dir, createSelector(selection))) {
    const content = readFileSync(absolute, 'utf8');
    files.set(path.relative(dir, absolute).split(path.sep).join('/'), { hash: sha256(content), content });
  }
  return files;
}

/** What writing a batch did, as absolute paths. */
export interface Written {
  added: string[];
  changed: string[];
  removed: string[];
}

/**
 * Write a batch into `root`: every path is checked first (one outside the
 * root refuses the whole batch with `HOTMCP_ERR_OUTSIDE_ROOT`, nothing
 * written), then each new content goes to a temp file beside its target and
 * is renamed over it, then deletions. A folder on the way that resolves out
 * of the root (a symlink) refuses the batch too.
 */
export function writeBatch(root: string, changes: readonly FileChange[], known: Map<string, string>): Written {
  // `known`: relative path → hash of the files the fleet wrote, updated here.
  const targets = changes.map((change) => ({ change, file: resolveInside(root, change.path) }));
  const realRoot = realpathSync(root);
  for (const { file, change } of targets) {
    let dir = path.dirname(file);
    while (dir !== root) {
      let real: string | undefined;
      try {
        real = realpathSync(dir);
      } catch {}
      if (real !== undefined) {
        if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
          throw new HotMcpError(
            'HOTMCP_ERR_OUTSIDE_ROOT',
            `fleet entry path ${change.path} refused: ${dir} leads out of the root`,
            {
              details: { path: change.path },
            },
          );
        }
        break;
      }
      dir = path.dirname(dir);
    }
  }
  const written: Written = { added: [], changed: [], removed: [] };
  const temps: Array<[string, string]> = [];
  try {
    for (const { change, file } of targets) {
      if ('deleted' in change) continue;
      mkdirSync(path.dirname(file), { recursive: true });
      const temp = `${file}.${randomBytes(6).toString('hex')}.hotmcp-tmp`;
      writeFileSync(temp, change.content);
      temps.push([temp, file]);
    }
  } catch (error) {
    for (const [temp] of temps) rmSync(temp, { force: true });
    throw error;
  }
  for (const [temp, file] of temps) {
    const existed = existsSync(file);
    renameSync(temp, file);
    (existed ? written.changed : written.added).push(file);
  }
  for (const { change, file } of targets) {
    if (!('deleted' in change)) continue;
    try {
      unlinkSync(file);
      written.removed.push(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  for (const change of changes) {
    if ('deleted' in change) known.delete(change.path);
    else known.set(change.path, change.hash);
  }
  return written;
}
