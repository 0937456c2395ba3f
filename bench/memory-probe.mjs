// Loaded with `node --import ./bench/memory-probe.mjs <server>` by bench/example-memory.mjs: the
// server runs as users run it (no --expose-gc on its command line), and on SIGUSR2 writes its
// memory to $HOTMCP_MEMORY_PROBE, as it stands and after forced full GCs (main thread), with
// the worker threads' heap statistics where Node has them (22 and later).
import { subscribe } from 'node:diagnostics_channel';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const out = process.env.HOTMCP_MEMORY_PROBE;
const lastResort = Number(process.versions.v8.split('.')[0]) >= 12;
const workers = new Set();
let started = 0;
subscribe('worker_threads', ({ worker }) => {
  started++;
  workers.add(worker);
  worker.once('exit', () => workers.delete(worker));
});

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
      range = line.split(' ', 1)[0];
      kind = name === '' ? 'anonymous' : name.startsWith('/') ? 'file' : name;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) {
      kinds[kind] = (kinds[kind] ?? 0) + Number(rss[1]) * 1024;
      if (process.env.HOTMCP_MEMORY_MAPS && kind === 'anonymous' && Number(rss[1]) > 0) maps[range] = Number(rss[1]);
    }
  }
  return process.env.HOTMCP_MEMORY_MAPS ? { ...kinds, maps } : kinds;
}

const snapshot = () => {
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external, arrayBuffers };
};

async function collect() {
  const raw = snapshot();
  for (let i = 0; i < 6; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    gc();
  }
  const fullGc = snapshot();
  // Where V8 has it (Node 22 and later), a last-resort GC also gives back what V8 keeps for reuse
  // after a full GC: pooled pages, a grown young generation.
  if (lastResort) gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]));
  const threads = [];
  for (const worker of workers) {
    try {
      if (typeof worker.getHeapStatistics === 'function') threads.push(await worker.getHeapStatistics());
    } catch {}
  }
  return { raw, fullGc, gc: snapshot(), spaces, smaps: smaps(), workers: workers.size, started, threads };
}

if (out) {
  process.on('SIGUSR2', () => {
    collect().then((memory) => {
      writeFileSync(`${out}.tmp`, JSON.stringify(memory));
      renameSync(`${out}.tmp`, out);
    });
  });
}
