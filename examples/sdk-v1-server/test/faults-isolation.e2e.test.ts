// Fault catalogue, part 5 (issue 16): nothing one module does may stall, crash
// or poison the reloader. Each case: the server keeps answering (same pid),
// the faulty module is refused and named, and every other module's change in
// the same or a later save is still applied.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from '@hotmcp/core/testing';
import { describe, expect, it } from 'vitest';
import { callText } from '../src/harness.js';
import {
  auditEvents,
  auditMark,
  expectEchoKept,
  expectEchoRecovers,
  greetTool,
  loadFailed,
  serverPid,
  toolNames,
  untilAnswers,
  useServer,
  waitForAuditAfter,
} from './support.js';

// The control tools on: status is read through hotmcp_status, as a client would.
const server = useServer({ env: { HOTMCP_CONTROL_TOOLS: '1' } });

/** Statements that throw a value no `String()` or `instanceof` survives. */
const HOSTILE_THROWS: Array<[string, string]> = [
  ['an object with no prototype', 'throw Object.create(null);'],
  ['an object whose toString throws', "throw { toString() { throw new Error('no string for you'); } };"],
  [
    'a Proxy whose every trap throws',
    "throw new Proxy({}, new Proxy({}, { get: () => () => { throw new Error('trap'); } }));",
  ],
];

describe('a module that throws a hostile value at import', () => {
  it.each(HOSTILE_THROWS)(
    'is refused alone when it throws %s; the same save applies the other edits',
    async (_, statement) => {
      const mark = await auditMark(server.sandbox);
      const echo = await server.sandbox.read('echo.ts');
      await Promise.all([
        server.sandbox.write('echo.ts', `${echo}\n${statement}\n`),
        server.sandbox.write('word-count.ts', greetTool('word_count', 'Counted')),
        server.sandbox.write('added.ts', greetTool('added', 'Added')),
      ]);
      const failure = await waitForAuditAfter(
        server.sandbox,
        mark,
        (e) => loadFailed(e) && e.module === server.path('echo.ts'),
      );
      expect(failure).toMatchObject({ code: 'HOTMCP_ERR_IMPORT_THREW', file: server.path('echo.ts') });
      await untilAnswers(server.session, 'word_count', { name: 'b' }, 'Counted b');
      await untilAnswers(server.session, 'added', { name: 'c' }, 'Added c');
      await expectEchoKept(server);
      await expectEchoRecovers(server);
    },
  );
});

describe('a dispose hook that misbehaves', () => {
  it('is cut off at its time limit when it never settles: later reloads still apply, and status names it', async () => {
    const neverSettles = (greeting: string) =>
      `${greetTool('echo', greeting)}\nexport function dispose() { return new Promise(() => {}); }\n`;
    await server.sandbox.write('echo.ts', neverSettles('One'));
    await untilAnswers(server.session, 'echo', { name: 'x' }, 'One x');
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write('echo.ts', neverSettles('Two'));
    await untilAnswers(server.session, 'echo', { name: 'x' }, 'Two x');
    const overrun = await waitForAuditAfter(server.sandbox, mark, (e) => e.event === 'module.dispose_failed', 20_000);
    expect(overrun).toMatchObject({ code: 'HOTMCP_ERR_DISPOSE_TIMEOUT', file: server.path('echo.ts') });
    await server.sandbox.write('word-count.ts', greetTool('word_count', 'Counted'));
    await untilAnswers(server.session, 'word_count', { name: 'b' }, 'Counted b', 20_000);
    const status = JSON.parse(await callText(server.session.client, 'hotmcp_status')) as {
      errors: Array<{ module: string; code: string }>;
    };
    expect(status.errors).toContainEqual(
      expect.objectContaining({ module: 'echo.ts', code: 'HOTMCP_ERR_DISPOSE_TIMEOUT' }),
    );
    expect(await serverPid(server.session)).toBe(server.pid);
  });
});

/** A tool whose handler marks that it started, sleeps, then answers with what its module's dispose() cleared. */
const slowTool = (greeting: string) => `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineTool } from '@hotmcp/core';

const state = { open: true };
const mark = (name) => writeFileSync(join(import.meta.dirname, '..', name), '${greeting}');

export default defineTool({
  name: 'slow',
  description: 'Answer after a while',
  handler: async () => {
    mark('started');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    return { content: [{ type: 'text', text: '${greeting} ' + (state.open ? 'open' : 'disposed') }] };
  },
});

export function dispose() {
  state.open = false;
  mark('disposed');
}
`;

describe('a module replaced while a call to it is in flight', () => {
  it('is disposed only after that call has finished', async () => {
    await server.sandbox.write('slow.ts', slowTool('One'));
    await waitUntil(async () => (await toolNames(server.session)).includes('slow'), {
      timeoutMs: 10_000,
      what: 'slow to be listed',
    });
    const started = join(server.sandbox.dir, 'started');
    const call = callText(server.session.client, 'slow');
    await waitUntil(async () => existsSync(started), { timeoutMs: 10_000, what: 'the call to start' });
    await server.sandbox.write('slow.ts', slowTool('Two'));
    expect(await call).toBe('One open');
    await waitUntil(async () => existsSync(join(server.sandbox.dir, 'disposed')), {
      timeoutMs: 20_000,
      what: 'v1 to be disposed',
    });
    await untilAnswers(server.session, 'slow', {}, 'Two open', 20_000);
  });
});

const WORKER_KILLERS: Array<[string, string]> = [
  ['process.exit(1)', 'process.exit(1);'],
  ['process.kill(process.pid)', 'process.kill(process.pid);'],
  ['process.abort()', 'process.abort();'],
  [
    'an unhandled rejection at import',
    "Promise.reject(new Error('nobody listens'));\nawait new Promise((r) => setTimeout(r, 50));",
  ],
  ['a heap it exhausts', 'const hoard: string[][] = []; for (;;) hoard.push(new Array(1e6).fill("x"));'],
];

describe('a module whose first line ends the thread that evaluates it', () => {
  it.each(WORKER_KILLERS)(
    'is refused when it runs %s; the server keeps its last good version',
    async (_, statement) => {
      const mark = await auditMark(server.sandbox);
      await server.sandbox.write('echo.ts', `${statement}\n${await server.sandbox.read('echo.ts')}`);
      const failure = await waitForAuditAfter(
        server.sandbox,
        mark,
        (e) => loadFailed(e) && e.module === server.path('echo.ts'),
        20_000,
      );
      // A heap being exhausted slows to a crawl first: the time limit may stop it before the heap runs out.
      const codes = statement.includes('hoard')
        ? ['HOTMCP_ERR_IMPORT_THREW', 'HOTMCP_ERR_IMPORT_TIMEOUT']
        : ['HOTMCP_ERR_IMPORT_THREW'];
      expect(codes).toContain(failure.code);
      expect(failure.file).toBe(server.path('echo.ts'));
      await expectEchoKept(server);
      await expectEchoRecovers(server);
    },
    // Three bounded waits in a row (the failure, the last good, the recovery): more than the default on a loaded machine.
    60_000,
  );
});

const LATE_THROWS: Array<[string, string]> = [
  ['a timer that throws', "setTimeout(() => { throw new Error('late failure'); }, 300);"],
  ['a rejected promise nobody awaits', "setTimeout(() => { Promise.reject(new Error('late failure')); }, 300);"],
  [
    "an 'error' event with no listener",
    "import { EventEmitter } from 'node:events';\nconst emitter = new EventEmitter();\nsetTimeout(() => emitter.emit('error', new Error('late failure')), 300);",
  ],
];

describe('a module whose code fails after its import', () => {
  it.each(LATE_THROWS)('is named and audited when %s fires, and the server keeps serving', async (_, statement) => {
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write('echo.ts', `${statement}\n${await server.sandbox.read('echo.ts')}`);
    const uncaught = await waitForAuditAfter(server.sandbox, mark, (e) => e.event === 'module.uncaught', 20_000);
    expect(uncaught).toMatchObject({
      code: 'HOTMCP_ERR_UNCAUGHT',
      module: server.path('echo.ts'),
      line: statement.split('\n').length, // the statement's last line, where the error is made
    });
    expect(String(uncaught.message)).toContain('late failure');
    await expectEchoKept(server);
    const status = JSON.parse(await callText(server.session.client, 'hotmcp_status')) as {
      errors: Array<{ module: string; code: string }>;
    };
    expect(status.errors).toContainEqual(expect.objectContaining({ module: 'echo.ts', code: 'HOTMCP_ERR_UNCAUGHT' }));
    await expectEchoRecovers(server);
  });
});

describe('a module whose top-level code never finishes on the main thread only', () => {
  it('is refused and named after a time limit, and edits of other files are still applied', async () => {
    const mark = await auditMark(server.sandbox);
    const hang = "import { isMainThread } from 'node:worker_threads';\nif (isMainThread) await new Promise(() => {});";
    await server.sandbox.write('echo.ts', `${hang}\n${await server.sandbox.read('echo.ts')}`);
    const failure = await waitForAuditAfter(
      server.sandbox,
      mark,
      (e) => loadFailed(e) && e.module === server.path('echo.ts'),
      20_000,
    );
    expect(failure).toMatchObject({ code: 'HOTMCP_ERR_IMPORT_TIMEOUT', file: server.path('echo.ts'), thread: 'main' });
    await server.sandbox.write('word-count.ts', greetTool('word_count', 'Counted'));
    await untilAnswers(server.session, 'word_count', { name: 'b' }, 'Counted b', 20_000);
    await expectEchoKept(server);
    await expectEchoRecovers(server);
  });
});

describe('what a module imports besides code', () => {
  it('reloads the importer when only an imported JSON file is edited', async () => {
    await server.sandbox.write('data.json', '{ "greeting": "Hello" }\n');
    await server.sandbox.write(
      'data-tool.ts',
      `import { defineTool } from '@hotmcp/core';
import data from './data.json' with { type: 'json' };

export default defineTool({
  name: 'from_data',
  description: 'Greet from the data file',
  handler: async () => ({ content: [{ type: 'text', text: data.greeting }] }),
});
`,
    );
    await untilAnswers(server.session, 'from_data', {}, 'Hello');
    await server.sandbox.write('data.json', '{ "greeting": "Bonjour" }\n');
    await untilAnswers(server.session, 'from_data', {}, 'Bonjour');
    expect(await serverPid(server.session)).toBe(server.pid);
  });
});

describe('text that only looks like code', () => {
  it('loads a module whose template literal holds a line that reads like require()', async () => {
    await server.sandbox.write(
      'docs-tool.ts',
      `import { defineTool } from '@hotmcp/core';

const usage = \`
require("./setup.js")
\`;

export default defineTool({
  name: 'usage',
  description: 'How to set up',
  handler: async () => ({ content: [{ type: 'text', text: usage.trim() }] }),
});
`,
    );
    await untilAnswers(server.session, 'usage', {}, 'require("./setup.js")');
  });

  it("loads a module with a top-level await and a string holding the compiler's await stand-in", async () => {
    await server.sandbox.write(
      'marked-tool.ts',
      `import { defineTool } from '@hotmcp/core';

const ready = await Promise.resolve('~-~-~');

export default defineTool({
  name: 'marked',
  description: 'Answer with a marker',
  handler: async () => ({ content: [{ type: 'text', text: ready }] }),
});
`,
    );
    await untilAnswers(server.session, 'marked', {}, '~-~-~');
  });
});

const STDOUT_ABUSE: Array<[string, string]> = [
  ['ends stdout', "process.stdout.end('bye\\n');"],
  ['corks stdout', 'process.stdout.cork();'],
];

describe('a handler that reaches for stdout other than by write()', () => {
  it.each(STDOUT_ABUSE)('keeps the MCP channel working when a handler %s', async (_, statement) => {
    await server.sandbox.write(
      'rude.ts',
      `import { defineTool } from '@hotmcp/core';

export default defineTool({
  name: 'rude',
  description: 'Handles stdout rudely',
  handler: async () => {
    ${statement}
    return { content: [{ type: 'text', text: 'done' }] };
  },
});
`,
    );
    await untilAnswers(server.session, 'rude', {}, 'done');
    await expectEchoKept(server);
    await untilAnswers(server.session, 'rude', {}, 'done');
    await expectEchoKept(server);
  });
});

describe('a module that leaves a timer running at import with no dispose()', () => {
  it('is warned about once, on stderr, in the audit log and in status, with the fix', async () => {
    const ticking = (greeting: string) => `setInterval(() => {}, 10);\n${greetTool('echo', greeting)}`;
    const mark = await auditMark(server.sandbox);
    await server.sandbox.write('echo.ts', ticking('One'));
    await untilAnswers(server.session, 'echo', { name: 'x' }, 'One x');
    const warning = await waitForAuditAfter(server.sandbox, mark, (e) => e.event === 'module.timers_left');
    expect(warning).toMatchObject({ module: server.path('echo.ts'), timers: 1 });
    expect(String(warning.message)).toContain('dispose()');
    expect(server.session.stderr()).toContain('leaves 1 timer running at import and exports no dispose()');
    await server.sandbox.write('echo.ts', ticking('Two'));
    await untilAnswers(server.session, 'echo', { name: 'x' }, 'Two x');
    const status = JSON.parse(await callText(server.session.client, 'hotmcp_status')) as {
      warnings?: Array<{ module: string; code: string }>;
    };
    expect(status.warnings).toEqual([expect.objectContaining({ module: 'echo.ts', code: 'HOTMCP_WARN_TIMERS_LEFT' })]);
    const events = (await auditEvents(server.sandbox)).slice(mark).filter((e) => e.event === 'module.timers_left');
    expect(events).toHaveLength(1);
  });
});
