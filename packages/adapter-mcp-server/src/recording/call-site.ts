import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where a call was made: a file and its 1-based line and column. */
export interface CallSite {
  /** Absolute path of the file. */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column, when the stack gives one. */
  column?: number;
}

/**
 * Which files a registration may be attributed to: a folder or file (every
 * file under it), several of them, or a predicate on absolute paths.
 */
export type Attribution = string | readonly string[] | ((file: string) => boolean);

const FRAME = /(?:\(|\s|^)((?:file:\/\/)?\/[^\s()]*?|[A-Za-z]:\\[^\s()]*?):(\d+):(\d+)\)?\s*$/;
/** The recorder's own files, never a registration's call site: this one (the package's bundle) or, unbundled, those two. */
const OWN_PATH = fileURLToPath(import.meta.url);
const OWN_DIR = fileURLToPath(new URL('.', import.meta.url));
const OWN_FILE = /^(?:call-site|recording-server)\.[cm]?[jt]s$/;

function isOwn(file: string): boolean {
  return file === OWN_PATH || (inside(OWN_DIR, file) && OWN_FILE.test(file.slice(OWN_DIR.length)));
}

function toPath(raw: string): string {
  const bare = raw.split('?')[0] as string;
  return bare.startsWith('file:') ? fileURLToPath(bare) : bare;
}

function inside(folder: string, file: string): boolean {
  const base = folder.endsWith(sep) ? folder.slice(0, -1) : folder;
  return file === base || file.startsWith(`${base}${sep}`);
}

/** The predicate an {@link Attribution} stands for; by default any file outside node_modules and this package. */
export function attributionFilter(attribute: Attribution | undefined): (file: string) => boolean {
  if (typeof attribute === 'function') return attribute;
  if (attribute === undefined) {
    return (file) => !file.includes(`${sep}node_modules${sep}`) && !file.startsWith('node:');
  }
  const folders = typeof attribute === 'string' ? [attribute] : [...attribute];
  return (file) => folders.some((folder) => inside(folder, file));
}

/** The frames of a V8 stack, outermost last. */
export function stackFrames(stack: string): CallSite[] {
  const frames: CallSite[] = [];
  for (const line of stack.split('\n')) {
    if (!/^\s+at /.test(line)) continue;
    const match = FRAME.exec(line);
    if (!match) continue;
    frames.push({ file: toPath(match[1] as string), line: Number(match[2]), column: Number(match[3]) });
  }
  return frames;
}

/**
 * Where the code now running was called from: the first frame of the stack,
 * outside this package, in a file `accept` takes. Undefined when no frame
 * qualifies.
 */
export function callSite(accept: (file: string) => boolean): CallSite | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 64;
  const holder: { stack?: string } = {};
  try {
    Error.captureStackTrace(holder, callSite);
  } finally {
    Error.stackTraceLimit = limit;
  }
  return stackFrames(holder.stack ?? '').find((frame) => !isOwn(frame.file) && accept(frame.file));
}
