import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isHotMcpError } from '../errors.js';
import { sameMetadata } from '../file-stamp.js';
import type { ChangeBatch, ChangeSource, ChangeSourceOptions } from '../ports/change-source.js';
import { type CoalesceTimings, createCoalescingChangeSource } from '../watching/coalescing-change-source.js';
import { waitUntil } from './wait-until.js';

type Vitest = typeof import('vitest');
// Loaded here rather than imported, so the rest of @hotmcp/core/testing works without vitest.
const vitest: Vitest | undefined = await import('vitest').catch(() => undefined);

/** Options of {@link changeSourceConformance}. */
export interface ChangeSourceConformanceOptions {
  /**
   * Also run every case with the source wrapped in core's
   * `CoalescingChangeSource`, plus the cases only coalescing can pass (one
   * batch per edit or burst, no batch for unchanged bytes). Default true.
   */
  coalesced?: boolean;
  /** Timings of that coalescer. Default: its defaults. */
  coalesce?: CoalesceTimings;
  /** How long each expectation may take to come true, in ms. Default 10,000. */
  timeoutMs?: number;
  /**
   * How to make the source in a child process: a module (absolute path or
   * file URL, usually the package's built entry) exporting `exportName`, a
   * factory taking `ChangeSourceOptions` merged with `options`. With it, the
   * suite also checks that after `stop()` the process exits by itself (some
   * handles, like a native watcher's thread, are invisible in-process), and
   * runs the permission cases in a child that drops root privileges (root
   * reads everything, so they cannot be checked as root in-process).
   */
  child?: { module: string; exportName: string; options?: Record<string, unknown> };
}

type Kind = 'added' | 'changed' | 'removed';
interface Mention {
  kind: Kind;
  /** `performance.now()` when the batch arrived. */
  at: number;
}

/** A source under test, with everything it emitted. */
interface Watch {
  source: ChangeSource;
  baseline: readonly string[];
  batches: Array<ChangeBatch & { at: number }>;
  errors: Error[];
  /** Files present according to the batches so far (baseline included). */
  present: Set<string>;
  history(file: string): Mention[];
  /** Wait, bounded ({@link waitUntil}), until `condition` holds; a timeout shows the last batches and errors. */
  until(condition: () => boolean, what: string): Promise<void>;
  /** Write a new file and wait until it is reported: everything emitted before it has arrived. */
  sentinel(): Promise<string>;
}

interface Env {
  /** The temp folder holding `root` and `outside`. */
  dir: string;
  root: string;
  outside: string;
  at(relative: string): string;
  write(relative: string, content?: string): string;
}

const NOBODY = 65534;
const SELECT = { include: ['**/*.ts'], exclude: ['**/*.test.ts', 'private/**'] } as const;

function requireVitest(): Vitest {
  if (!vitest) throw new Error('changeSourceConformance needs vitest (an optional peer dependency of @hotmcp/core)');
  return vitest;
}

/**
 * Register the ChangeSource conformance suite with vitest: every case runs on
 * real temp folders on the real disk and waits for the expected state with
 * a bounded timeout, never a fixed sleep.
 *
 * What the raw source must do (`(raw)` block, checked on the state the
 * batches describe, not on how they are split): baseline; create, edit,
 * delete; atomic save; rename; 500-file and 300-file checkout-like bursts;
 * a folder deleted and re-created with no gap; a new nested folder; a file
 * still being written (its final content arrives); a same-size edit with the
 * mtime restored; a symlink to a file outside the root (never emitted);
 * excluded folders (never emitted); the root deleted and re-created
 * (reported, then watched again); an unreadable folder (reported, skipped,
 * watching goes on); `stop()` releases every handle.
 *
 * What needs the coalescer (`+ coalescer` block, the same cases again plus):
 * a lone edit or an atomic save is exactly one batch; a 500-file burst, a
 * 300-file checkout or a 300-file folder deleted is at most two; deleted-and-re-created is `changed`,
 * created-and-deleted is nothing; rewriting the same bytes or touching a file
 * produces nothing; an unreadable file is reported and delivered once it can
 * be read.
 */
export function changeSourceConformance(
  name: string,
  create: (options: ChangeSourceOptions) => ChangeSource,
  options: ChangeSourceConformanceOptions = {},
): void {
  const { describe, it, expect, beforeEach, afterEach } = requireVitest();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const testTimeout = timeoutMs * 4;
  const isRoot = process.getuid?.() === 0;

  for (const coalesced of options.coalesced === false ? [false] : [false, true]) {
    describe(`${name}${coalesced ? ' + coalescer' : ' (raw)'}: ChangeSource conformance`, {
      timeout: testTimeout,
    }, () => {
      let env: Env;
      let watches: Watch[];
      let cleanup: () => Promise<void>;

      beforeEach(async () => {
        const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'hotmcp-conformance-')));
        const root = path.join(dir, 'root');
        const outside = path.join(dir, 'outside');
        mkdirSync(root);
        mkdirSync(outside);
        watches = [];
        const at = (relative: string) => path.resolve(root, relative);
        env = {
          dir,
          root,
          outside,
          at,
          write(relative, content = `// ${relative} ${Math.random()}\n`) {
            const file = at(relative);
            mkdirSync(path.dirname(file), { recursive: true });
            writeFileSync(file, content);
            return file;
          },
        };
        cleanup = async () => {
          await Promise.all(watches.map((watch) => watch.source.stop()));
          await rm(dir, { recursive: true, force: true });
        };
      });

      afterEach(async () => {
        await cleanup();
      });

      let sentinels = 0;
      async function open(overrides: CoalesceTimings = {}): Promise<Watch> {
        const raw = create({ root: env.root, ...SELECT });
        const source = coalesced
          ? createCoalescingChangeSource(raw, { ...options.coalesce, ...overrides, root: env.root })
          : raw;
        const watch = await startWatch(source, timeoutMs, () => env.write(`zz-sentinel-${++sentinels}.ts`));
        watches.push(watch);
        return watch;
      }

      const mentioned = (watch: Watch, file: string) => watch.history(file).length > 0;
      const last = (watch: Watch, file: string) => watch.history(file).at(-1)?.kind;

      it('start resolves with the files present, sorted, and emits nothing for them', async () => {
        const files = [env.write('tools/b.ts'), env.write('tools/a.ts'), env.write('index.ts')];
        const watch = await open();
        expect(watch.baseline).toEqual([...files].sort());
        await watch.sentinel();
        for (const file of files) expect(watch.history(file)).toEqual([]);
      });

      it('reports a created file as added', async () => {
        const watch = await open();
        const file = env.write('tools/new.ts');
        await watch.until(() => mentioned(watch, file), 'the new file');
        expect(watch.history(file).map((m) => m.kind)).toEqual(['added']);
      });

      it('reports an edited file as changed', async () => {
        const file = env.write('tools/a.ts', 'one');
        const watch = await open();
        writeFileSync(file, 'one more');
        await watch.until(() => mentioned(watch, file), 'the edit');
        expect(watch.history(file)[0]?.kind).toBe('changed');
      });

      it('reports a deleted file as removed', async () => {
        const file = env.write('tools/a.ts');
        const watch = await open();
        unlinkSync(file);
        await watch.until(() => !watch.present.has(file), 'the removal');
        expect(watch.history(file).map((m) => m.kind)).toEqual(['removed']);
      });

      it('reports an atomic save (temporary file renamed over the file) as a change, never a removal', async () => {
        const file = env.write('tools/a.ts', 'old');
        const watch = await open();
        const temporary = env.write('tools/.a.ts.tmp', 'new');
        renameSync(temporary, file);
        await watch.until(() => last(watch, file) === 'changed', 'the saved file');
        await watch.sentinel();
        expect(watch.history(file).some((m) => m.kind === 'removed')).toBe(false);
        expect(watch.history(temporary)).toEqual([]);
      });

      it('reports a rename as the old path removed and the new one added', async () => {
        const before = env.write('tools/old-name.ts');
        const watch = await open();
        const after = env.at('tools/new-name.ts');
        renameSync(before, after);
        await watch.until(() => !watch.present.has(before) && watch.present.has(after), 'the rename');
        expect(last(watch, before)).toBe('removed');
        expect(last(watch, after)).toBe('added');
      });

      it('reports every file of a 500-file burst', async () => {
        mkdirSync(env.at('burst'));
        const watch = await open();
        const files = Array.from({ length: 500 }, (_, i) => env.write(`burst/f${i}.ts`));
        await watch.until(() => files.every((file) => watch.present.has(file)), 'all 500 files');
      });

      it('ends a 300-file checkout-like burst in the right state', async () => {
        const checkout = prepareCheckout(env);
        const watch = await open();
        const started = performance.now();
        checkout.run();
        await watch.until(
          () =>
            checkout.expected.every((file) => watch.present.has(file)) &&
            checkout.deleted.every((f) => !watch.present.has(f)),
          'the checked-out state',
        );
        for (const file of checkout.modified) {
          expect(watch.history(file).some((m) => m.at >= started && m.kind !== 'removed')).toBe(true);
        }
      });

      it('watches a folder deleted and re-created with no gap', async () => {
        const gone = [env.write('lib/a/b/x.ts'), env.write('lib/a/b/y.ts')];
        const watch = await open();
        rmSync(env.at('lib'), { recursive: true });
        const back = env.write('lib/a/b/z.ts');
        await watch.until(() => watch.present.has(back) && gone.every((f) => !watch.present.has(f)), 'the new folder');
        const later = env.write('lib/a/b/w.ts');
        writeFileSync(back, 'edited');
        await watch.until(() => watch.present.has(later) && last(watch, back) === 'changed', 'changes inside it');
      });

      it('watches a new nested folder, including what was written in it at once', async () => {
        const watch = await open();
        const first = env.write('n/b/c/x.ts');
        await watch.until(() => watch.present.has(first), 'the file in the new folder');
        const later = env.write('n/b/c/y.ts');
        writeFileSync(first, 'edited');
        await watch.until(() => watch.present.has(later) && last(watch, first) === 'changed', 'changes inside it');
      });

      it('delivers the final content of a file still being written', async () => {
        const watch = await open();
        const file = env.at('tools/slow.ts');
        mkdirSync(path.dirname(file));
        const fd = openSync(file, 'w');
        writeSync(fd, 'export const part1 = 1;\n');
        await watch.until(() => mentioned(watch, file), 'the half-written file');
        writeSync(fd, 'export const part2 = 2;\n');
        writeSync(fd, 'export const part3 = 3;\n');
        closeSync(fd);
        const done = performance.now();
        const final = readFileSync(file, 'utf8');
        let seen: string | undefined;
        await watch.until(() => {
          if (!watch.history(file).some((m) => m.at >= done)) return false;
          seen ??= readFileSync(file, 'utf8');
          return true;
        }, 'a batch after the last write');
        expect(seen).toBe(final);
        expect(watch.present.has(file)).toBe(true);
      });

      it('reports a same-size edit whose mtime was restored as changed', async () => {
        const file = env.write('tools/a.ts', 'aaaa');
        const seconds = Math.floor(Date.now() / 1000) - 60;
        utimesSync(file, seconds, seconds);
        const before = statSync(file);
        const watch = await open();
        await untilClockPasses(env.dir, before.ctimeMs, timeoutMs);
        writeFileSync(file, 'bbbb');
        utimesSync(file, seconds, seconds);
        const after = statSync(file);
        expect([after.size, after.mtimeMs, after.ino]).toEqual([before.size, before.mtimeMs, before.ino]);
        await watch.until(() => last(watch, file) === 'changed', 'the same-size edit');
      });

      it('never emits a symlink to a file outside the root, and reports it as HOTMCP_ERR_OUTSIDE_ROOT', async () => {
        const target = path.join(env.outside, 'secret.ts');
        writeFileSync(target, 'secret');
        mkdirSync(env.at('tools'));
        const early = env.at('tools/early.ts');
        symlinkSync(target, early);
        const watch = await open();
        expect(watch.baseline).not.toContain(early);
        const late = env.at('tools/late.ts');
        symlinkSync(target, late);
        writeFileSync(target, 'edited secret');
        await watch.sentinel();
        expect(watch.history(early)).toEqual([]);
        expect(watch.history(late)).toEqual([]);
        const refused = (file: string) =>
          watch.errors.some(
            (error) =>
              isHotMcpError(error) &&
              error.code === 'HOTMCP_ERR_OUTSIDE_ROOT' &&
              error.details?.path === file &&
              error.details?.target === target,
          );
        await watch.until(() => refused(early) && refused(late), 'both links reported as outside the root');
      });

      it('never emits files in excluded folders, dot-folders or not selected by the globs', async () => {
        const ignored = () => [
          env.write(`node_modules/pkg/i${sentinels}.ts`),
          env.write(`tools/node_modules/i${sentinels}.ts`),
          env.write(`.git/i${sentinels}.ts`),
          env.write(`dist/i${sentinels}.ts`),
          env.write(`tools/dist/i${sentinels}.ts`),
          env.write(`private/i${sentinels}.ts`),
          env.write(`.cache/i${sentinels}.ts`),
          env.write(`tools/i${sentinels}.test.ts`),
          env.write(`tools/i${sentinels}.js`),
        ];
        const early = ignored();
        const watch = await open();
        expect(watch.baseline).toEqual([]);
        const late = ignored();
        for (const file of early) writeFileSync(file, 'edited');
        await watch.sentinel();
        for (const file of [...early, ...late]) expect(watch.history(file)).toEqual([]);
      });

      it('lists the selected files with rescan(), each with the stamp stamp() gives, and no others', async () => {
        const target = path.join(env.outside, 'secret.ts');
        writeFileSync(target, 'secret');
        const files = [env.write('index.ts'), env.write('tools/a.ts'), env.write('tools/deep/b.ts')];
        env.write('node_modules/pkg/x.ts');
        env.write('private/y.ts');
        env.write('tools/a.test.ts');
        mkdirSync(env.at('tools/linked'));
        symlinkSync(target, env.at('tools/linked/out.ts'));
        const watch = await open();
        const late = env.write('tools/late.ts'); // listed whether or not it was reported yet
        const listing = watch.source.rescan();
        expect([...listing.files.keys()].sort()).toEqual([...files, late].sort());
        expect(listing.unreadable).toEqual([]);
        for (const [file, stamp] of listing.files) {
          expect(stamp).not.toBe('');
          expect(sameMetadata(watch.source.stamp(file), stamp), file).toBe(true);
        }
        expect(watch.source.stamp(env.at('tools/none.ts'))).toBe('');
        expect(watch.source.stamp(env.at('tools'))).toBe('');
        const before = watch.source.stamp(files[1] as string);
        await untilClockPasses(env.dir, statSync(files[1] as string).ctimeMs, timeoutMs);
        writeFileSync(files[1] as string, 'edited');
        expect(watch.source.stamp(files[1] as string)).not.toBe(before);
      });

      it('reports the root deleted, and watches it again when it is back', async () => {
        const old = env.write('tools/a.ts');
        const watch = await open();
        rmSync(env.root, { recursive: true });
        await watch.until(() => watch.errors.length > 0, 'the error reporting the missing root');
        const back = env.write('tools/b.ts');
        await watch.until(() => watch.present.has(back) && !watch.present.has(old), 'the root watched again');
        const later = env.write('tools/c.ts');
        await watch.until(() => watch.present.has(later), 'a file created after');
      });

      it('releases every handle on stop() and emits nothing after', async () => {
        const before = resources();
        const watch = await open();
        const file = env.write('tools/a.ts');
        await watch.until(() => mentioned(watch, file), 'the first file');
        await watch.source.stop();
        await waitUntil(() => fewerOrEqual(resources(), before), {
          timeoutMs,
          what: () => `handles to be released: before ${JSON.stringify(before)}, now ${JSON.stringify(resources())}`,
        });
        const emitted = watch.batches.length;
        // A second source on the same root shows that changes were made and seen.
        const witness = await open();
        const after = env.write('tools/after.ts');
        await witness.until(() => witness.present.has(after), 'the witness');
        expect(watch.batches.length).toBe(emitted);
      });

      if (options.child) {
        const child = options.child;
        it('lets the process exit by itself after stop() (checked in a child process)', async () => {
          const result = await runChild(
            { ...child, root: env.root, coalesce: coalesced ? (options.coalesce ?? {}) : undefined, timeoutMs },
            'exit',
            timeoutMs,
          );
          expect({ code: result.code, timedOut: result.timedOut, stderr: result.stderr }).toEqual({
            code: 0,
            timedOut: false,
            stderr: '',
          });
          expect(result.stdout).toContain('stopped');
        });
      }

      describe('an unreadable folder', () => {
        const reason = permissionSkip(isRoot, options.child);
        it.skipIf(reason !== undefined)(
          `is reported and skipped, and watching goes on${reason ?? (isRoot ? ' (in a child process as nobody: root reads everything)' : '')}`,
          async () => {
            if (isRoot && options.child) {
              dropToNobody(env);
              const result = await runChild(
                {
                  ...options.child,
                  root: env.root,
                  coalesce: coalesced ? (options.coalesce ?? {}) : undefined,
                  timeoutMs,
                  uid: NOBODY,
                },
                'unreadable-folder',
                timeoutMs,
              );
              expect({ code: result.code, timedOut: result.timedOut, stderr: result.stderr }).toEqual({
                code: 0,
                timedOut: false,
                stderr: '',
              });
              expect(result.stdout).toContain('ok');
              return;
            }
            const locked = env.write('locked/a.ts');
            const other = env.write('open/b.ts');
            const watch = await open();
            chmodSync(env.at('locked'), 0);
            try {
              writeFileSync(other, 'edited');
              await watch.until(
                () =>
                  last(watch, other) === 'changed' && watch.errors.some((e) => e.message.includes(env.at('locked'))),
                'the edit elsewhere and the error',
              );
              const added = env.write('open/c.ts');
              await watch.until(() => watch.present.has(added), 'a new file elsewhere');
              expect(watch.present.has(locked)).toBe(true);
              const listing = watch.source.rescan();
              expect(listing.unreadable).toEqual([env.at('locked')]);
              expect([...listing.files.keys()].sort()).toEqual([other, added]);
            } finally {
              chmodSync(env.at('locked'), 0o755);
            }
          },
        );
      });

      if (!coalesced) return;

      it('delivers a lone edit as exactly one batch', async () => {
        const file = env.write('tools/a.ts', 'one');
        const watch = await open();
        writeFileSync(file, 'two');
        await watch.until(() => mentioned(watch, file), 'the edit');
        await watch.sentinel();
        expect(watch.batches.filter((b) => b.changed.includes(file)).map(strip)).toEqual([
          { added: [], changed: [file], removed: [] },
        ]);
        expect(watch.history(file)).toHaveLength(1);
      });

      it('delivers an atomic save as exactly one batch with the file changed', async () => {
        const file = env.write('tools/a.ts', 'old');
        const watch = await open();
        renameSync(env.write('tools/.a.ts.tmp', 'new'), file);
        await watch.until(() => mentioned(watch, file), 'the save');
        await watch.sentinel();
        expect(watch.history(file).map((m) => m.kind)).toEqual(['changed']);
      });

      it('delivers a 500-file burst in at most two batches, each file added once', async () => {
        mkdirSync(env.at('burst'));
        const watch = await open();
        const files = Array.from({ length: 500 }, (_, i) => env.write(`burst/f${i}.ts`));
        await watch.until(() => files.every((file) => watch.present.has(file)), 'all 500 files');
        await watch.sentinel();
        const batches = watch.batches.filter((b) => b.added.some((f) => f.startsWith(env.at('burst'))));
        expect(batches.length).toBeLessThanOrEqual(2);
        for (const file of files) expect(watch.history(file).map((m) => m.kind)).toEqual(['added']);
      });

      it('delivers a 300-file checkout in at most two batches, rewritten files changed once', async () => {
        const checkout = prepareCheckout(env);
        const watch = await open();
        checkout.run();
        await watch.until(
          () =>
            checkout.expected.every((f) => watch.present.has(f)) &&
            checkout.deleted.every((f) => !watch.present.has(f)),
          'the checked-out state',
        );
        await watch.sentinel();
        const touched = new Set([...checkout.expected, ...checkout.deleted]);
        const batches = watch.batches.filter((b) =>
          [...b.added, ...b.changed, ...b.removed].some((f) => touched.has(f)),
        );
        expect(batches.length).toBeLessThanOrEqual(2);
        for (const file of checkout.modified) expect(watch.history(file).map((m) => m.kind)).toEqual(['changed']);
        for (const file of checkout.deleted) expect(watch.history(file).map((m) => m.kind)).toEqual(['removed']);
      });

      it('delivers a 300-file folder deleted at once in at most two batches, each file removed once', async () => {
        const files = Array.from({ length: 300 }, (_, i) => env.write(`bulk/t${i}.ts`));
        const watch = await open();
        rmSync(env.at('bulk'), { recursive: true, force: true });
        await watch.until(() => files.every((file) => !watch.present.has(file)), 'all 300 files removed');
        await watch.sentinel();
        const batches = watch.batches.filter((b) => b.removed.some((f) => f.startsWith(env.at('bulk'))));
        expect(batches.length).toBeLessThanOrEqual(2);
        for (const file of files) expect(watch.history(file).map((m) => m.kind)).toEqual(['removed']);
      });

      it('reports a file deleted and re-created as changed, and one created and deleted not at all', async () => {
        const file = env.write('tools/a.ts', 'before');
        const watch = await open();
        unlinkSync(file);
        writeFileSync(file, 'after');
        const fleeting = env.write('tools/fleeting.ts');
        unlinkSync(fleeting);
        await watch.until(() => mentioned(watch, file), 'the re-created file');
        await watch.sentinel();
        expect(watch.history(file).map((m) => m.kind)).toEqual(['changed']);
        expect(watch.history(fleeting)).toEqual([]);
      });

      it('emits nothing for a rewrite with the same bytes or a touch', async () => {
        const file = env.write('tools/a.ts', 'same');
        const touched = env.write('tools/b.ts', 'b');
        const watch = await open({ sameContentGuardMs: 0 });
        writeFileSync(file, 'same');
        const now = new Date();
        utimesSync(touched, now, now);
        await watch.sentinel();
        expect(watch.history(file)).toEqual([]);
        expect(watch.history(touched)).toEqual([]);
      });

      const reason = permissionSkip(isRoot, options.child);
      it.skipIf(reason !== undefined)(
        `reports an unreadable file, and delivers it once it can be read${reason ?? (isRoot ? ' (in a child process as nobody: root reads everything)' : '')}`,
        async () => {
          if (isRoot && options.child) {
            dropToNobody(env);
            const result = await runChild(
              { ...options.child, root: env.root, coalesce: options.coalesce ?? {}, timeoutMs, uid: NOBODY },
              'unreadable-file',
              timeoutMs,
            );
            expect({ code: result.code, timedOut: result.timedOut, stderr: result.stderr }).toEqual({
              code: 0,
              timedOut: false,
              stderr: '',
            });
            expect(result.stdout).toContain('ok');
            return;
          }
          const file = env.write('tools/c.ts', 'one');
          const watch = await open();
          writeFileSync(file, 'two');
          chmodSync(file, 0);
          await watch.until(() => watch.errors.some((e) => e.message.includes(file)), 'the error');
          chmodSync(file, 0o644);
          await watch.until(() => mentioned(watch, file), 'the readable file');
          expect(watch.history(file).map((m) => m.kind)).toEqual(['changed']);
        },
      );
    });
  }
}

/** 300 files in `src/`; `run()` rewrites 100 (new inode, like git), deletes 100 and adds 100 (half in new folders). */
function prepareCheckout(env: Env) {
  const existing = Array.from({ length: 300 }, (_, i) =>
    env.write(`src/m${i % 10}/f${i}.ts`, `export const v = ${i};\n`),
  );
  const modified = existing.slice(0, 100);
  const deleted = existing.slice(100, 200);
  const kept = existing.slice(200);
  const created = Array.from({ length: 100 }, (_, i) =>
    env.at(i < 50 ? `src/m${i % 10}/g${i}.ts` : `src/new${i % 5}/deep/g${i}.ts`),
  );
  return {
    modified,
    deleted,
    expected: [...modified, ...kept, ...created],
    run() {
      for (const file of modified) {
        unlinkSync(file);
        writeFileSync(file, `export const v = 'checked out';\n`);
      }
      for (const file of deleted) unlinkSync(file);
      for (const file of created) {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, 'export const created = true;\n');
      }
    },
  };
}

async function startWatch(source: ChangeSource, timeoutMs: number, writeSentinel: () => string): Promise<Watch> {
  const batches: Watch['batches'] = [];
  const errors: Error[] = [];
  const histories = new Map<string, Mention[]>();
  const present = new Set<string>();
  const baseline = await source.start(
    (batch) => {
      const at = performance.now();
      batches.push({ ...batch, at });
      for (const kind of ['removed', 'added', 'changed'] as const) {
        for (const file of batch[kind]) {
          if (kind === 'removed') present.delete(file);
          else present.add(file);
          const history = histories.get(file) ?? [];
          history.push({ kind, at });
          histories.set(file, history);
        }
      }
    },
    (error) => {
      errors.push(error);
    },
  );
  for (const file of baseline) present.add(file);

  const watch: Watch = {
    source,
    baseline,
    batches,
    errors,
    present,
    history: (file) => histories.get(file) ?? [],
    until(condition, what) {
      return waitUntil(condition, {
        timeoutMs,
        what: () =>
          `${what}; last batches ${JSON.stringify(batches.slice(-5).map(strip)).slice(0, 2000)}; errors ${errors.map((e) => e.message).join(' | ')}`,
      });
    },
    async sentinel() {
      const file = writeSentinel();
      await watch.until(() => present.has(file), `the sentinel ${path.basename(file)}`);
      return file;
    },
  };
  return watch;
}

function strip(batch: ChangeBatch): ChangeBatch {
  return { added: batch.added, changed: batch.changed, removed: batch.removed };
}

/**
 * Wait until the filesystem clock has moved past `ctimeMs`, so an edit made
 * now gets a different ctime (file times tick every few ms).
 */
async function untilClockPasses(dir: string, ctimeMs: number, timeoutMs: number): Promise<void> {
  const probe = path.join(dir, 'clock-probe');
  await waitUntil(
    () => {
      writeFileSync(probe, '');
      return statSync(probe).ctimeMs > ctimeMs;
    },
    { timeoutMs, what: 'the filesystem clock to move' },
  );
}

function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

function fewerOrEqual(now: Record<string, number>, before: Record<string, number>): boolean {
  return Object.entries(now).every(([type, count]) => count <= (before[type] ?? 0));
}

function permissionSkip(isRoot: boolean, child: ChangeSourceConformanceOptions['child']): string | undefined {
  if (!isRoot) return undefined;
  if (!child) return ' (skipped: running as root, which reads everything, and no child module given)';
  if (!readableByOthers(child.module)) {
    return ' (skipped: running as root, which reads everything, and the child module is not readable by an unprivileged user)';
  }
  return undefined;
}

/** Can an unprivileged user read `module`: every folder above it searchable and the file readable by others? */
function readableByOthers(module: string): boolean {
  try {
    const file = module.startsWith('file:') ? fileURLToPath(module) : path.resolve(module);
    if ((statSync(file).mode & 0o004) === 0) return false;
    for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0) return false;
      if (path.dirname(dir) === dir) return true;
    }
  } catch {
    return false;
  }
}

/** Let the unprivileged child own the test folders. */
function dropToNobody(env: Env): void {
  chmodSync(env.dir, 0o755);
  for (const dir of [env.dir, env.root, env.outside]) chownSync(dir, NOBODY, NOBODY);
}

interface ChildInput {
  module: string;
  exportName: string;
  options?: Record<string, unknown>;
  root: string;
  coalesce: CoalesceTimings | undefined;
  timeoutMs: number;
  uid?: number;
}

interface ChildResult {
  code: number | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

/** Run a scenario of {@link CHILD_SCRIPT} in a fresh node process and wait, bounded, for it to exit by itself. */
function runChild(input: ChildInput, scenario: string, timeoutMs: number): Promise<ChildResult> {
  const core = new URL('../index.js', import.meta.url).href;
  const module = input.module.startsWith('file:') ? input.module : new URL(`file://${path.resolve(input.module)}`).href;
  const payload = JSON.stringify({ ...input, module, core, scenario, sentinelTimeoutMs: timeoutMs });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD_SCRIPT, payload], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: os.tmpdir(),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs * 3);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, timedOut, stdout, stderr });
    });
  });
}

/**
 * The child process: makes the source from the given module (optionally
 * wrapped in the coalescer), optionally as another user, and runs one
 * scenario. It never calls process.exit: after `stop()` it must end by itself.
 */
const CHILD_SCRIPT = `
import fs from 'node:fs';
import path from 'node:path';
const input = JSON.parse(process.argv[1]);
if (input.uid !== undefined) { process.setgid(input.uid); process.setuid(input.uid); }
const make = (await import(input.module))[input.exportName];
const root = input.root;
let source = make({ root, include: ['**/*.ts'], exclude: [], ...input.options });
if (input.coalesce) source = (await import(input.core)).createCoalescingChangeSource(source, { ...input.coalesce, root });
const at = (relative) => path.join(root, relative);
const write = (relative, content = 'x' + Math.random()) => {
  fs.mkdirSync(path.dirname(at(relative)), { recursive: true });
  fs.writeFileSync(at(relative), content);
  return at(relative);
};
const seen = new Map();
const errors = [];
let wake = () => {};
const until = async (condition, what) => {
  const deadline = Date.now() + input.timeoutMs;
  while (!condition()) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error('timed out waiting for ' + what + '; errors: ' + errors.join(' | ') + '; seen: ' + JSON.stringify([...seen]));
    await new Promise((resolve) => { const t = setTimeout(resolve, remaining); wake = () => { clearTimeout(t); resolve(); }; });
  }
};
const last = (file) => (seen.get(file) ?? []).at(-1);
const scenarios = {
  async exit() {
    await source.start((batch) => { for (const k of ['added', 'changed', 'removed']) for (const f of batch[k]) seen.set(f, [...(seen.get(f) ?? []), k]); wake(); }, (e) => { errors.push(e.message); wake(); });
    const file = write('tools/a.ts');
    await until(() => seen.has(file), 'the new file');
    await source.stop();
    process.stdout.write('stopped');
  },
  async 'unreadable-folder'() {
    const locked = write('locked/a.ts');
    const other = write('open/b.ts');
    const files = await source.start((batch) => { for (const k of ['added', 'changed', 'removed']) for (const f of batch[k]) seen.set(f, [...(seen.get(f) ?? []), k]); wake(); }, (e) => { errors.push(e.message); wake(); });
    if (!files.includes(locked)) throw new Error('baseline lacks ' + locked);
    fs.chmodSync(at('locked'), 0);
    fs.writeFileSync(other, 'edited');
    await until(() => last(other) === 'changed' && errors.some((m) => m.includes(at('locked'))), 'the edit elsewhere and the error');
    const added = write('open/c.ts');
    await until(() => last(added) === 'added', 'a new file elsewhere');
    if ((seen.get(locked) ?? []).includes('removed')) throw new Error('the unreadable folder was reported removed');
    const listing = source.rescan();
    if (JSON.stringify(listing.unreadable) !== JSON.stringify([at('locked')])) throw new Error('rescan() did not list the unreadable folder: ' + JSON.stringify(listing.unreadable));
    if (JSON.stringify([...listing.files.keys()].sort()) !== JSON.stringify([other, added])) throw new Error('rescan() listed ' + JSON.stringify([...listing.files.keys()]));
    fs.chmodSync(at('locked'), 0o755);
    fs.writeFileSync(locked, 'edited after');
    await until(() => last(locked) === 'changed', 'the folder readable again');
    await source.stop();
    process.stdout.write('ok ' + JSON.stringify(errors));
  },
  async 'unreadable-file'() {
    const file = write('tools/c.ts', 'one');
    await source.start((batch) => { for (const k of ['added', 'changed', 'removed']) for (const f of batch[k]) seen.set(f, [...(seen.get(f) ?? []), k]); wake(); }, (e) => { errors.push(e.message); wake(); });
    fs.writeFileSync(file, 'two');
    fs.chmodSync(file, 0);
    await until(() => errors.some((m) => m.includes(file)), 'the error');
    if (seen.has(file)) throw new Error('the unreadable file was delivered: ' + JSON.stringify(seen.get(file)));
    fs.chmodSync(file, 0o644);
    await until(() => seen.has(file), 'the readable file');
    if (JSON.stringify(seen.get(file)) !== '["changed"]') throw new Error('expected one change, got ' + JSON.stringify(seen.get(file)));
    await source.stop();
    process.stdout.write('ok ' + JSON.stringify(errors));
  },
};
try {
  await scenarios[input.scenario]();
} catch (error) {
  process.stderr.write(String(error?.stack ?? error));
  process.exitCode = 1;
  await source.stop();
}
`;
