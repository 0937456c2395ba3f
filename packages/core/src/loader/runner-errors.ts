import { asError, clip, HotMcpError, isHotMcpError } from '../errors.js';
import { toLoadError } from './load-error.js';
import type { ThrowSite } from './preflight.js';
import type { RunnerModule } from './runner-module.js';

/** The line of `source` that imports `specifier`, when it can be found. */
export function lineOf(source: string | undefined, specifier: string): number | undefined {
  if (source === undefined) return undefined;
  for (const quote of ["'", '"', '`']) {
    const at = source.indexOf(`${quote}${specifier}${quote}`);
    if (at !== -1) return source.slice(0, at).split('\n').length;
  }
  return undefined;
}

/**
 * A binding read before its module ran (an import cycle) throws inside the
 * namespace getter, which source maps place at line 1 of the exporting
 * module; Node reports the line that read it. Drop that frame.
 */
function withoutGetterFrame(error: unknown): unknown {
  if (!(error instanceof ReferenceError) || !/^Cannot access '[^']+' before initialization$/.test(error.message)) {
    return error;
  }
  const lines = (error.stack ?? '').split('\n');
  const top = lines.findIndex((line) => line.trimStart().startsWith('at '));
  if (top === -1 || !/^\s*at Module\.\S+ \(.*:1:1\)$/.test(lines[top] as string)) return error;
  const view = new ReferenceError(error.message);
  view.stack = [...lines.slice(0, top), ...lines.slice(top + 1)].join('\n');
  return view;
}

/**
 * What evaluating (or linking) `file` threw, as a coded error naming the file
 * and line. A value that is no Error has no stack: `site` is where the
 * preflight worker saw the module's evaluation throw it.
 */
export function moduleError(error: unknown, file: string, root: string, site?: ThrowSite): HotMcpError {
  if (isHotMcpError(error)) return error;
  const thrown = asError(error); // whatever was thrown, as an Error: reading it never throws
  const view = withoutGetterFrame(thrown);
  const located = toLoadError(view, file, root);
  if (site && located.line === undefined && thrown !== error) {
    const prefix = `Failed to load ${file}: `;
    const reason = located.message.startsWith(prefix) ? located.message.slice(prefix.length) : located.message;
    return new HotMcpError(located.code, `Failed to load ${file} (${site.file}:${site.line}): ${reason}`, {
      file: site.file,
      line: site.line,
      cause: error,
      details: { module: file },
    });
  }
  return view === thrown
    ? located
    : new HotMcpError(located.code, located.message, {
        ...(located.file !== undefined && { file: located.file }),
        ...(located.line !== undefined && { line: located.line }),
        ...(located.column !== undefined && { column: located.column }),
        cause: error,
        ...(located.details && { details: located.details }),
      });
}

/** A module whose top-level code (or an import's, `culprit`) did not finish in the preflight worker. */
export function importTimeout(file: string, culprit: string, timeoutMs: number): HotMcpError {
  const where = culprit === file ? '' : ` (its import ${culprit} did not finish)`;
  return new HotMcpError(
    'HOTMCP_ERR_IMPORT_TIMEOUT',
    `Failed to load ${file}: its top-level code did not finish within ${timeoutMs} ms${where}; it was stopped in a worker thread before it could run here`,
    { file: culprit, details: { module: file, timeoutMs } },
  );
}

/** A module whose top-level code (or an import's, `culprit`) did not finish on the main thread. */
export function mainThreadTimeout(file: string, culprit: string, timeoutMs: number, preflighted = true): HotMcpError {
  const where = culprit === file ? '' : ` (its import ${culprit} did not finish)`;
  const why = preflighted
    ? ' (if it finished in the preflight worker, it waits for something only the main thread has, or that never comes there)'
    : '';
  return new HotMcpError(
    'HOTMCP_ERR_IMPORT_TIMEOUT',
    `Failed to load ${file}: its top-level code did not finish on the main thread within ${timeoutMs} ms${where}; it was left waiting there and not used${why}`,
    { file: culprit, details: { module: file, timeoutMs, thread: 'main' } },
  );
}

/** A module whose top-level code (or an import's, `culprit`) had not finished when `newer` was saved again. */
export function supersededWhileWaiting(
  file: string,
  culprit: string,
  newer: string,
  thread: 'main' | 'preflight' = 'main',
): HotMcpError {
  const where = culprit === file ? '' : ` (its import ${culprit} had not finished)`;
  const there =
    thread === 'main'
      ? 'on the main thread'
      : 'in the import preflight (a worker thread; it was never run on the main thread)';
  return new HotMcpError(
    'HOTMCP_ERR_IMPORT_TIMEOUT',
    `Failed to load ${file}: its top-level code had not finished ${there}${where} when ${newer} was saved again; it was left waiting there and not used, and the newer version is loaded next`,
    { file: culprit, details: { module: file, thread, superseded: newer } },
  );
}

/** A module found at start-up whose top-level code (or an import's, `culprit`) did not finish on the main thread. */
export function startupTimeout(file: string, culprit: string, timeoutMs: number): HotMcpError {
  const where = culprit === file ? '' : ` (its import ${culprit} did not finish)`;
  return new HotMcpError(
    'HOTMCP_ERR_IMPORT_TIMEOUT',
    `Failed to load ${file}: its top-level code did not finish within ${timeoutMs} ms${where}; at start-up modules are evaluated on the main thread, where it was left waiting and not used`,
    { file: culprit, details: { module: file, timeoutMs, thread: 'main' } },
  );
}

/** A local import that resolves to no file. */
export function missingImport(module: RunnerModule, specifier: string): HotMcpError {
  const line = lineOf(module.source, specifier);
  const at = line === undefined ? '' : ` (${module.file}:${line})`;
  return new HotMcpError(
    'HOTMCP_ERR_MODULE_NOT_FOUND',
    `Failed to load ${module.file}${at}: Cannot find module '${specifier}' imported from ${module.file}`,
    { file: module.file, ...(line !== undefined && { line }), details: { module: module.file, specifier } },
  );
}

/** `module` fails because a module it imports failed: the dependency's error, seen from the importer. */
export function dependencyFailed(module: RunnerModule, dependency: RunnerModule): HotMcpError {
  const cause = dependency.error as HotMcpError;
  return new HotMcpError(cause.code, `Failed to load ${module.file}: ${cause.message}`, {
    ...(cause.file !== undefined && { file: cause.file }),
    ...(cause.line !== undefined && { line: cause.line }),
    ...(cause.column !== undefined && { column: cause.column }),
    cause,
    details: { ...cause.details, module: module.file },
  });
}

/** A module that neither finished nor failed. */
export function unfinished(file: string): HotMcpError {
  return new HotMcpError('HOTMCP_ERR_LOAD_FAILED', `Failed to load ${file}: it did not finish evaluating`, { file });
}

/** A module (or an import of it, `culprit`) that ended the preflight worker evaluating it. */
export function threadEnded(file: string, culprit: string, reason: string): HotMcpError {
  const where = culprit === file ? '' : ` (its import ${culprit} did)`;
  return new HotMcpError(
    'HOTMCP_ERR_IMPORT_THREW',
    `Failed to load ${file}: its top-level code ended the worker thread evaluating it${where} (${clip(reason)}); it was not run here, where it would have ended the server`,
    { file: culprit, details: { module: file, reason: clip(reason) } },
  );
}
