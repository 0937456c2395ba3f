import { type Dirent, lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { HotMcpError, isHotMcpError } from '../errors.js';
import { fileStamp } from '../file-stamp.js';
import { isInside } from '../inside-root.js';
import type { FileListing } from '../ports/change-source.js';
import type { PathFilter } from './path-filter.js';

/** What one scan of a root found. */
export interface FileScan {
  /** Every selected file, by absolute path, with its {@link fileStamp}. */
  files: Map<string, string>;
  /** Every folder entered, by absolute path, with its inode number. */
  dirs: Map<string, number>;
}

/** What one walk of a folder found, unstamped. */
export interface FileWalk {
  /** Every selected file below the folder, by absolute path, with whether it is a symbolic link. */
  files: Map<string, boolean>;
  /** Every folder entered below the folder (absolute paths; the folder itself not included). */
  dirs: string[];
  /** Folders that could not be read (unreadable, or gone while the walk reached them). */
  failed: Set<string>;
}

/**
 * Walk `dir` (default: the filter's root), synchronously, and return the
 * files the filter selects and the folders it enters, without stamping them:
 * one `readdir` per folder entered (`filter.enters`), file types from its
 * entries and no `stat` (which would `lstat` every entry). A plain walk: a
 * glob library would cost every start its loading, and the filter decides
 * anyway. Symlinked folders are not followed. A folder that cannot be read
 * (permission denied) is reported through `onError` as {@link unreadable}
 * and skipped, the rest of the walk goes on; folders that vanish mid-walk
 * are skipped silently.
 */
export function walkFiles(filter: PathFilter, onError?: (error: Error) => void, dir: string = filter.root): FileWalk {
  const walk: FileWalk = { files: new Map(), dirs: [], failed: new Set() };
  if (dir !== filter.root && !isInside(filter.root, dir)) return walk;
  if (dir === filter.root && filter.walk.patterns.length === 0) return walk;
  const folders = [dir];
  for (let folder = folders.pop(); folder !== undefined; folder = folders.pop()) {
    let entries: Dirent[];
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch (cause) {
      walk.failed.add(folder);
      if (!isGone(cause)) onError?.(unreadable(folder, cause));
      continue;
    }
    for (const entry of entries) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) {
        if (filter.enters(full)) {
          walk.dirs.push(full);
          folders.push(full);
        }
      } else if ((entry.isFile() || entry.isSymbolicLink()) && filter.includes(full)) {
        walk.files.set(full, entry.isSymbolicLink());
      }
    }
  }
  return walk;
}

/**
 * Walk `dir` (default: the filter's root) with {@link walkFiles} and stamp
 * every file the filter selects. Synchronous on purpose: `statSync` is
 * several times faster than the promise API, and it keeps libuv's thread pool
 * (and the memory arenas of its threads) out of it.
 *
 * Symlinked folders are not followed; a symlinked file is kept only when its
 * real path is inside the root (one outside is reported through `onError` as
 * {@link outsideRootLink}). A folder or file that cannot be read
 * (permission denied) is reported through `onError` and skipped; entries that
 * vanish mid-walk, broken links and link loops are skipped silently.
 * Throws `HOTMCP_ERR_WATCHER_FAILED` when `dir` itself is not a folder.
 */
export function scanFiles(filter: PathFilter, onError?: (error: Error) => void, dir: string = filter.root): FileScan {
  const scan: FileScan = { files: new Map(), dirs: new Map() };
  const top = statSync(dir, { throwIfNoEntry: false });
  if (!top?.isDirectory()) {
    throw new HotMcpError('HOTMCP_ERR_WATCHER_FAILED', `cannot scan ${dir}: ${top ? 'not a directory' : 'missing'}`);
  }
  scan.dirs.set(dir, top.ino);
  const walk = walkFiles(filter, onError, dir);
  for (const folder of walk.dirs) {
    const stats = statSync(folder, { throwIfNoEntry: false });
    if (stats?.isDirectory()) scan.dirs.set(folder, stats.ino); // else gone since it was listed
  }
  for (const [file, isLink] of walk.files) {
    try {
      const stamp = stampOf(filter.root, file, isLink, onError);
      if (stamp !== undefined) scan.files.set(file, stamp);
    } catch (cause) {
      onError?.(unreadable(file, cause));
    }
  }
  return scan;
}

/**
 * What `ChangeSource.rescan` answers: {@link scanFiles} from the root, with
 * the paths it could not read (each also handed to `onError`).
 */
export function listFiles(filter: PathFilter, onError?: (error: Error) => void): FileListing {
  const unreadablePaths: string[] = [];
  const { files } = scanFiles(filter, (error) => {
    const path = isHotMcpError(error) && error.code === 'HOTMCP_ERR_WATCHER_FAILED' ? error.details?.path : undefined;
    if (typeof path === 'string') unreadablePaths.push(path);
    onError?.(error);
  });
  return { files, unreadable: unreadablePaths };
}

/** What `ChangeSource.stamp` answers: the file's stamp now (one stat), or '' when it is not a regular file or cannot be read. */
export function currentStamp(file: string): string {
  try {
    const stats = statSync(file, { throwIfNoEntry: false });
    return stats?.isFile() ? fileStamp(stats) : '';
  } catch {
    return '';
  }
}

/**
 * The stamp of a file a watcher may report, or undefined when it is not
 * there, not a regular file, a broken link or link loop, or a symlink
 * resolving outside the root (that one is also handed to `onOutside` as
 * {@link outsideRootLink}). Throws when that cannot be told (permission
 * denied): the caller keeps what it knew. `isLink` saves an lstat when the
 * caller already knows.
 */
export function stampOf(
  root: string,
  file: string,
  isLink?: boolean,
  onOutside?: (error: HotMcpError) => void,
): string | undefined {
  try {
    const link = isLink ?? lstatSync(file).isSymbolicLink();
    const refused = link ? outsideRootLink(root, file) : undefined;
    if (refused !== undefined) {
      onOutside?.(refused);
      return undefined;
    }
    const stats = statSync(file);
    return stats.isFile() ? fileStamp(stats) : undefined;
  } catch (error) {
    if (isGone(error)) return undefined;
    throw error;
  }
}

/**
 * For a selected file that is a symbolic link: the error a watcher reports
 * when it resolves outside the root (it is then never delivered, so never
 * loaded), or undefined when its target is inside. Throws what `realpath`
 * throws (a broken link, a loop, permission denied).
 */
export function outsideRootLink(root: string, file: string): HotMcpError | undefined {
  const target = realpathSync(file);
  if (isInside(root, target)) return undefined;
  return new HotMcpError(
    'HOTMCP_ERR_OUTSIDE_ROOT',
    `${file} is a symbolic link to ${target}, outside the watched root; it is not loaded`,
    { details: { path: file, target } },
  );
}

/** The error a watcher reports for a folder or file it may not read. */
export function unreadable(file: string, cause: unknown): HotMcpError {
  return new HotMcpError('HOTMCP_ERR_WATCHER_FAILED', `cannot read ${file}: ${messageOf(cause)}; skipped`, {
    cause,
    details: { path: file },
  });
}

/** ENOENT, ENOTDIR and ELOOP: the entry went away (or is a link loop, as good as gone). */
export function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}

function messageOf(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}
