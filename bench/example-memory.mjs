// Memory of the example servers over many reloads of a 50 KB tool module, as users run them.
//
//   node bench/example-memory.mjs [stdio|http …]   (RELOADS=200,1000; MEMORY_NODES=<node>,… adds Nodes;
//   MEMORY_JSON=<file> keeps the raw samples; SERVER_NODE_ARGS='--no-maglev' runs the server with Node
//   options; HOTMCP_MEMORY_MAPS=1 records every anonymous mapping's RSS; HOTMCP_MEMORY_TRIM=1 then calls
//   glibc's malloc_trim(0) in the server through gdb, to tell memory malloc holds freed from memory in use)
//   pnpm bench:loaders runs it too (see bench/loader-memory.mjs).
//
// The server (examples/sdk-v1-server over stdio, examples/http-sessions over Streamable HTTP with
// its SDK 1.x and 2.x endpoints) is started with bench/memory-probe.mjs preloaded and nothing else
// on its command line; a real SDK client rewrites tools/big.ts and calls the tool until it answers
// with the new version, RELOADS times. Measured from a warmed-up baseline (10 reloads): the
// server's RSS as it stands and after forced full GCs (main thread and preflight workers), its
// heap, external and array-buffer memory after the GCs, the preflight workers' heap before and
// after their GC, and the RSS of its child processes (esbuild's service). HOTMCP_MEMORY_SNAPSHOTS=
// <folder> writes heap snapshots of the main thread and of each preflight worker at every sample.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { processTreeRssKb } from './process-tree-rss.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const probe = join(here, 'memory-probe.mjs');
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const EXAMPLES = {
  stdio: { name: 'examples/sdk-v1-server (stdio)', dir: join(here, '../examples/sdk-v1-server') },
  http: {
    name: 'examples/http-sessions (HTTP, SDK 1.x + 2.x endpoints)',
    dir: join(here, '../examples/http-sessions'),
  },
};

/** A tool module of about `bytes` of TypeScript: one tool and many small functions. */
export function bigModule(bytes, version) {
  let text = `import { defineTool } from '@hotmcp/core';\nconst VERSION: number = ${version};\n`;
  for (let i = 0; text.length < bytes; i++) {
    text += `export function helper${i}(input: { n: number; label: string }): string {\n  const scaled: number = input.n * ${i} + VERSION;\n  return \`\${input.label}:\${scaled.toFixed(2)}\`;\n}\n`;
  }
  return `${text}export default defineTool({ name: 'big', description: 'big', handler: () => ({ content: [{ type: 'text', text: 'v' + VERSION }] }) });\n`;
}

/** RSS of the processes under `pid` (not `pid` itself), in bytes. */
const childrenRss = (pid) => processTreeRssKb(pid, { withRoot: false }) * 1024;

async function start(example, node, tools, probeFile) {
  const env = { ...process.env, HOTMCP_TOOLS_DIR: tools, HOTMCP_MEMORY_PROBE: probeFile, PORT: '0' };
  const server = join(EXAMPLES[example].dir, 'dist', 'server.js');
  const nodeArgs = (process.env.SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  if (example === 'stdio') {
    const transport = new StdioClientTransport({
      command: node,
      args: [...nodeArgs, '--import', probe, server],
      env,
      stderr: 'ignore',
    });
    const client = new Client({ name: 'bench-memory', version: '0' });
    await client.connect(transport);
    return { client, pid: transport.pid, close: () => client.close() };
  }
  const child = spawn(node, [...nodeArgs, '--import', probe, server], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      stderr = (stderr + chunk).slice(-4000);
      const found = /listening on (http:\/\/[\d.]+:\d+)/.exec(stderr);
      if (found) resolve(`${found[1]}/mcp`);
    });
    child.once('exit', (code) => reject(new Error(`the HTTP example exited (${code}): ${stderr}`)));
  });
  const client = new Client({ name: 'bench-memory', version: '0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return {
    client,
    pid: child.pid,
    close: async () => {
      await client.close().catch(() => {});
      child.kill('SIGTERM');
    },
  };
}

/** Memory of the server at `pid`, raw and after GCs, with its children's RSS. */
async function sample(pid, probeFile) {
  rmSync(probeFile, { force: true });
  const children = childrenRss(pid);
  process.kill(pid, 'SIGUSR2');
  const deadline = performance.now() + 60_000;
  while (!existsSync(probeFile)) {
    if (performance.now() > deadline) throw new Error('the memory probe did not answer');
    await pause(20);
  }
  return { ...JSON.parse(readFileSync(probeFile, 'utf8')), children };
}

/** Growth over `reloads` (ascending counts) of the example's memory, on `node`. */
export async function measureExample(example, node, reloads, log = () => {}) {
  const sandbox = mkdtempSync(join(tmpdir(), `hotmcp-bench-memory-${example}-`));
  const tools = join(sandbox, 'tools');
  mkdirSync(tools);
  writeFileSync(join(sandbox, 'package.json'), '{ "type": "module" }\n');
  symlinkSync(join(EXAMPLES[example].dir, 'node_modules'), join(sandbox, 'node_modules'), 'dir');
  const file = join(tools, 'big.ts');
  writeFileSync(file, bigModule(50 * 1024, 0));
  const probeFile = join(sandbox, 'memory.json');
  const running = await start(example, node, tools, probeFile);
  try {
    const { client, pid } = running;
    const answers = async (version) => {
      try {
        const result = await client.callTool({ name: 'big', arguments: {} }, undefined, { timeout: 10_000 });
        return result.content?.[0]?.text === `v${version}`;
      } catch {
        return false; // not (yet) registered
      }
    };
    let version = 0;
    const reload = async () => {
      version++;
      writeFileSync(file, bigModule(50 * 1024, version));
      const deadline = performance.now() + 30_000;
      while (!(await answers(version))) {
        if (performance.now() > deadline) throw new Error(`v${version} was not served within 30 s`);
      }
    };
    const deadline = performance.now() + 30_000;
    while (!(await answers(0))) {
      if (performance.now() > deadline) throw new Error('the first version was not served within 30 s');
      await pause(50);
    }
    for (let i = 0; i < 10; i++) await reload();
    const baseline = await sample(pid, probeFile);
    const result = { baseline, at: {} };
    for (const target of reloads) {
      while (version - 10 < target) await reload();
      log(`  ${example} on ${node === process.execPath ? process.version : node}: ${target} reloads`);
      result.at[target] = await sample(pid, probeFile);
    }
    if (process.env.HOTMCP_MEMORY_TRIM) {
      // Diagnosis: what glibc holds freed but not given back (malloc_trim(0) through gdb).
      const before = processTreeRssKb(pid) * 1024;
      execFileSync('gdb', ['-p', String(pid), '-batch', '-ex', 'call (int)malloc_trim(0)'], { stdio: 'ignore' });
      result.trimmed = { before, after: processTreeRssKb(pid) * 1024 };
      log(`  malloc_trim(0): ${mb(before)} → ${mb(result.trimmed.after)}`);
    }
    return result;
  } finally {
    await running.close();
    rmSync(sandbox, { recursive: true, force: true });
  }
}

const mb = (bytes) => `${(bytes / 1048576).toFixed(1)} MB`;
const signed = (bytes) => `${bytes >= 0 ? '+' : ''}${mb(bytes)}`;

/** The heap of the worker threads running the probe (the preflight's), before or after their forced GC. */
const workersHeap = (sample, when) => (sample.threads ?? []).reduce((sum, thread) => sum + thread[when].total, 0);

/** Markdown rows: growth from the baseline after the last reload count. */
export function exampleRows(nodeVersion, example, result) {
  const { baseline, at } = result;
  const counts = Object.keys(at).map(Number);
  const last = at[counts.at(-1)];
  return `| ${nodeVersion} | ${EXAMPLES[example].name} | ${counts.map((n) => signed(at[n].raw.rss - baseline.raw.rss)).join(' / ')} | ${counts.map((n) => signed(at[n].gc.rss - baseline.gc.rss)).join(' / ')} | ${signed(last.gc.heapUsed - baseline.gc.heapUsed)} | ${signed(workersHeap(last, 'before') - workersHeap(baseline, 'before'))} / ${signed(workersHeap(last, 'after') - workersHeap(baseline, 'after'))} | ${signed(last.gc.external - baseline.gc.external)} | ${signed(last.gc.arrayBuffers - baseline.gc.arrayBuffers)} | ${signed(last.children - baseline.children)} | ${mb(baseline.gc.rss)} |`;
}

export function exampleHeader(reloads) {
  return [
    `| Node | example | RSS raw after ${reloads.join(' / ')} reloads | RSS after GC | heap after GC | preflight workers' heap raw / after GC | external | array buffers | child processes RSS | baseline RSS after GC |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const reloads = (process.env.RELOADS ?? '200,1000').split(',').map(Number);
  const examples = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(EXAMPLES);
  const nodes = [process.execPath, ...(process.env.MEMORY_NODES ?? '').split(',').filter(Boolean)];
  const rows = [];
  const raw = {};
  for (const node of nodes) {
    const version = (await import('node:child_process')).execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
    for (const example of examples) {
      const result = await measureExample(example, node, reloads, (line) => process.stderr.write(`${line}\n`));
      raw[`${version} ${example}`] = result;
      rows.push(exampleRows(version, example, result));
    }
  }
  process.stdout.write(`${[...exampleHeader(reloads), ...rows].join('\n')}\n`);
  if (process.env.MEMORY_JSON) writeFileSync(process.env.MEMORY_JSON, JSON.stringify(raw, null, 2));
}
