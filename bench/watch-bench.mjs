// Benchmark: native (OS events) against polling, both behind core's coalescer
// as createReloader uses them.
//
//   pnpm bench:watchers   (= pnpm build && node bench/watch-bench.mjs; about 2.5 minutes)
//
// 1. detection latency: write a file → batch delivered by the coalesced source
//    (and by the raw source under it), edits spaced out so each starts after quiet,
//    and back to back (the next edit as soon as the previous one was delivered);
// 2. idle CPU and memory with 1,000 and 10,000 files (each in a fresh process);
// 3. batches produced by a 300-file checkout-like change made by another process;
// 4. list_changed notifications the example server sends for 300 new tool files
//    and for a checkout rewriting them, over real stdio;
// 5. scan cost: core's scan (`scanFiles`: what the native watcher and
//    rescans use; the poll watcher walks with the same `walkFiles`) against
//    the hand-written scanner it replaced, kept below as the baseline, in the same
//    run, with 1,000 and 10,000 files (`node bench/watch-bench.mjs --scan` runs
//    this part alone).
// Prints markdown tables; writes bench/results/watch-bench.json.
import { execFileSync, spawn } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCoalescingChangeSource } from '../packages/core/dist/index.js';
import { createPathFilter, fileStamp, isInside, scanFiles } from '../packages/core/dist/watching/index.js';
import { createNativeChangeSource } from '../packages/watcher-native/dist/index.js';
import { createPollChangeSource } from '../packages/watcher-poll/dist/index.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const KINDS = ['native', 'poll'];
const SELECT = { include: ['**/*.ts'], exclude: [] };

function makeSource(kind, root) {
  const options = { root, ...SELECT };
  return kind === 'native' ? createNativeChangeSource(options) : createPollChangeSource(options);
}

/** A tree of `count` files in folders of 100 under a fresh temp root. */
function makeTree(count, prefix = 'hotmcp-watch-bench-') {
  const root = realpathSync(mkdtempSync(path.join(tmpdir(), prefix)));
  for (let i = 0; i < count; i++) {
    const dir = path.join(root, `d${Math.floor(i / 100)}`);
    if (i % 100 === 0) mkdirSync(dir);
    writeFileSync(path.join(dir, `f${i}.ts`), `export const v${i} = ${i};\n`);
  }
  return root;
}

/** The coalesced source, with the raw source's deliveries timestamped on the way up. */
async function watch(kind, root) {
  const raw = makeSource(kind, root);
  const rawBatches = [];
  const tapped = {
    start: (onBatch, onError) =>
      raw.start((batch) => {
        rawBatches.push({ ...batch, at: performance.now() });
        onBatch(batch);
      }, onError),
    stop: () => raw.stop(),
    rescan: () => raw.rescan(),
    stamp: (file) => raw.stamp(file),
  };
  const source = createCoalescingChangeSource(tapped, { root });
  const batches = [];
  const waiters = new Set();
  await source.start(
    (batch) => {
      batches.push({ ...batch, at: performance.now() });
      for (const waiter of waiters) waiter();
    },
    () => {},
  );
  const until = (condition, timeoutMs = 15_000) =>
    new Promise((resolve, reject) => {
      if (condition()) return resolve();
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${kind}: timed out`));
      }, timeoutMs);
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
    });
  return { raw, source, batches, rawBatches, until };
}

const mentions = (batch, file) =>
  batch.added.includes(file) || batch.changed.includes(file) || batch.removed.includes(file);

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) };
}

// ---------------------------------------------------------------- 1. latency

/** Edit `count` files one at a time, `gapMs` after the previous one was delivered (0: back to back). */
async function latency(kind, { files: size, count, gapMs, pick }) {
  const root = makeTree(size);
  const w = await watch(kind, root);
  const coalesced = [];
  const raw = [];
  await sleep(Math.max(gapMs, 600)); // start after a quiet period
  for (let i = 0; i < count; i++) {
    const n = pick(i, size);
    const file = path.join(root, `d${Math.floor(n / 100)}`, `f${n}.ts`);
    const seen = w.batches.length;
    const seenRaw = w.rawBatches.length;
    const started = performance.now();
    writeFileSync(file, `export const v${n} = ${i} + ${Math.random()};\n`);
    await w.until(() => w.batches.slice(seen).some((b) => mentions(b, file)));
    coalesced.push(w.batches.slice(seen).find((b) => mentions(b, file)).at - started);
    const first = w.rawBatches.slice(seenRaw).find((b) => mentions(b, file));
    if (first) raw.push(first.at - started);
    if (gapMs > 0) await sleep(gapMs);
  }
  await w.source.stop();
  rmSync(root, { recursive: true, force: true });
  return { coalesced: stats(coalesced), raw: stats(raw) };
}

// ------------------------------------------------------- 2. idle CPU, memory

/** Runs in a child process: start one coalesced source on `root`, then sit idle. */
async function idleChild(kind, root) {
  const idleMs = 3000;
  global.gc?.();
  const m0 = process.memoryUsage();
  const t0 = performance.now();
  const raw = makeSource(kind, root);
  const source = createCoalescingChangeSource(raw, { root });
  const files = await source.start(
    () => {},
    () => {},
  );
  const startMs = performance.now() - t0;
  await sleep(500);
  global.gc?.();
  const m1 = process.memoryUsage();
  const c1 = process.cpuUsage();
  const t1 = performance.now();
  await sleep(idleMs);
  const c2 = process.cpuUsage(c1);
  const wall = performance.now() - t1;
  await source.stop();
  process.stdout.write(
    JSON.stringify({
      files: files.length,
      startMs,
      cpuPercent: ((c2.user + c2.system) / 1000 / wall) * 100,
      rssMB: (m1.rss - m0.rss) / 2 ** 20,
      heapMB: (m1.heapUsed - m0.heapUsed) / 2 ** 20,
      ...(kind === 'poll' && { intervalMs: raw.intervalMs }),
    }),
  );
}

function idle(kind, root) {
  const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--idle', kind, root], {
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

// --------------------------------------------------- 3. checkout-like change

/** Runs in a child process, like git: rewrite 100 files (new inode), delete 100, add 100 (50 in new folders). */
function checkoutChild(root, round) {
  process.stdout.write(String(performance.timeOrigin + performance.now()));
  const src = path.join(root, 'src');
  for (let i = 0; i < 100; i++) {
    const file = path.join(src, `m${i % 10}`, `f${i}.ts`);
    rmSync(file);
    writeFileSync(file, `export const v = 'round ${round}';\n`);
  }
  for (let i = 100; i < 200; i++) rmSync(path.join(src, `m${i % 10}`, `f${i}.ts`), { force: true });
  for (let i = 0; i < 100; i++) {
    const dir = i < 50 ? path.join(src, `m${i % 10}`) : path.join(src, `r${round}-new${i % 5}`, 'deep');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `g${round}-${i}.ts`), 'export const created = true;\n');
  }
}

function prepareCheckout(root) {
  rmSync(path.join(root, 'src'), { recursive: true, force: true });
  for (let i = 0; i < 300; i++) {
    const dir = path.join(root, 'src', `m${i % 10}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `f${i}.ts`), `export const v = ${i};\n`);
  }
}

async function checkout(kind, rounds) {
  const root = makeTree(1000);
  const results = [];
  for (let round = 0; round < rounds; round++) {
    prepareCheckout(root);
    const w = await watch(kind, root);
    await sleep(700);
    let startedAt = '';
    await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--checkout', root, String(round)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      child.stdout.on('data', (chunk) => {
        startedAt += chunk;
      });
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`checkout exited ${code}`))));
    });
    // The writer's first write, on this process's clock.
    const started = Number(startedAt) - performance.timeOrigin;
    const touched = (b) => b.added.length + b.changed.length + b.removed.length;
    const total = () => w.batches.reduce((sum, b) => sum + touched(b), 0);
    await w.until(() => total() >= 300);
    const doneMs = w.batches.at(-1).at - started;
    await sleep(1500); // stragglers
    results.push({
      batches: w.batches.length,
      rawDeliveries: w.rawBatches.length,
      files: total(),
      doneMs,
    });
    await w.source.stop();
  }
  rmSync(root, { recursive: true, force: true });
  return results;
}

// ------------------------------------------------ 4. the real server's list_changed

const toolSource = (n, reply) => `import { defineTool } from '@hotmcp/core';
import { z } from 'zod';

export default defineTool({
  name: 'bulk_${n}',
  description: 'Bulk tool ${n}, answering ${reply.trim()}',
  inputSchema: { text: z.string() },
  handler: async ({ text }) => ({ content: [{ type: 'text', text: ${JSON.stringify(reply)} + text }] }),
});
`;

/** Runs in a child process: write the 300 tool files as fast as possible. */
function toolsChild(dir, reply) {
  mkdirSync(path.join(dir, 'bulk'), { recursive: true });
  for (let n = 0; n < 300; n++) writeFileSync(path.join(dir, 'bulk', `t${n}.ts`), toolSource(n, reply));
}

async function server(kind) {
  const { connect, createSandbox } = await import('../examples/sdk-v1-server/dist/harness.js');
  const sandbox = await createSandbox();
  try {
    const session = await connect(sandbox, { HOTMCP_WATCHER: kind });
    const rounds = [];
    for (const reply of ['v1 ', 'v2 ']) {
      const seen = session.listChanged();
      const started = performance.now();
      execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--tools', sandbox.toolsDir, reply]);
      // Every tool answers with the new reply: every file was applied.
      for (;;) {
        const { tools } = await session.client.listTools();
        const bulk = tools.filter((tool) => tool.name.startsWith('bulk_'));
        if (bulk.length === 300) {
          const result = await session.client.callTool({ name: 'bulk_299', arguments: { text: 'x' } });
          const first = await session.client.callTool({ name: 'bulk_0', arguments: { text: 'x' } });
          if (result.content[0].text === `${reply}x` && first.content[0].text === `${reply}x`) break;
        }
        if (performance.now() - started > 60_000) throw new Error(`${kind}: the server did not apply the tools`);
        await sleep(20);
      }
      const appliedMs = performance.now() - started;
      await sleep(1500); // stragglers
      rounds.push({ listChanged: session.listChanged() - seen, appliedMs });
    }
    const audit = readFileSync(sandbox.auditLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    const watcher = audit.find((e) => e.event === 'watcher.started')?.watcher;
    const batches = audit.filter((e) => e.event === 'batch.applied').length;
    await session.close();
    return { watcher, rounds, batchesApplied: batches };
  } finally {
    await sandbox.cleanup();
  }
}

// ---------------------------------------------------------------- main

// ---------------------------------------------------------------- 5. scan cost

/**
 * The baseline: the first hand-written scanner of core (its `scanFiles` up
 * to 0.x, before fast-glob and the walk that replaced it), kept as it was:
 * readdir with file types, one stat per entered folder and per selected file,
 * and an lstat per selected file.
 */
function handWrittenScan(filter, dir = filter.root) {
  const scan = { files: new Map(), dirs: new Map() };
  const top = statSync(dir, { throwIfNoEntry: false });
  if (!top?.isDirectory()) throw new Error(`cannot scan ${dir}`);
  scan.dirs.set(dir, top.ino);
  const folders = [dir];
  for (let folder = folders.pop(); folder !== undefined; folder = folders.pop()) {
    let entries;
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) {
        if (!filter.enters(full)) continue;
        const stats = statSync(full, { throwIfNoEntry: false });
        if (!stats?.isDirectory()) continue;
        scan.dirs.set(full, stats.ino);
        folders.push(full);
      } else if ((entry.isFile() || entry.isSymbolicLink()) && filter.includes(full)) {
        try {
          const link = entry.isSymbolicLink() || lstatSync(full).isSymbolicLink();
          if (link && !isInside(filter.root, realpathSync(full))) continue;
          const stats = statSync(full);
          if (stats.isFile()) scan.files.set(full, fileStamp(stats));
        } catch {}
      }
    }
  }
  return scan;
}

/** Median time of each scanner over `rounds` alternating rounds on one tree, and the files each found. */
function scanCost(size, rounds) {
  const root = makeTree(size, 'hotmcp-scan-bench-');
  // A few files the globs leave out, as real trees have.
  for (let d = 0; d * 100 < size; d++) writeFileSync(path.join(root, `d${d}`, 'notes.md'), 'x');
  const filter = createPathFilter({ root, ...SELECT });
  const scanners = {
    'hand-written (baseline)': () => handWrittenScan(filter).files.size,
    'scanFiles (readdir walk)': () => scanFiles(filter).files.size,
  };
  const times = Object.fromEntries(Object.keys(scanners).map((name) => [name, []]));
  const found = {};
  for (let round = 0; round < rounds + 2; round++) {
    for (const [name, scan] of Object.entries(scanners)) {
      const started = performance.now();
      found[name] = scan();
      if (round >= 2) times[name].push(performance.now() - started); // two warm-up rounds
    }
  }
  rmSync(root, { recursive: true, force: true });
  const base = stats(times['hand-written (baseline)']).p50;
  return Object.fromEntries(
    Object.entries(times).map(([name, samples]) => {
      const { p50 } = stats(samples);
      return [name, { files: found[name], p50, ratio: p50 / base }];
    }),
  );
}

function scanSection() {
  const load = loadavg()
    .map((value) => value.toFixed(2))
    .join(', ');
  const rows = { 1000: scanCost(1000, 30), 10000: scanCost(10_000, 10) };
  const lines = [
    `Scan cost, median of alternating rounds; load average before: ${load} (${cpus().length} cores).`,
    '',
    '| files | scanner | files found | median | ratio to baseline |',
    '| --- | --- | --- | --- | --- |',
    ...Object.entries(rows).flatMap(([size, scanners]) =>
      Object.entries(scanners).map(
        ([name, r]) =>
          `| ${Number(size).toLocaleString('en')} | ${name} | ${r.files} | ${r.p50.toFixed(1)} ms | ${r.ratio.toFixed(2)} |`,
      ),
    ),
  ];
  return { rows, load, lines };
}

async function main() {
  const began = performance.now();
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, Node ${process.version}, ${process.platform}`;
  const random = (i, size) => (i * 7919 + 13) % size;
  const log = (line) => process.stderr.write(`${line}\n`);

  log('latency…');
  const latencyRows = {
    'native, 1,000 files, edits 600 ms apart (after quiet)': await latency('native', {
      files: 1000,
      count: 30,
      gapMs: 600,
      pick: random,
    }),
    'native, 1,000 files, edits 150 ms apart': await latency('native', {
      files: 1000,
      count: 30,
      gapMs: 150,
      pick: random,
    }),
    // Back to back: the next edit as soon as the previous one was delivered.
    'native, 1,000 files, back-to-back edits of one file': await latency('native', {
      files: 1000,
      count: 30,
      gapMs: 0,
      pick: () => 500,
    }),
    'native, 1,000 files, back-to-back edits of 3 files in turn': await latency('native', {
      files: 1000,
      count: 30,
      gapMs: 0,
      pick: (i) => 500 + (i % 3),
    }),
    'poll, 1,000 files, a different file each time': await latency('poll', {
      files: 1000,
      count: 30,
      gapMs: 250,
      pick: random,
    }),
    'poll, 1,000 files, the same file each time': await latency('poll', {
      files: 1000,
      count: 30,
      gapMs: 250,
      pick: () => 500,
    }),
    'poll, 10,000 files, a different file each time': await latency('poll', {
      files: 10_000,
      count: 10,
      gapMs: 250,
      pick: random,
    }),
  };

  log('idle…');
  const idleRows = {};
  for (const size of [1000, 10_000]) {
    const root = makeTree(size);
    for (const kind of KINDS) idleRows[`${kind}, ${size.toLocaleString('en')} files`] = idle(kind, root);
    rmSync(root, { recursive: true, force: true });
  }

  log('checkout…');
  const checkoutRows = {};
  for (const kind of KINDS) checkoutRows[kind] = await checkout(kind, 3);

  log('server…');
  const serverRows = {};
  for (const kind of KINDS) serverRows[kind] = await server(kind);

  log('scan…');
  const scan = scanSection();

  const ms = (v) => (v === undefined ? '–' : `${v.toFixed(1)} ms`);
  const lines = [
    `Machine: ${machine}. Both watchers behind core's coalescer (defaults: lead 5 ms, settle 100 ms, max wait 1000 ms).`,
    '',
    '| detection latency (write → batch) | n | coalesced p50 | coalesced p99 | raw source p50 | raw source p99 |',
    '| --- | --- | --- | --- | --- | --- |',
    ...Object.entries(latencyRows).map(
      ([name, r]) =>
        `| ${name} | ${r.coalesced.n} | ${ms(r.coalesced.p50)} | ${ms(r.coalesced.p99)} | ${ms(r.raw.p50)} | ${ms(r.raw.p99)} |`,
    ),
    '',
    '| idle (after start, 3 s) | CPU, % of one core | RSS delta | heap delta | start | poll interval |',
    '| --- | --- | --- | --- | --- | --- |',
    ...Object.entries(idleRows).map(
      ([name, r]) =>
        `| ${name} | ${r.cpuPercent.toFixed(2)} % | ${r.rssMB.toFixed(1)} MB | ${r.heapMB.toFixed(1)} MB | ${ms(r.startMs)} | ${r.intervalMs === undefined ? '–' : ms(r.intervalMs)} |`,
    ),
    '',
    '| 300-file checkout by another process (3 runs) | batches delivered | raw deliveries | files in batches | last batch after |',
    '| --- | --- | --- | --- | --- |',
    ...Object.entries(checkoutRows).map(
      ([kind, runs]) =>
        `| ${kind} | ${runs.map((r) => r.batches).join(', ')} | ${runs.map((r) => r.rawDeliveries).join(', ')} | ${runs.map((r) => r.files).join(', ')} | ${runs.map((r) => ms(r.doneMs)).join(', ')} |`,
    ),
    '',
    '| example server, 300 tool files written by another process | watcher used | list_changed: 300 new files | list_changed: all 300 rewritten (new descriptions) | all applied after (new, rewritten) |',
    '| --- | --- | --- | --- | --- |',
    ...Object.entries(serverRows).map(
      ([kind, r]) =>
        `| HOTMCP_WATCHER=${kind} | ${r.watcher} | ${r.rounds[0].listChanged} | ${r.rounds[1].listChanged} | ${ms(r.rounds[0].appliedMs)}, ${ms(r.rounds[1].appliedMs)} |`,
    ),
    '',
    ...scan.lines,
    '',
    `Total run time ${((performance.now() - began) / 1000).toFixed(0)} s.`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(path.join(here, 'results'), { recursive: true });
  await writeFile(
    path.join(here, 'results', 'watch-bench.json'),
    `${JSON.stringify({ machine, date: new Date().toISOString(), latency: latencyRows, idle: idleRows, checkout: checkoutRows, server: serverRows, scan: scan.rows }, null, 2)}\n`,
  );
}

const [mode, ...args] = process.argv.slice(2);
if (mode === '--idle') await idleChild(args[0], args[1]);
else if (mode === '--checkout') checkoutChild(args[0], Number(args[1]));
else if (mode === '--tools') toolsChild(args[0], args[1]);
else if (mode === '--scan') process.stdout.write(`${scanSection().lines.join('\n')}\n`);
else await main();
