// Side-by-side benchmark: hotmcp against other dev servers that reload tools, same run, same client.
//
//   pnpm bench:peers      (opt-in; installs the peers with npm into a scratch folder first)
//
// Peers come from bench/peers/package.json, installed with npm into PEERS_DIR (default: a
// folder under the OS temp dir, kept between runs), never into the workspace. mcp-use needs
// Node >= 22: PEERS_NODE names that Node binary (default: this one).
//
// Every target serves the same tool, `greet`, from one file the bench rewrites. Measured
// per target, with the official SDK Client (stdio or Streamable HTTP):
//
// - edit → first call returning the new code, edits 150, 300, 600 and 1,000 ms apart
//   (PACES), p50 / p95 / max;
// - requests lost or errored during those reloads (a call every 10 ms in the background);
// - resident memory of the server's process tree after start and after RELOADS reloads.
//
// A target is one entry of TARGETS: how to lay out its project, how to start it, which file
// holds the tool and what it says. Prints a markdown table (with ratios against hotmcp) and
// writes bench/results/peers.json and bench/results/peers.md.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, symlink } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { processTreeRssKb } from '../process-tree-rss.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = path.join(here, '..', '..');
const paces = (process.env.PACES ?? '150,300,600,1000').split(',').map(Number);
const iterations = Number(process.env.ITERATIONS ?? 20);
const reloads = Number(process.env.RELOADS ?? 300);
const peersDir = process.env.PEERS_DIR ?? path.join(tmpdir(), 'hotmcp-bench-peers');
const peersNode = process.env.PEERS_NODE ?? process.execPath;
const CALL_EVERY_MS = 10;
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const log = (line) => process.stderr.write(`${line}\n`);

// ---------------------------------------------------------------- targets

/** The tool of every target, as an MCP SDK `registerTool` body would say it: `reply + name`. */
const hotmcpTool = (reply) => `import { defineTool } from '@hotmcp/core';
import { z } from 'zod';

export default defineTool({
  name: 'greet',
  description: 'Greet someone',
  inputSchema: { name: z.string() },
  handler: async ({ name }) => ({ content: [{ type: 'text', text: ${JSON.stringify(reply)} + name }] }),
});
`;

const mcpUseServer = (reply) => `import { MCPServer } from 'mcp-use';
import { z } from 'zod';

const server = new MCPServer({ name: 'bench', version: '1.0.0' });

server.tool(
  { name: 'greet', description: 'Greet someone', inputSchema: z.object({ name: z.string() }) },
  async ({ name }) => ({ content: [{ type: 'text', text: ${JSON.stringify(reply)} + name }] }),
);

export default server;
`;

/** The same tool as a module of an unchanged SDK server (examples/existing-server's src/tools/greet.ts). */
const registerGreet = (reply) => `import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

export function registerGreetTools(server: McpServer): void {
  server.registerTool(
    'greet',
    { description: 'Greet someone', inputSchema: { name: z.string() } },
    async ({ name }) => ({ content: [{ type: 'text', text: ${JSON.stringify(reply)} + name }] }),
  );
}
`;

let nextPort = 3400 + (process.pid % 500);

/**
 * Each target: `setup(dir)` lays out its project in an empty folder and returns
 * `{ file, source(reply), start() }`, where `start()` resolves with
 * `{ client, pid, close() }` once the client is connected.
 */
const TARGETS = [
  {
    name: 'hotmcp (examples/sdk-v1-server, stdio)',
    key: 'hotmcp',
    async setup(dir) {
      const example = path.join(repo, 'examples', 'sdk-v1-server');
      const tools = path.join(dir, 'tools');
      mkdirSync(tools);
      writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
      await symlink(path.join(example, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
      const file = path.join(tools, 'greet.ts');
      writeFileSync(file, hotmcpTool('v0 '));
      return {
        file,
        source: hotmcpTool,
        start: () =>
          stdioClient(process.execPath, [path.join(example, 'dist', 'server.js')], {
            HOTMCP_TOOLS_DIR: tools,
          }),
      };
    },
  },
  {
    name: 'hotmcp dev (examples/existing-server, stdio)',
    key: 'hotmcp-dev',
    async setup(dir) {
      const example = path.join(repo, 'examples', 'existing-server');
      for (const part of ['src', 'package.json'])
        cpSync(path.join(example, part), path.join(dir, part), { recursive: true });
      await symlink(path.join(example, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
      const file = path.join(dir, 'src', 'tools', 'greet.ts');
      writeFileSync(file, registerGreet('v0 '));
      const cli = path.join(repo, 'packages', 'cli', 'dist', 'bundle', 'bin.cjs');
      return {
        file,
        source: registerGreet,
        start: () => stdioClient(process.execPath, [cli, 'dev', '--no-audit', 'src/server.ts'], {}, dir),
      };
    },
  },
  {
    name: 'mcp-use dev (HTTP)',
    key: 'mcp-use',
    async setup(dir) {
      installPeers();
      writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
      await symlink(path.join(peersDir, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
      const file = path.join(dir, 'index.ts');
      writeFileSync(file, mcpUseServer('v0 '));
      const bin = path.join(peersDir, 'node_modules', '@mcp-use', 'cli', 'dist', 'bin.js');
      return {
        file,
        source: mcpUseServer,
        start: () => {
          const port = nextPort++;
          const args = [bin, 'dev', '--port', String(port), '--no-open', '--no-inspector', '--entry', 'index.ts'];
          return httpClient(peersNode, args, dir, `http://127.0.0.1:${port}/mcp`);
        },
      };
    },
  },
];

// ---------------------------------------------------------------- clients

async function stdioClient(command, args, env, cwd) {
  const transport = new StdioClientTransport({
    command,
    args,
    env: { ...process.env, ...env },
    stderr: 'ignore',
    ...(cwd && { cwd }),
  });
  const client = new Client({ name: 'bench-peers', version: '0' });
  await client.connect(transport);
  return { client, pid: transport.pid, close: () => client.close() };
}

async function httpClient(command, args, cwd, url) {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const deadline = performance.now() + 60_000;
  for (;;) {
    const client = new Client({ name: 'bench-peers', version: '0' });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      return {
        client,
        pid: child.pid,
        close: async () => {
          await client.close().catch(() => {});
          try {
            process.kill(-child.pid, 'SIGTERM');
          } catch {}
        },
      };
    } catch (error) {
      if (child.exitCode !== null || performance.now() > deadline) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {}
        throw new Error(`${args.join(' ')} did not serve ${url}: ${error.message}\n${stderr}`);
      }
      await pause(100);
    }
  }
}

function installPeers() {
  if (existsSync(path.join(peersDir, 'node_modules', '@mcp-use', 'cli', 'dist', 'bin.js'))) return;
  log(`installing the peers into ${peersDir}…`);
  mkdirSync(peersDir, { recursive: true });
  writeFileSync(path.join(peersDir, 'package.json'), readFileSync(path.join(here, 'package.json')));
  const npm = path.join(path.dirname(peersNode), 'npm');
  execFileSync(existsSync(npm) ? npm : 'npm', ['install', '--no-audit', '--no-fund'], {
    cwd: peersDir,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, PATH: `${path.dirname(peersNode)}${path.delimiter}${process.env.PATH}` },
  });
}

// ---------------------------------------------------------------- measures

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), max: sorted.at(-1) };
}

/** Resident memory of `pid` and every process under it, in MB (Linux /proc). */
const treeRssMb = (pid) => processTreeRssKb(pid) / 1024;

/** A call every `everyMs` in the background: an error result or thrown error is `errored`, no answer in 5 s `lost`. */
function backgroundCaller(client, everyMs) {
  const counts = { sent: 0, ok: 0, errored: 0, lost: 0 };
  const errors = [];
  const inflight = new Set();
  const timer = setInterval(() => {
    counts.sent++;
    const call = client
      .callTool({ name: 'greet', arguments: { name: 'ping' } }, undefined, { timeout: 5000 })
      .then((result) => {
        if (result.isError || !String(result.content?.[0]?.text ?? '').endsWith('ping')) {
          counts.errored++;
          errors.push(JSON.stringify(result.content));
        } else counts.ok++;
      })
      .catch((error) => {
        if (/timed out/i.test(error.message)) counts.lost++;
        else counts.errored++;
        errors.push(error.message);
      })
      .finally(() => inflight.delete(call));
    inflight.add(call);
  }, everyMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await Promise.all(inflight);
      return { ...counts, errors: errors.slice(0, 5) };
    },
  };
}

async function says(client, prefix) {
  try {
    const result = await client.callTool({ name: 'greet', arguments: { name: 'x' } }, undefined, { timeout: 5000 });
    return String(result.content?.[0]?.text ?? '').startsWith(prefix);
  } catch {
    return false; // reloading: ask again
  }
}

/** Write `reply` into the target's tool and wait until a call returns it; ms from the write. */
async function editToNewResult(target, client, reply) {
  const start = performance.now();
  writeFileSync(target.file, target.source(reply));
  const deadline = start + 30_000;
  while (!(await says(client, reply))) {
    if (performance.now() > deadline) throw new Error(`no call returned ${reply.trim()} within 30 s`);
  }
  return performance.now() - start;
}

async function measure(spec) {
  const dir = await mkdtemp(path.join(tmpdir(), `hotmcp-peers-${spec.key}-`));
  try {
    const target = await spec.setup(dir);
    const running = await target.start();
    try {
      const { client, pid } = running;
      while (!(await says(client, 'v0 '))) await pause(50);
      await pause(1000);
      const rssStart = treeRssMb(pid);
      const caller = backgroundCaller(client, CALL_EVERY_MS);
      const byPace = {};
      for (const pace of paces) {
        log(`${spec.key}: edits ${pace} ms apart…`);
        const samples = [];
        await pause(1000);
        for (let i = 1; i <= iterations; i++) {
          const start = performance.now();
          samples.push(await editToNewResult(target, client, `p${pace}x${i} `));
          await pause(start + pace - performance.now());
        }
        byPace[pace] = stats(samples);
      }
      const calls = await caller.stop();
      log(`${spec.key}: ${reloads} reloads…`);
      for (let i = 1; i <= reloads; i++) await editToNewResult(target, client, `r${i} ${'x'.repeat(i % 7)}`);
      await pause(2000);
      const rssAfter = treeRssMb(pid);
      return { name: spec.name, byPace, calls, rss: { start: rssStart, after: rssAfter, growth: rssAfter - rssStart } };
    } finally {
      await running.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- report

function markdownTable(header, rows) {
  const widths = header.map((cell, i) => Math.max(cell.length, 3, ...rows.map((row) => row[i].length)));
  const line = (cells) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

function report(result) {
  const ms = (v) => `${v.toFixed(1)} ms`;
  const base = result.targets.find((t) => t.key === 'hotmcp');
  const rows = [];
  for (const pace of paces) {
    for (const t of result.targets) {
      const s = t.byPace[pace];
      const ratio =
        t === base ? '1.0× (baseline)' : base ? `${(s.p50 / base.byPace[pace].p50).toFixed(1)}× hotmcp's` : '–';
      rows.push([`${pace} ms`, t.name, `${ms(s.p50)} / ${ms(s.p95)} / ${ms(s.max)}`, ratio]);
    }
  }
  const latency = markdownTable(['pace', 'target', 'edit → new result, p50 / p95 / max', 'p50 ratio'], rows);
  const other = markdownTable(
    ['target', 'requests during the paced edits: sent / lost / errored', `RSS at start → after ${reloads} reloads`],
    result.targets.map((t) => [
      t.name,
      `${t.calls.sent} / ${t.calls.lost} / ${t.calls.errored}`,
      `${t.rss.start.toFixed(0)} MB → ${t.rss.after.toFixed(0)} MB (+${t.rss.growth.toFixed(0)} MB)`,
    ]),
  );
  const { machine } = result;
  return [
    `Machine: ${machine.cpu}, ${machine.cores} cores, load average ${machine.load}; client on Node ${machine.node}, peers on ${machine.peersNode}. ${iterations} edits per pace; a call every ${CALL_EVERY_MS} ms in the background.`,
    '',
    latency,
    '',
    other,
  ].join('\n');
}

async function main() {
  const only = process.env.TARGETS?.split(',');
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown CPU',
    cores: cpus().length,
    node: process.version,
    peersNode: execFileSync(peersNode, ['--version'], { encoding: 'utf8' }).trim(),
    load: loadavg()
      .map((l) => l.toFixed(1))
      .join(' '),
  };
  const targets = [];
  for (const spec of TARGETS) {
    if (only && !only.includes(spec.key)) continue;
    targets.push({ key: spec.key, ...(await measure(spec)) });
  }
  machine.loadAfter = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  const result = { machine, date: new Date().toISOString(), paces, iterations, reloads, targets };
  const markdown = report(result);
  process.stdout.write(`${markdown}\n`);
  mkdirSync(path.join(repo, 'bench', 'results'), { recursive: true });
  writeFileSync(path.join(repo, 'bench', 'results', 'peers.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(repo, 'bench', 'results', 'peers.md'), `${markdown}\n`);
}

await main();
