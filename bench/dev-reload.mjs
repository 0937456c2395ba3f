// Benchmark of `hotmcp dev`: an unchanged SDK server (examples/existing-server) run
// hot-reloaded in-process, under the official SDK Client over stdio.
//
//   pnpm bench      (runs it after reload-latency.mjs; alone: node bench/dev-reload.mjs)
//
// Measured, each as p50 / p95 / max (ITERATIONS edits each, default 20):
//
// - edit of a leaf tool module (src/tools/greet.ts, a registerTools(server) module) →
//   first call returning the new code, edits ~300 ms and ~1 s apart;
// - edit of the entry of a generated 20-module server (its own tool) → new code;
// - edit of a module of a server built on the low-level `Server` (no McpServer: applied by a
//   restart the supervisor hides), edits 1 s apart, against restarting it under `tsx` by hand
//   (stop, spawn, initialize, first call) in the same run;
// - start-up, spawn → first answered tools/list, of the same entry under `hotmcp dev`,
//   under `tsx` (TypeScript) and, for its JS build, under `hotmcp dev` and `node`,
//   interleaved in one run (STARTS rounds, default 10), as ratios.
//
// The machine's load average is recorded at the start and the end. Prints a markdown
// table and writes bench/results/dev-reload.json and bench/results/dev-reload.md.
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = path.join(here, '..');
const example = path.join(root, 'examples', 'existing-server');
const cli = path.join(root, 'packages', 'cli', 'dist', 'bundle', 'bin.cjs');
const tsx = createRequire(import.meta.url).resolve('tsx/cli');
const iterations = Number(process.env.ITERATIONS ?? 20);
const starts = Number(process.env.STARTS ?? 10);
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line) => process.stderr.write(`${line}\n`);

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), max: sorted.at(-1) };
}

/** A temp copy of the example (sources, JS build, package.json), resolving packages from it. */
function exampleCopy() {
  const dir = mkdtempSync(path.join(tmpdir(), 'hotmcp-dev-bench-'));
  for (const part of ['src', 'dist', 'package.json'])
    cpSync(path.join(example, part), path.join(dir, part), { recursive: true });
  symlinkSync(path.join(example, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

/** A server of 20 registerTools modules plus a tool of its own in the entry. */
function twentyModules(reply) {
  const dir = mkdtempSync(path.join(tmpdir(), 'hotmcp-dev-bench-20-'));
  symlinkSync(path.join(example, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  mkdirSync(path.join(dir, 'src', 'tools'), { recursive: true });
  const names = Array.from({ length: 20 }, (_, n) => `m${String(n).padStart(2, '0')}`);
  for (const name of names) {
    writeFileSync(
      path.join(dir, 'src', 'tools', `${name}.ts`),
      `import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
export function register_${name}(server: McpServer): void {
  server.registerTool('${name}', { description: 'Tool ${name}', inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: 'text', text: '${name} ' + text }],
  }));
}
`,
    );
  }
  const entry = (text) => `import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
${names.map((name) => `import { register_${name} } from './tools/${name}.js';`).join('\n')}

const server = new McpServer({ name: 'twenty', version: '1.0.0' });
server.registerTool('entry_tool', { description: 'The entry file tool' }, async () => ({
  content: [{ type: 'text', text: ${JSON.stringify(text)} }],
}));
${names.map((name) => `register_${name}(server);`).join('\n')}
await server.connect(new StdioServerTransport());
`;
  writeFileSync(path.join(dir, 'src', 'server.ts'), entry(reply));
  return { dir, write: (text) => writeFileSync(path.join(dir, 'src', 'server.ts'), entry(text)) };
}

async function connect(command, args, cwd) {
  const transport = new StdioClientTransport({ command, args, cwd, stderr: 'ignore' });
  const client = new Client({ name: 'hotmcp-dev-bench', version: '0.0.0' });
  await client.connect(transport);
  return client;
}

async function callText(client, name, args = {}) {
  const result = await client.callTool({ name, arguments: args });
  return result.content[0]?.text ?? '';
}

/** Edit, then call until the new code answers; `gapMs` between edits. */
async function editToNewCode(edit, probe, gapMs) {
  const samples = [];
  for (let i = 0; i < iterations; i++) {
    const token = `v${Date.now()}x${i}`;
    const started = performance.now();
    edit(token);
    const deadline = started + 10_000;
    while (!(await probe()).includes(token)) {
      if (performance.now() > deadline) throw new Error(`edit ${i} not applied within 10 s`);
    }
    const took = performance.now() - started;
    samples.push(took);
    await pause(Math.max(0, gapMs - took));
  }
  return stats(samples);
}

const greet = (reply) => `import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

export function registerGreetTools(server: McpServer): void {
  server.registerTool(
    'greet',
    { description: 'Greet someone', inputSchema: { name: z.string() } },
    async ({ name }) => ({ content: [{ type: 'text', text: ${JSON.stringify(reply)} + name }] }),
  );
}
`;

async function leafEdits() {
  const dir = exampleCopy();
  const client = await connect(process.execPath, [cli, 'dev', '--no-audit', 'src/server.ts'], dir);
  try {
    const edit = (token) => writeFileSync(path.join(dir, 'src', 'tools', 'greet.ts'), greet(`${token} `));
    const probe = () => callText(client, 'greet', { name: 'x' });
    const result = {};
    for (const gapMs of [300, 1000]) {
      log(`leaf edits ${gapMs} ms apart…`);
      result[gapMs] = await editToNewCode(edit, probe, gapMs);
    }
    return result;
  } finally {
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function entryEdits() {
  const project = twentyModules('start');
  const client = await connect(process.execPath, [cli, 'dev', '--no-audit', 'src/server.ts'], project.dir);
  try {
    log('entry edits of a 20-module server…');
    if ((await client.listTools()).tools.length !== 21) throw new Error('the 20-module server does not list 21 tools');
    return await editToNewCode(project.write, () => callText(client, 'entry_tool'), 300);
  } finally {
    await client.close();
    rmSync(project.dir, { recursive: true, force: true });
  }
}

/** A server on the low-level Server (its own tools/list and tools/call handlers) whose answer comes from a module. */
function lowLevelServer(reply) {
  const dir = mkdtempSync(path.join(tmpdir(), 'hotmcp-dev-bench-low-'));
  symlinkSync(path.join(example, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  mkdirSync(path.join(dir, 'src'), { recursive: true });
  writeFileSync(
    path.join(dir, 'src', 'server.ts'),
    `import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { reply } from './reply.js';

const server = new Server({ name: 'low-level', version: '1.0.0' }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, async () => ({
  tools: [{ name: 'answer', description: 'Answer', inputSchema: { type: 'object' } }],
}));
server.setRequestHandler(CallToolRequestSchema, async () => ({ content: [{ type: 'text', text: reply() }] }));
await server.connect(new StdioServerTransport());
`,
  );
  const write = (text) =>
    writeFileSync(path.join(dir, 'src', 'reply.ts'), `export const reply = (): string => ${JSON.stringify(text)};\n`);
  write(reply);
  return { dir, write };
}

async function lowLevelEdits() {
  const project = lowLevelServer('start');
  try {
    log('low-level Server entry: edits 1 s apart…');
    const client = await connect(process.execPath, [cli, 'dev', '--no-audit', 'src/server.ts'], project.dir);
    let dev;
    try {
      dev = await editToNewCode(project.write, () => callText(client, 'answer'), 1000);
    } finally {
      await client.close();
    }
    log('low-level Server entry: restarted under tsx by hand…');
    const samples = [];
    let plain = await connect(process.execPath, [tsx, 'src/server.ts'], project.dir);
    try {
      for (let i = 0; i < iterations; i++) {
        const token = `v${Date.now()}x${i}`;
        const started = performance.now();
        project.write(token);
        await plain.close();
        plain = await connect(process.execPath, [tsx, 'src/server.ts'], project.dir);
        if (!(await callText(plain, 'answer')).includes(token)) throw new Error('tsx restarted into the old code');
        samples.push(performance.now() - started);
        await pause(Math.max(0, 1000 - (performance.now() - started)));
      }
    } finally {
      await plain.close();
    }
    return { dev, tsx: stats(samples) };
  } finally {
    rmSync(project.dir, { recursive: true, force: true });
  }
}

async function startUps() {
  const dir = exampleCopy();
  const runs = {
    devTs: [cli, 'dev', '--no-audit', 'src/server.ts'],
    tsx: [tsx, 'src/server.ts'],
    devJs: [cli, 'dev', '--no-audit', 'dist/server.js'],
    node: ['dist/server.js'],
  };
  const samples = Object.fromEntries(Object.keys(runs).map((key) => [key, []]));
  try {
    for (let round = 0; round < starts; round++) {
      log(`start-ups, round ${round + 1} of ${starts}…`);
      for (const [key, args] of Object.entries(runs)) {
        const started = performance.now();
        const client = await connect(process.execPath, args, dir);
        await client.listTools();
        samples[key].push(performance.now() - started);
        await client.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return Object.fromEntries(Object.entries(samples).map(([key, values]) => [key, stats(values)]));
}

const ms = (value) => `${value.toFixed(1)} ms`;
const row = (label, s) => `| ${label} | ${ms(s.p50)} | ${ms(s.p95)} | ${ms(s.max)} |`;

function report(result) {
  const { leaf, entry, lowLevel, startup, machine } = result;
  return [
    `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.platform}; load average ${machine.loadBefore} at the start, ${machine.loadAfter} at the end. ${iterations} edits per row; ${starts} start-ups of each kind, interleaved.`,
    '',
    '| hotmcp dev (examples/existing-server, SDK 1.x)                        | p50 | p95 | max |',
    '| ---------------------------------------------------------------------- | --- | --- | --- |',
    row('leaf tool module edit → first call returning new code, edits 300 ms apart', leaf[300]),
    row('leaf tool module edit → first call returning new code, edits 1 s apart', leaf[1000]),
    row('entry edit of a 20-module server → new code (edits 300 ms apart)', entry),
    row(
      'low-level Server entry: module edit → first call returning new code (a hidden restart, edits 1 s apart)',
      lowLevel.dev,
    ),
    row('the same server restarted under tsx by hand: stop, spawn, initialize, first call', lowLevel.tsx),
    row('start-up, spawn → first tools/list answered: hotmcp dev src/server.ts', startup.devTs),
    row('start-up: tsx src/server.ts', startup.tsx),
    row('start-up: hotmcp dev dist/server.js (the JS build)', startup.devJs),
    row('start-up: node dist/server.js', startup.node),
    '',
    `Start-up under hotmcp dev (p50): ${result.ratios.ts.toFixed(2)}× tsx for the TypeScript entry, ${result.ratios.js.toFixed(2)}× node for its JS build. A low-level Server entry's edit (p50): ${result.ratios.lowLevel.toFixed(2)}× its restart under tsx by hand, and the client keeps its session.`,
  ].join('\n');
}

const load = () =>
  loadavg()
    .map((value) => value.toFixed(1))
    .join(' / ');
const began = performance.now();
const machine = {
  cpu: cpus()[0]?.model ?? 'unknown CPU',
  cores: cpus().length,
  node: process.version,
  platform: process.platform,
  loadBefore: load(),
};
log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load ${machine.loadBefore}`);
const leaf = await leafEdits();
const entry = await entryEdits();
const lowLevel = await lowLevelEdits();
const startup = await startUps();
machine.loadAfter = load();
const result = {
  machine,
  date: new Date().toISOString(),
  settings: { iterations, starts },
  leaf,
  entry,
  lowLevel,
  startup,
  ratios: {
    ts: startup.devTs.p50 / startup.tsx.p50,
    js: startup.devJs.p50 / startup.node.p50,
    lowLevel: lowLevel.dev.p50 / lowLevel.tsx.p50,
  },
  runSeconds: (performance.now() - began) / 1000,
};
const markdown = report(result);
process.stdout.write(`${markdown}\n\nTotal run time ${result.runSeconds.toFixed(0)} s.\n`);
mkdirSync(path.join(here, 'results'), { recursive: true });
writeFileSync(path.join(here, 'results', 'dev-reload.json'), `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(path.join(here, 'results', 'dev-reload.md'), `${markdown}\n`);
