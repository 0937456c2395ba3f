/**
 * The runner's compilations, kept on disk between starts: one file per root
 * in the user's cache folder, mapping each module to a hash of what it was
 * compiled from and what the compiler made of it. A start reads it once and
 * compiles only the modules whose text (or tsconfig options) changed since;
 * it is written again when the modules found at start-up are loaded and at
 * `close()`, when anything was compiled afresh. A compiler that differs (other
 * hotmcp code, esbuild or Node major) makes every entry a miss.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** What the cache keeps of one compilation. */
export interface CachedCompilation {
  code: string;
  imports: string[];
}

type Entry = [key: string, code: string, imports: string[]];

interface CacheFile {
  compiler: string;
  entries: Record<string, Entry>;
}

/** Cache files kept in the folder (one per root): beyond that, the least recently written go. */
const MAX_FILES = 64;

/** `$XDG_CACHE_HOME/hotmcp/compiled`, else `~/.cache/hotmcp/compiled`: the user's own, never a shared folder. */
export function defaultCompileCacheDir(): string {
  const cache = process.env.XDG_CACHE_HOME;
  const base = cache && path.isAbsolute(cache) ? cache : path.join(os.homedir(), '.cache');
  return path.join(base, 'hotmcp', 'compiled');
}

/** A hash of the texts, for keys. */
export function hashOf(...parts: string[]): string {
  const hash = createHash('sha1');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('base64url');
}

/**
 * True when `dir` may hold code this process runs: a folder (no symlink), the
 * user's own, that neither group nor others may write to. Anyone else who
 * could write there could plant code.
 */
function trusted(dir: string): boolean {
  const stats = lstatSync(dir, { throwIfNoEntry: false });
  if (!stats?.isDirectory()) return false;
  const uid = process.getuid?.();
  if (uid !== undefined && stats.uid !== uid) return false;
  return process.platform === 'win32' || (stats.mode & 0o022) === 0;
}

/**
 * Create `dir` and its missing parents, owner-only, one level at a time
 * (Node's recursive mkdir never returns on some file systems, /proc for one).
 */
async function makeDir(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let at = dir; lstatSync(at, { throwIfNoEntry: false }) === undefined; at = path.dirname(at)) {
    if (path.dirname(at) === at) return;
    missing.unshift(at);
  }
  for (const folder of missing) await mkdir(folder, { mode: 0o700 }).catch(() => {}); // taken by a concurrent start
}

export class CompileCache {
  private readonly file: string;
  /** What the file held when read (undefined until first needed). */
  private stored: Record<string, Entry> | undefined;
  /** The compilations of this process's current files: what is written. */
  private readonly current = new Map<string, Entry>();
  /** Whether {@link current} differs from what the file holds. */
  private dirty = false;
  private writing: Promise<void> = Promise.resolve();

  /**
   * @param dir The cache folder (created owner-only when missing).
   * @param root The root whose modules this caches.
   * @param compiler Identifies the compiler: entries written by another are ignored.
   */
  constructor(
    private readonly dir: string,
    root: string,
    private readonly compiler: string,
  ) {
    this.file = path.join(dir, `${hashOf(root)}.json`);
  }

  /** The compilation of `file` made from what `key` hashes, when the cache has it. */
  get(file: string, key: string): CachedCompilation | undefined {
    const entry = this.read()[file];
    if (entry?.[0] !== key) return undefined;
    if (this.current.get(file)?.[0] !== key) this.current.set(file, entry);
    return { code: entry[1], imports: entry[2] };
  }

  /** Keep the compilation of `file` made from what `key` hashes. */
  set(file: string, key: string, compiled: CachedCompilation): void {
    this.current.set(file, [key, compiled.code, compiled.imports]);
    this.dirty = true;
  }

  /** Forget `files` (deleted): the next write leaves them out. */
  delete(files: Iterable<string>): void {
    for (const file of files) if (this.current.delete(file)) this.dirty = true;
  }

  /**
   * Write the current compilations when they differ from the file's, through a
   * temporary file renamed into place, so a concurrent start reads either
   * version whole. Never rejects: a cache that cannot be written is no cache.
   */
  save(): Promise<void> {
    // Files the file holds that were not looked up (deleted since) are left out: it holds what a start loads.
    const stale = this.stored !== undefined && Object.keys(this.stored).length !== this.current.size;
    if (!this.dirty && !stale) return this.writing;
    this.dirty = false;
    const entries = Object.fromEntries(this.current);
    this.writing = this.writing.then(async () => {
      try {
        await makeDir(this.dir);
        if (!trusted(this.dir)) return;
        const temporary = `${this.file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
        const body: CacheFile = { compiler: this.compiler, entries };
        try {
          await writeFile(temporary, JSON.stringify(body), { mode: 0o600, flag: 'wx' });
          await rename(temporary, this.file);
        } finally {
          await rm(temporary, { force: true });
        }
        this.stored = entries;
        await this.prune();
      } catch {} // read-only or full disk: the next start compiles
    });
    return this.writing;
  }

  private read(): Record<string, Entry> {
    if (this.stored) return this.stored;
    this.stored = {};
    try {
      if (!trusted(this.dir)) return this.stored;
      const body = JSON.parse(readFileSync(this.file, 'utf8')) as Partial<CacheFile>;
      if (body.compiler === this.compiler && typeof body.entries === 'object' && body.entries !== null) {
        this.stored = body.entries;
      }
    } catch {} // none yet, or unreadable: compiled afresh
    return this.stored;
  }

  /** Keep the {@link MAX_FILES} cache files written last. */
  private async prune(): Promise<void> {
    const names = readdirSync(this.dir).filter((name) => name.endsWith('.json'));
    if (names.length <= MAX_FILES) return;
    const dated = await Promise.all(
      names.map(async (name) => {
        const at = await stat(path.join(this.dir, name)).then(
          (stats) => stats.mtimeMs,
          () => 0,
        );
        return { name, at };
      }),
    );
    dated.sort((a, b) => b.at - a.at);
    await Promise.all(dated.slice(MAX_FILES).map(({ name }) => rm(path.join(this.dir, name), { force: true })));
  }
}
