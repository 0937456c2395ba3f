// Benchmark: how long a real stdio client waits for a change to take effect,
// against what a restart-based reloader pays for the same server, in one run.
//
//   pnpm bench      (about 3 minutes; ITERATIONS=50, GAP_MS, BULK_ROUNDS to change the run)
//   node bench/reload-latency.mjs --only startup   (the start-up rows alone; STARTUP_MODULES, STARTS)
//   node bench/reload-latency.mjs --only checkout   (the 300-file changes alone; exits 1 when one
//   took more than 2 list_changed)
//
// The example server (examples/sdk-v1-server) runs with default settings on a temp
// copy of its tools, under the official SDK Client over stdio (the example's own
// harness). Measured, each as p50 / p95 / max:
//
// - edit → list_changed, and edit → first call returning the new code, edits 150, 300,
//   600 and 1,000 ms apart (PACES), as an editor saving on each pause, an agent or a
//   person edits;
// - the same back to back: the next edit as soon as the previous one is seen;
// - a new tool file → the tool listed; a helper edit → both tools importing it
//   return the new code;
// - 300 tool files written, rewritten and deleted by another process: list_changed
//   count, time to the last one and to the whole change listed;
// - the restart baseline: stop + cold start + initialize + first call of the same
//   server, and of a plain SDK server with no reloader;
// - engine micro-benchmarks, in-process (bench/loader-memory.mjs's scenarios): a leaf
//   edit in a 20-module graph, and the per-call overhead of a loaded handler.
//
// During every reload a second loop of the same client calls a tool every 10 ms; lost
// and errored requests are reported. Prints a markdown table and writes
// bench/results/reload-latency.json and bench/results/reload-latency.md.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
// The example's own stdio harness (temp copy of its tools, real SDK Client).
import { callText, connect, createSandbox } from '../examples/sdk-v1-server/dist/harness.js';
import { startupRows } from './startup.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const iterations = Number(process.env.ITERATIONS ?? 20);
// Edits come at each of these paces (ms from one edit to the next): an editor saving on
// every pause in typing, a coding agent applying edits one after another, a person.
const paces = (process.env.PACES ?? '150,300,600,1000').split(',').map(Number);
// The pause before each series of edits, and between the other measures' edits.
const gapMs = Number(process.env.GAP_MS ?? 600);
const bulkRounds = Number(process.env.BULK_ROUNDS ?? 5);
const BULK = 300;
const CALL_EVERY_MS = 10;
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line) => process.stderr.write(`${line}\n`);
const execFileAsync = promisify(execFile);

// ---------------------------------------------------------------- sources

// Each edit changes the description too: only a change clients can see sends a list_changed.
const greetSource = (reply) => `import { defineTool } from '@hotmcp/core';
import { z } from 'zod';

export default defineTool({
  name: 'greet',
  description: ${JSON.stringify(`Greet someone (${reply.trim()})`)},
  inputSchema: { name: z.string() },
  handler: async ({ name }) => ({ content: [{ type: 'text', text: ${JSON.stringify(reply)} + name }] }),
});
`;

const addedSource = (name) => `import { defineTool } from '@hotmcp/core';

export default defineTool({
  name: '${name}',
  description: 'Added while the server runs',
  handler: async () => ({ content: [{ type: 'text', text: '${name}' }] }),
});
`;

// The example's tools/lib/format.ts, imported by tools/echo.ts and tools/word-count.ts.
const helperSource = (mark) => `// A helper both tools import: edit it and both are reloaded.
export function decorate(text: string): string {
  return ${JSON.stringify(mark)} + ' ' + text;
}
`;

const bulkSource = (n, reply) => `import { defineTool } from '@hotmcp/core';
import { z } from 'zod';

export default defineTool({
  name: 'bulk_${n}',
  description: 'Bulk tool ${n}, answering ${reply.trim()}.',
  inputSchema: { text: z.string() },
  handler: async ({ text }) => ({ content: [{ type: 'text', text: ${JSON.stringify(reply)} + text }] }),
});
`;

/** Runs in a child process, as a checkout does: write, rewrite or delete the 300 bulk tool files. */
function bulkChild(dir, mode, reply) {
  process.stdout.write(String(performance.timeOrigin + performance.now()));
  const bulk = path.join(dir, 'bulk');
  if (mode === 'delete') return rmSync(bulk, { recursive: true, force: true });
  mkdirSync(bulk, { recursive: true });
  for (let n = 0; n < BULK; n++) writeFileSync(path.join(bulk, `t${n}.ts`), bulkSource(n, reply));
}

// ---------------------------------------------------------------- helpers

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), max: sorted.at(-1) };
}

/** When each list_changed arrived (`performance.now()`), from the session's count. */
function notificationClock(session) {
  const times = [];
  let seen = session.listChanged();
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      try {
        await session.waitForListChanged(seen + 1, 250);
      } catch {
        continue; // no notification in 250 ms: look at `stopped` again
      }
      const now = performance.now();
      for (const count = session.listChanged(); seen < count; seen++) times.push(now);
    }
  })();
  return {
    times,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/**
 * A client that keeps calling while the reloads happen: a call every `everyMs`,
 * alternating two hot-reloaded tools. An error result or a thrown error is
 * `errored`; no answer within 5 s is `lost`.
 */
function backgroundCaller(client, everyMs) {
  const counts = { sent: 0, ok: 0, errored: 0, lost: 0 };
  const errors = [];
  const inflight = new Set();
  const timer = setInterval(() => {
    const name = counts.sent % 2 === 0 ? 'echo' : 'greet';
    const args = name === 'echo' ? { text: 'ping' } : { name: 'ping' };
    counts.sent++;
    const call = client
      .callTool({ name, arguments: args }, undefined, { timeout: 5000 })
      .then((result) => {
        const text = result.content?.[0]?.text ?? '';
        if (result.isError || !text.includes('ping')) {
          counts.errored++;
          errors.push(`${name}: ${text}`);
        } else counts.ok++;
      })
      .catch((error) => {
        if (/timed out/i.test(error.message)) counts.lost++;
        else counts.errored++;
        errors.push(`${name}: ${error.message}`);
      })
      .finally(() => inflight.delete(call));
    inflight.add(call);
  }, everyMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await Promise.all(inflight);
      return { ...counts, everyMs, errors: errors.slice(0, 10) };
    },
  };
}

/**
 * Wait until `probe()` (a tools/list) holds, looking again after each list_changed (a
 * change becomes visible with its notification), or after 250 ms without one: listing
 * 300 tools is work for the server, so it is not polled faster. Rejects after 60 s.
 */
async function whenListed(session, probe, what) {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const seen = session.listChanged();
    if (await probe()) return;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await session.waitForListChanged(seen + 1, 250).catch(() => {});
  }
}

const listedTools = async (client) => (await client.listTools()).tools;

// ---------------------------------------------------------------- hot reloads

async function hotReloads(sandbox) {
  const rows = {};
  const session = await connect(sandbox);
  await sandbox.write('greet.ts', greetSource('v0 '));
  await session.waitForListChanged(1);
  const clock = notificationClock(session);
  const caller = backgroundCaller(session.client, CALL_EVERY_MS);
  const greetSays = async (prefix) => (await callText(session.client, 'greet', { name: 'x' })).startsWith(prefix);

  log('paced edits…');
  for (const pace of paces) {
    const toListChanged = [];
    const toNewResult = [];
    await pause(gapMs);
    for (let i = 1; i <= iterations; i++) {
      const reply = `p${pace}x${i} `;
      const seen = clock.times.length;
      const start = performance.now();
      await sandbox.write('greet.ts', greetSource(reply));
      while (!(await greetSays(reply))) {}
      toNewResult.push(performance.now() - start);
      while (clock.times.length === seen)
        await session.waitForListChanged(session.listChanged() + 1, 250).catch(() => {});
      toListChanged.push(clock.times[seen] - start);
      await pause(start + pace - performance.now());
    }
    rows[`pace${pace}`] = { pace, editToListChanged: stats(toListChanged), editToNewResult: stats(toNewResult) };
  }

  log('back-to-back edits…');
  const backToBackListChanged = [];
  const backToBackNewResult = [];
  await pause(gapMs);
  for (let i = 1; i <= iterations; i++) {
    const seen = session.listChanged();
    const start = performance.now();
    await sandbox.write('greet.ts', greetSource(`c${i} `));
    await session.waitForListChanged(seen + 1);
    backToBackListChanged.push(performance.now() - start);
  }
  await pause(gapMs);
  for (let i = 1; i <= iterations; i++) {
    const start = performance.now();
    await sandbox.write('greet.ts', greetSource(`d${i} `));
    while (!(await greetSays(`d${i} `))) {}
    backToBackNewResult.push(performance.now() - start);
  }
  rows.backToBackListChanged = stats(backToBackListChanged);
  rows.backToBackNewResult = stats(backToBackNewResult);

  log('added tools…');
  const addToListed = [];
  for (let i = 1; i <= iterations; i++) {
    await pause(gapMs);
    const name = `added_${i}`;
    const start = performance.now();
    await sandbox.write(`added-${i}.ts`, addedSource(name));
    await whenListed(session, async () => (await listedTools(session.client)).some((t) => t.name === name), name);
    addToListed.push(performance.now() - start);
    await pause(gapMs);
    await sandbox.remove(`added-${i}.ts`);
    await whenListed(session, async () => !(await listedTools(session.client)).some((t) => t.name === name), name);
  }
  rows.addToListed = stats(addToListed);

  log('helper edits…');
  const helperToBoth = [];
  for (let i = 1; i <= iterations; i++) {
    await pause(gapMs);
    const mark = `h${i}`;
    const start = performance.now();
    await sandbox.write('lib/format.ts', helperSource(mark));
    const pending = new Set(['echo', 'word_count']);
    while (pending.size > 0) {
      for (const name of pending) {
        if ((await callText(session.client, name, { text: 'a b' })).startsWith(`${mark} `)) pending.delete(name);
      }
    }
    helperToBoth.push(performance.now() - start);
  }
  rows.helperToBoth = stats(helperToBoth);

  const bulk = await bulkChanges(sandbox, session, clock);

  const calls = await caller.stop();
  await clock.stop();
  await session.close();
  const audit = readFileSync(sandbox.auditLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
  const watcher = audit.findLast((e) => e.event === 'watcher.started')?.watcher ?? 'unknown';
  return { rows, bulk, calls, watcher };
}

/** 300 tool files written, rewritten and deleted by another process, BULK_ROUNDS times: list_changed per change. */
async function bulkChanges(sandbox, session, clock) {
  log(`${BULK}-file changes…`);
  const bulk = { write: [], rewrite: [], delete: [] };
  const script = fileURLToPath(import.meta.url);
  for (let round = 1; round <= bulkRounds; round++) {
    for (const [mode, reply] of [
      ['write', `w${round} `],
      ['rewrite', `r${round} `],
      ['delete', ''],
    ]) {
      await pause(gapMs);
      const seen = clock.times.length;
      const { stdout } = await execFileAsync(process.execPath, [script, '--bulk', sandbox.toolsDir, mode, reply]);
      // The writer's first write, on this process's clock.
      const start = Number(stdout) - performance.timeOrigin;
      const done = (tools) => {
        const bulkTools = tools.filter((tool) => tool.name.startsWith('bulk_'));
        if (mode === 'delete') return bulkTools.length === 0;
        return (
          bulkTools.length === BULK &&
          bulkTools.every((tool) => tool.description.endsWith(`answering ${reply.trim()}.`))
        );
      };
      await whenListed(session, async () => done(await listedTools(session.client)), `${mode} round ${round}`);
      const listedMs = performance.now() - start;
      // Stragglers: wait until no list_changed came for a second.
      while (
        await session.waitForListChanged(session.listChanged() + 1, 1000).then(
          () => true,
          () => false,
        )
      ) {}
      await pause(20); // the clock records the last one
      const times = clock.times.slice(seen);
      bulk[mode].push({ listChanged: times.length, lastListChangedMs: (times.at(-1) ?? Number.NaN) - start, listedMs });
    }
  }
  for (const mode of Object.keys(bulk)) {
    const runs = bulk[mode];
    bulk[mode] = {
      runs,
      listChanged: stats(runs.map((r) => r.listChanged)),
      lastListChanged: stats(runs.map((r) => r.lastListChangedMs)),
      listed: stats(runs.map((r) => r.listedMs)),
    };
  }

  return bulk;
}

// ---------------------------------------------------------------- restarts

/** Stop the running server, start it again, initialize, call: what a restart-based reloader pays per change. */
async function restarts(start, call) {
  const samples = [];
  let running = await start();
  await call(running);
  for (let i = 0; i < iterations; i++) {
    const began = performance.now();
    await running.close();
    running = await start();
    await call(running);
    samples.push(performance.now() - began);
  }
  await running.close();
  return stats(samples);
}

async function plainServer() {
  const client = new Client({ name: 'bench', version: '0' });
  const args = [path.join(here, 'plain-server.mjs')];
  await client.connect(new StdioClientTransport({ command: process.execPath, args }));
  return client;
}

// ---------------------------------------------------------------- engine

/** bench/loader-memory.mjs's in-process scenarios, each in a fresh process. */
async function engine(loader) {
  const run = async (scenario) => {
    const args = [path.join(here, 'loader-memory.mjs'), '--child', scenario, loader, '0'];
    return JSON.parse((await execFileAsync(process.execPath, args, { maxBuffer: 1 << 20 })).stdout);
  };
  const leaf = await run('leaf');
  const call = await run('call');
  return { leaf, call: { ...call, overheadNs: call.loadedNs - call.directNs } };
}

// ---------------------------------------------------------------- report

/** A markdown table with padded columns, as the README's tables are formatted. */
function markdownTable(header, rows) {
  const widths = header.map((cell, i) => Math.max(cell.length, 3, ...rows.map((row) => row[i].length)));
  const line = (cells) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

function report(result) {
  const { machine, settings, rows, bulk, calls, watcher, engineResults, ratio, plainRatio, startup } = result;
  const ms = (v) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : '–');
  const row = (name, s) => [name, ms(s.p50), ms(s.p95), ms(s.max)];
  const latency = markdownTable(
    ['measure', 'p50', 'p95', 'max'],
    [
      ...settings.paces.flatMap((pace) => [
        row(`edits ${pace} ms apart: edit → list_changed`, rows[`pace${pace}`].editToListChanged),
        row(`edits ${pace} ms apart: edit → first call returning new code`, rows[`pace${pace}`].editToNewResult),
      ]),
      row('back-to-back edits: edit → list_changed', rows.backToBackListChanged),
      row('back-to-back edits: edit → first call returning new code', rows.backToBackNewResult),
      row('new tool file → tool listed', rows.addToListed),
      row('helper edit → both importing tools return new code', rows.helperToBoth),
      row('restart of this server: stop + cold start + initialize + first call', rows.restart),
      row('restart of this server with the import preflight off', rows.restartNoPreflight),
      row('restart of a plain SDK server (no reloader, one tool)', rows.plainRestart),
    ],
  );
  const range = (s) => (s.p50 === s.max ? `${s.p50}` : `${s.p50} (max ${s.max})`);
  const bulkTable = markdownTable(
    [
      `${BULK} tool files, by another process (${settings.bulkRounds} runs)`,
      'list_changed, p50',
      'last list_changed after, p50 / max',
      `all ${BULK} listed after, p50 / max`,
    ],
    Object.entries({
      [`${BULK} new files`]: bulk.write,
      [`${BULK} files rewritten (new descriptions)`]: bulk.rewrite,
      [`${BULK} files deleted`]: bulk.delete,
    }).map(([name, b]) => [
      name,
      range(b.listChanged),
      `${ms(b.lastListChanged.p50)} / ${ms(b.lastListChanged.max)}`,
      `${ms(b.listed.p50)} / ${ms(b.listed.max)}`,
    ]),
  );
  const engineTable = markdownTable(
    ['loader', 'leaf edit in a 20-module graph → committed, p50 / p95', 'tool call overhead against Node import'],
    Object.entries(engineResults).map(([loader, e]) => [
      loader === 'runner' ? 'runner (default)' : loader,
      `${ms(e.leaf.p50)} / ${ms(e.leaf.p95)}`,
      `${e.call.overheadNs.toFixed(0)} ns (${e.call.loadedNs.toFixed(0)} ns against ${e.call.directNs.toFixed(0)} ns)`,
    ]),
  );
  return [
    `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.platform}, load average ${machine.load} at the start. Default settings (watcher: ${watcher}, loader: runner); ${settings.iterations} iterations; back-to-back: the next edit as soon as the previous one is seen.`,
    '',
    latency,
    '',
    `Edit → first call returning new code (p50, the slowest pace) is ${ratio.toFixed(1)}× faster than restarting this server and ${plainRatio.toFixed(1)}× faster than restarting a plain SDK server.`,
    `A client calling a reloaded tool every ${calls.everyMs} ms through all the reloads above: ${calls.sent} requests, ${calls.ok} answered, ${calls.errored} errored, ${calls.lost} lost.`,
    '',
    bulkTable,
    '',
    `Start-up: a fresh process per start under the SDK Client over stdio, ${startup[0]?.hotmcp.n ?? 0} starts each, the two servers alternately.`,
    '',
    startupTable(startup),
    '',
    'Engine alone, in-process (no file watching, no stdio): a leaf helper edited in a 20-module graph, timed from the batch reaching the engine to the commit; a loaded tool handler called directly, against the same modules imported by Node.',
    '',
    engineTable,
  ].join('\n');
}

// ---------------------------------------------------------------- main

/** The highest p50 of edit → first new result over the paces. */
const slowestPace = (rows) => Math.max(...paces.map((pace) => rows[`pace${pace}`].editToNewResult.p50));

async function main() {
  const began = performance.now();
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown CPU',
    cores: cpus().length,
    node: process.version,
    platform: process.platform,
    load: loadavg()
      .map((l) => l.toFixed(1))
      .join(' '),
  };
  log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}`);
  const sandbox = await createSandbox();
  let hot;
  const rows = {};
  try {
    hot = await hotReloads(sandbox);
    Object.assign(rows, hot.rows);
    log('restarts…');
    rows.restart = await restarts(
      () => connect(sandbox),
      (session) => callText(session.client, 'greet', { name: 'x' }),
    );
    // What the import preflight's worker adds to a start.
    rows.restartNoPreflight = await restarts(
      () => connect(sandbox, { HOTMCP_PREFLIGHT_TIMEOUT_MS: '0' }),
      (session) => callText(session.client, 'greet', { name: 'x' }),
    );
  } finally {
    await sandbox.cleanup();
  }
  rows.plainRestart = await restarts(plainServer, (client) => callText(client, 'greet', { name: 'x' }));
  const startup = await startupRows({
    modules: (process.env.STARTUP_MODULES ?? '1,200,2000').split(',').map(Number),
    starts: Number(process.env.STARTS ?? 5),
    log,
  });
  log('engine…');
  const engineResults = { runner: await engine('runner'), native: await engine('native') };

  const result = {
    machine,
    date: new Date().toISOString(),
    settings: { iterations, paces, gapMs, bulkRounds, callEveryMs: CALL_EVERY_MS },
    watcher: hot.watcher,
    rows,
    ratio: rows.restart.p50 / slowestPace(rows),
    plainRatio: rows.plainRestart.p50 / slowestPace(rows),
    calls: hot.calls,
    bulk: hot.bulk,
    engineResults,
    startup,
    runSeconds: (performance.now() - began) / 1000,
  };
  const markdown = report(result);
  process.stdout.write(`${markdown}\n\nTotal run time ${result.runSeconds.toFixed(0)} s.\n`);
  mkdirSync(path.join(here, 'results'), { recursive: true });
  writeFileSync(path.join(here, 'results', 'reload-latency.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(here, 'results', 'reload-latency.md'), `${markdown}\n`);
  const lostOrErrored = hot.calls.lost + hot.calls.errored;
  if (lostOrErrored > 0) {
    log(`${lostOrErrored} requests lost or errored during the reloads: ${hot.calls.errors.join(' | ')}`);
    process.exitCode = 1;
  }
}

/** The start-up rows as a markdown table. */
function startupTable(startup) {
  const ms = (v) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : '–');
  return markdownTable(
    [
      'tool modules',
      'this server: spawn → initialize answered, p50',
      'spawn → every tool listed, p50 / max',
      'plain SDK server registering them statically, p50 / max',
      'ratio (p50)',
    ],
    startup.map((row) => [
      String(row.modules),
      ms(row.hotmcpInitialized.p50),
      `${ms(row.hotmcp.p50)} / ${ms(row.hotmcp.max)}`,
      `${ms(row.plain.p50)} / ${ms(row.plain.max)}`,
      `${row.ratio.toFixed(2)}×`,
    ]),
  );
}

/** `--only startup`: the start-up rows alone (the same rows as in the full run), printed as their table. */
async function startupOnly() {
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  log(`${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}, load average ${load}`);
  const startup = await startupRows({
    modules: (process.env.STARTUP_MODULES ?? '1,200,2000').split(',').map(Number),
    starts: Number(process.env.STARTS ?? 5),
    log,
  });
  process.stdout.write(
    `Load average ${load} at the start; a fresh process per start under the SDK Client over stdio, ${startup[0]?.hotmcp.n ?? 0} starts each, the two servers alternately.\n\n${startupTable(startup)}\n`,
  );
}

/** `--only checkout`: the 300-file changes alone, on a fresh server (BULK_ROUNDS rounds), list_changed per round. */
async function checkoutOnly() {
  log(
    `Node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const sandbox = await createSandbox();
  try {
    const session = await connect(sandbox);
    await sandbox.write('greet.ts', greetSource('v0 '));
    await session.waitForListChanged(1);
    const clock = notificationClock(session);
    const bulk = await bulkChanges(sandbox, session, clock);
    await clock.stop();
    await session.close();
    if (process.env.CHECKOUT_BATCHES) {
      // Each batch the engine applied: when, how long it took, what it held.
      for (const line of readFileSync(sandbox.auditLog, 'utf8').split('\n').filter(Boolean)) {
        const e = JSON.parse(line);
        if (e.event === 'batch.applied')
          log(`${e.at} ${e.durationMs} ms: +${e.added} ~${e.changed} -${e.removed} loaded ${e.loaded}`);
      }
    }
    const lines = Object.entries(bulk).map(
      ([mode, b]) =>
        `${BULK} files ${mode}: list_changed per round ${b.runs.map((r) => r.listChanged).join(' ')} (max ${b.listChanged.max}); all listed after p50 ${b.listed.p50.toFixed(0)} ms, max ${b.listed.max.toFixed(0)} ms`,
    );
    process.stdout.write(`${lines.join('\n')}\n`);
    const worst = Math.max(...Object.values(bulk).map((b) => b.listChanged.max));
    if (worst > 2) process.exitCode = 1;
  } finally {
    await sandbox.cleanup();
  }
}

const [mode, ...args] = process.argv.slice(2);
if (mode === '--bulk') bulkChild(args[0], args[1], args[2] ?? '');
else if (mode === '--only' && args[0] === 'startup') await startupOnly();
else if (mode === '--only' && args[0] === 'checkout') await checkoutOnly();
else if (mode === '--only') throw new Error(`--only: unknown section ${args[0]} (known: startup, checkout)`);
else await main();
