import { basename, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BatchReport, ModuleErrorReport, ReloaderStatus, ReloadFailure, RescanReport } from '../engine/status.js';
import { isInside } from '../inside-root.js';
import type { ChangeBatch, ChangeSourceStatus } from '../ports/change-source.js';

/**
 * What MCP clients are shown of the reloader: paths relative to the watched
 * root (the absolute ones stay in the audit log), one line of each error
 * message, never file contents.
 */

/** Longest error message a client is shown. */
const MAX_MESSAGE = 500;

/** A file as clients see it: relative to the root with `/` separators, or `…/name` when outside it. */
export function clientPath(root: string, file: string): string {
  const path = relative(root, file);
  if (path === '') return '.';
  if (!isInside(root, file)) return `…/${basename(file)}`;
  return sep === '/' ? path : path.split(sep).join('/');
}

/**
 * An error message as clients see it: its first line, with paths under the
 * root made relative and any other absolute path cut to `…/name`.
 */
export function clientMessage(root: string, message: string): string {
  const firstLine = message.split('\n').find((line) => line.trim() !== '') ?? '';
  const prefixes = [`${pathToFileURL(root).href}/`, `${root}${sep}`];
  let text = firstLine;
  for (const prefix of prefixes) text = text.split(prefix).join('');
  text = text.split(root).join('.');
  text = text.replace(/(^|[\s('"=])(?:file:\/\/)?\/(?:[^\s/:'"()]+\/)*([^\s/:'"()]+)/g, '$1…/$2');
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
}

/** A loader's "Failed to load <module> (<file>:<line>): " prefix; each importer on the way up adds one. */
const LOADING = /^Failed to load (.+?)(?: \([^()]*\))?: /;

/**
 * A load failure's message told from where it points: the reason without the
 * loaders' "Failed to load …: " prefixes, followed by the modules that import
 * the failing one, when it failed as an import (`(imported by b.ts ← a.ts)`,
 * each as `show` gives it). Any other message comes back as it is.
 */
export function failureReason(message: string, show: (module: string) => string = (module) => module): string {
  const chain: string[] = [];
  let reason = message;
  for (let match = LOADING.exec(reason); match; match = LOADING.exec(reason)) {
    chain.push(match[1] as string);
    reason = reason.slice(match[0].length);
  }
  if (reason === '') return message;
  const importers = chain.slice(0, -1).reverse().map(show);
  return importers.length === 0 ? reason : `${reason} (imported by ${importers.join(' ← ')})`;
}

/** One reload error, as clients see it. */
export interface ClientError {
  /** The module whose load or definitions failed, root-relative. */
  module?: string;
  code: string;
  message: string;
  /** Where the error points, root-relative (may be a helper the module imports). */
  file?: string;
  line?: number;
}

/** A status error, as clients see it. */
export function clientError(root: string, report: ModuleErrorReport): ClientError {
  return {
    module: clientPath(root, report.module),
    code: report.code,
    message: clientMessage(root, report.message),
    ...(report.file !== undefined && { file: clientPath(root, report.file) }),
    ...(report.line !== undefined && { line: report.line }),
  };
}

/** The data of the log message sent for a reload failure. */
export function clientFailure(root: string, failure: ReloadFailure): ClientError & { event: string } {
  const { error } = failure;
  return {
    event: failure.event,
    ...(failure.module !== undefined && { module: clientPath(root, failure.module) }),
    code: error.code,
    message: clientMessage(root, error.message),
    ...(error.file !== undefined && { file: clientPath(root, error.file) }),
    ...(error.line !== undefined && { line: error.line }),
  };
}

/** What the reloader runs on, for the status tool. */
export interface ControlInfo {
  /** The change source in use (`native`, `poll`, `custom`…), when known. */
  watcher?: () => string | undefined;
  /** The module loader (`runner`, `native`, `custom`). */
  loader?: string;
  /** The registry adapter's name. */
  adapter?: string;
  /** How current the change source's folder is, when it can tell (a fleet replica fed by Redis). */
  source?: () => ChangeSourceStatus | undefined;
}

/** The status tool's answer. */
export function clientStatus(status: ReloaderStatus, info: ControlInfo = {}): Record<string, unknown> {
  const root = status.root;
  const watcher = info.watcher?.();
  const source = info.source?.();
  return {
    running: status.running,
    ...(watcher !== undefined && { watcher }),
    ...(source !== undefined && {
      source: { ...source, ...(source.reason !== undefined && { reason: clientMessage(root, source.reason) }) },
    }),
    ...(info.loader !== undefined && { loader: info.loader }),
    ...(info.adapter !== undefined && { adapter: info.adapter }),
    modules: status.modules.map((module) => ({ ...module, file: clientPath(root, module.file) })),
    errors: status.errors.map((error) => clientError(root, error)),
    ...(status.warnings &&
      status.warnings.length > 0 && { warnings: status.warnings.map((w) => clientError(root, w)) }),
    ...(status.lastBatch && { lastBatch: status.lastBatch }),
    counts: status.counts,
  };
}

/** The reload tool's answer. */
export function clientRescan(
  root: string,
  report: RescanReport,
  errors: readonly ModuleErrorReport[],
): { found: ChangeBatch; applied: boolean; batch?: BatchReport; errors: ClientError[] } {
  const paths = (files: readonly string[]) => files.map((file) => clientPath(root, file));
  return {
    found: {
      added: paths(report.found.added),
      changed: paths(report.found.changed),
      removed: paths(report.found.removed),
    },
    applied: report.batch !== undefined,
    ...(report.batch && { batch: report.batch }),
    errors: errors.map((error) => clientError(root, error)),
  };
}
