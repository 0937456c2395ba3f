// Benchmark: spawn → first tools/list listing every tool, the example server (examples/sdk-v1-server,
// default settings) with N tool modules in its folder, against a plain SDK server importing and
// registering the same tools statically, in the same run.
//
//   node bench/startup.mjs      (MODULES=1,200,2000 STARTS=5; also part of pnpm bench)
//
// Each start is a fresh process under the official SDK Client over stdio; the clock runs from
// the spawn until a tools/list holds all N tools (asked again after each list_changed).
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const example = path.join(here, '..', 'examples', 'sdk-v1-server');

const body = (n) => `{
  name: 'tool_${n}',
  description: 'Tool ${n}',
  inputSchema: { text: z.string() },
  handler: async ({ text }) => ({ content: [{ type: 'text', text: 'tool ${n} ' + text }] }),
}`;
const hotmcpTool = (n) =>
  `import { defineTool } from '@hotmcp/core';\nimport { z } from 'zod';\n\nexport default defineTool(${body(n)});\n`;
const plainTool = (n) => `import { z } from 'zod';\n\nexport default ${body(n)};\n`;

/** A folder with `count` tool modules for each server, resolving packages from the example. */
async function layout(count) {
  const dir = await mkdtemp(path.join(tmpdir(), 'hotmcp-startup-'));
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  symlinkSync(path.join(example, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  mkdirSync(path.join(dir, 'tools'));
  mkdirSync(path.join(dir, 'plain'));
  const imports = [];
  for (let n = 0; n < count; n++) {
    writeFileSync(path.join(dir, 'tools', `tool-${n}.ts`), hotmcpTool(n));
    writeFileSync(path.join(dir, 'plain', `tool-${n}.js`), plainTool(n));
    imports.push(`import t${n} from './plain/tool-${n}.js';`);
  }
  writeFileSync(
    path.join(dir, 'plain-server.mjs'),
    `import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
${imports.join('\n')}

const server = new McpServer({ name: 'plain', version: '0.0.0' });
for (const tool of [${imports.map((_, n) => `t${n}`).join(', ')}]) {
  server.registerTool(tool.name, { description: tool.description, inputSchema: tool.inputSchema }, tool.handler);
}
await server.connect(new StdioServerTransport());
`,
  );
  return {
    dir,
    hotmcp: { args: [path.join(example, 'dist', 'server.js')], env: { HOTMCP_TOOLS_DIR: path.join(dir, 'tools') } },
    plain: { args: [path.join(dir, 'plain-server.mjs')], env: {} },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Spawn, connect, and list until every `tool_N` is there: ms from the spawn. */
async function timeStart({ args, env }, count) {
  const start = performance.now();
  const client = new Client({ name: 'bench-startup', version: '0' });
  let wake = () => {};
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => wake());
  const transport = new StdioClientTransport({
    command: process.execPath,
    args,
    env: { ...process.env, ...env },
    stderr: 'ignore',
  });
  await client.connect(transport);
  const initializedMs = performance.now() - start;
  try {
    for (const deadline = performance.now() + 300_000; ; ) {
      if (performance.now() > deadline) throw new Error(`not every one of the ${count} tools was listed within 300 s`);
      const changed = new Promise((resolve) => {
        wake = resolve;
        setTimeout(resolve, 250);
      });
      const { tools } = await client.listTools(undefined, { timeout: 120_000 });
      if (tools.filter((tool) => tool.name.startsWith('tool_')).length === count) break;
      await changed;
    }
    return { listedMs: performance.now() - start, initializedMs };
  } finally {
    await client.close();
  }
}

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { n: sorted.length, p50: sorted[Math.floor((sorted.length - 1) / 2)], max: sorted.at(-1) };
}

/** For each module count: both servers started `starts` times, alternately. */
export async function startupRows({
  modules = [1, 200, 2000],
  starts = 5,
  log = (line) => process.stderr.write(`${line}\n`),
} = {}) {
  const rows = [];
  for (const count of modules) {
    log(`start-up with ${count} modules…`);
    const folder = await layout(count);
    try {
      // One untimed start of each, so the page cache holds every file.
      await timeStart(folder.hotmcp, count);
      await timeStart(folder.plain, count);
      const hot = [];
      const plain = [];
      for (let i = 0; i < starts; i++) {
        hot.push(await timeStart(folder.hotmcp, count));
        plain.push(await timeStart(folder.plain, count));
      }
      const row = {
        modules: count,
        hotmcp: stats(hot.map((s) => s.listedMs)),
        hotmcpInitialized: stats(hot.map((s) => s.initializedMs)),
        plain: stats(plain.map((s) => s.listedMs)),
      };
      row.ratio = row.hotmcp.p50 / row.plain.p50;
      rows.push(row);
    } finally {
      folder.cleanup();
    }
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const modules = (process.env.MODULES ?? '1,200,2000').split(',').map(Number);
  const rows = await startupRows({ modules, starts: Number(process.env.STARTS ?? 5) });
  for (const row of rows) {
    process.stdout.write(
      `${row.modules} modules: hotmcp ${row.hotmcp.p50.toFixed(0)} ms (initialize ${row.hotmcpInitialized.p50.toFixed(0)} ms), plain ${row.plain.p50.toFixed(0)} ms, ${row.ratio.toFixed(2)}×\n`,
    );
  }
}
