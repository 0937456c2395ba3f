/**
 * `@hotmcp/core/watching`: what a `ChangeSource` implementation (a
 * watcher package) needs besides the port: file discovery that reports and
 * skips unreadable folders, file stamps, the include/exclude filter, the
 * inside-root check and the watcher errors. Not needed to compose a reloader.
 *
 * @packageDocumentation
 */
export { FRESH_MS, fileStamp, sameMetadata, sameStamp } from '../file-stamp.js';
export { isInside } from '../inside-root.js';
export { isFatalWatcherError, watcherDied } from './fallback-change-source.js';
export type { PathFilter } from './path-filter.js';
export { createPathFilter } from './path-filter.js';
export type { FileScan, FileWalk } from './scan-files.js';
export {
  currentStamp,
  isGone,
  listFiles,
  outsideRootLink,
  scanFiles,
  stampOf,
  unreadable,
  walkFiles,
} from './scan-files.js';
