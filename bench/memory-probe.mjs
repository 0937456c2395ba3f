// Loaded with `node --import ./bench/memory-probe.mjs <server>` by bench/example-memory.mjs: the
// server runs as users run it (no --expose-gc on its command line), and on SIGUSR2 writes its
// memory to $HOTMCP_MEMORY_PROBE, as it stands and after forced full GCs, with the worker threads'
// heap statistics before and after a forced full GC there too. Worker threads inherit the
// `--import` of the process (the preflight's do): there, this module answers the main thread's
// GC requests on a BroadcastChannel. HOTMCP_MEMORY_SNAPSHOTS=<folder> also writes a heap snapshot
// of the main thread and of each worker there at every sample.
import { subscribe } from 'node:diagnostics_channel';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BroadcastChannel, isMainThread, threadId } from 'node:worker_threads';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const out = process.env.HOTMCP_MEMORY_PROBE;
const snapshots = process.env.HOTMCP_MEMORY_SNAPSHOTS;
const lastResort = Number(process.versions.v8.split('.')[0]) >= 12;
const channel = out ? new BroadcastChannel('hotmcp-memory-probe') : undefined;
channel?.unref();

const heap = () => {
  const { total_heap_size, used_heap_size, malloced_memory, external_memory } = getHeapStatistics();
  return { total: total_heap_size, used: used_heap_size, malloced: malloced_memory, external: external_memory };
};

if (channel && !isMainThread) {
  // A worker thread: on request, its heap before and after forced full GCs.
  channel.onmessage = ({ data }) => {
    if (data?.type !== 'gc') return;
    const before = heap();
    for (let i = 0; i < 3; i++) gc();
    if (lastResort) gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    const snapshot = snapshots
      ? writeHeapSnapshot(`${snapshots}/worker-${threadId}-${data.id}.heapsnapshot`)
      : undefined;
    channel.postMessage({ type: 'heap', id: data.id, threadId, before, after: heap(), snapshot });
  };
}

const workers = new Set();
let started = 0;
if (isMainThread) {
  subscribe('worker_threads', ({ worker }) => {
    started++;
    workers.add(worker);
    worker.once('exit', () => workers.delete(worker));
  });
}

/** Resident memory by kind of mapping (/proc/self/smaps): V8's heap and code, thread stacks, malloc, files. */
function smaps() {
  const kinds = {};
  let kind = 'other';
  let range = '';
  const maps = {};
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      const name = header[1];
      range = line.split(' ', 2).join(' ');
      kind = name === '' ? 'anonymous' : name.startsWith('/') ? 'file' : name;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) {
      kinds[kind] = (kinds[kind] ?? 0) + Number(rss[1]) * 1024;
      if (process.env.HOTMCP_MEMORY_MAPS && kind === 'anonymous' && Number(rss[1]) > 0) maps[range] = Number(rss[1]);
    }
  }
  kinds.threads = Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
  return process.env.HOTMCP_MEMORY_MAPS ? { ...kinds, maps } : kinds;
}

const snapshot = () => {
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external, arrayBuffers };
};

let requests = 0;
/** The worker threads running this probe, GC'd: their heaps before and after (within 5 s). */
async function collectWorkers() {
  const id = ++requests;
  const answers = [];
  const listener = ({ data }) => {
    if (data?.type === 'heap' && data.id === id) answers.push(data);
  };
  channel.addEventListener('message', listener);
  channel.postMessage({ type: 'gc', id });
  const deadline = performance.now() + 5000;
  while (answers.length < workers.size && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  channel.removeEventListener('message', listener);
  return answers;
}

async function collect() {
  const raw = snapshot();
  const rawSmaps = smaps();
  const threads = await collectWorkers();
  for (let i = 0; i < 6; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    gc();
  }
  const fullGc = snapshot();
  const fullGcSmaps = smaps();
  // Where V8 has it (Node 22 and later), a last-resort GC also gives back what V8 keeps for reuse
  // after a full GC: pooled pages, a grown young generation.
  if (lastResort) gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]));
  if (snapshots) writeHeapSnapshot(`${snapshots}/main-${requests}.heapsnapshot`);
  return {
    raw,
    fullGc,
    gc: snapshot(),
    spaces,
    rawSmaps,
    fullGcSmaps,
    smaps: smaps(),
    workers: workers.size,
    started,
    threads,
  };
}

if (out && isMainThread) {
  process.on('SIGUSR2', () => {
    collect().then((memory) => {
      writeFileSync(`${out}.tmp`, JSON.stringify(memory));
      renameSync(`${out}.tmp`, out);
    });
  });
}
