/**
 * The example SDK v1 server in a temp folder, under the real SDK Client over
 * stdio, with what the fuzz and soak runs need on top of the example's
 * harness: an emptied tools folder, file actions, death detection and a fence.
 */
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { connect, createSandbox, type Sandbox, type Session } from '@hotmcp/example-sdk-v1-server/dist/harness.js';
import type { FileAction, View } from './fuzz-model.js';

/** The tool the server registers itself; the reloader never touches it. */
export const STATIC_TOOL = 'server_info';
/** A tool module rewritten after every step: once its new answer shows, the step's changes were applied. */
export const FENCE_TOOL = 'zz_fence';
export const FENCE_FILE = 'zz-fence.ts';
/** The example's own tool files, removed so each run starts from an empty folder. */
const EXAMPLE_FILES = ['echo.ts', 'word-count.ts', 'lib/format.ts'];
/** Per-request timeout of the client: longer means the server is stuck. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** What {@link FuzzTarget.look} returns: the tools under test and the fence's answer. */
export interface Seen {
  view: View;
  fence: string;
}

/** One client of the server under test: what the fuzz looks through. */
export interface Viewer {
  /** Says which client, in a failure. */
  label: string;
  /** The listed tools with their descriptions. */
  tools(): Promise<Array<{ name: string; description?: string | undefined }>>;
  /** The text a call of `name` answers, or what went wrong. */
  answer(name: string): Promise<string>;
  /** Tools list_changed notifications received so far. */
  listChanged(): number;
}

/**
 * A server under test with its clients: file actions in its tools folder,
 * and settling until every client sees what the model says. A step that
 * changes what is listed must also reach every client as a tools
 * list_changed.
 */
export abstract class FuzzTarget {
  alive = true;
  abstract readonly toolsDir: string;
  abstract readonly viewers: readonly Viewer[];
  /** The pid the server reported at start. */
  abstract readonly pid: number;
  private fenceCount = 0;
  /** Each viewer's list_changed count before the first file action since the last settled view. */
  private notifiedBefore: number[] = [];
  /** True from the first file action after a settled view until the next one settles. */
  private stepOpen = false;
  /** Names and descriptions of the view last settled on. */
  private listed = listedOf({});

  /** The pid the server reports now (it must never change: the server does not restart). */
  abstract currentPid(): Promise<number>;
  abstract stderrTail(): string;
  abstract stop(): Promise<void>;

  /** Empty the tools folder (all but the fence) and settle on an empty view. */
  async reset(): Promise<void> {
    this.markStep();
    for (const entry of await readdir(this.toolsDir)) {
      if (entry !== FENCE_FILE) await rm(join(this.toolsDir, entry), { recursive: true, force: true });
    }
    await this.settle({}, 'reset');
  }

  /** Carry out file actions in the tools folder, in order. */
  async perform(actions: readonly FileAction[]): Promise<void> {
    this.markStep();
    const at = (relative: string) => join(this.toolsDir, relative);
    for (const action of actions) {
      if (action.kind === 'write') {
        await mkdir(dirname(at(action.path)), { recursive: true });
        await writeFile(at(action.path), action.content);
      } else if (action.kind === 'delete') {
        await rm(at(action.path), { force: true });
      } else {
        await rename(at(action.from), at(action.to));
      }
    }
  }

  /**
   * What a client sees now (the first one by default): every listed tool
   * under test with its description and the answer of a call. The fence is
   * called first and the list taken after its answer, so a fence answer
   * cannot pair with a list from before the fence's batch.
   */
  async look(viewer: Viewer = this.viewers[0] as Viewer): Promise<Seen> {
    const fence = await viewer.answer(FENCE_TOOL);
    const tools = await viewer.tools();
    const view: View = {};
    await Promise.all(
      tools.map(async (tool) => {
        if (tool.name === STATIC_TOOL || tool.name === FENCE_TOOL) return;
        view[tool.name] = { description: tool.description ?? '', answer: await viewer.answer(tool.name) };
      }),
    );
    return { view, fence };
  }

  /**
   * Rewrite the fence, then poll (bounded) until every client's fence answers
   * its new value, what it sees equals `expected`, and, when `expected` lists
   * other names or descriptions than the last settled view, it received a
   * tools list_changed since the first file action after that view. On timeout, throws with a diff
   * of expected against what the first client that differs sees.
   */
  async settle(expected: View, what: string, timeoutMs = 15_000): Promise<void> {
    const fence = `fence ${++this.fenceCount}`;
    await writeFile(join(this.toolsDir, FENCE_FILE), fenceModule(this.fenceCount));
    const notify = listedOf(expected) !== this.listed;
    const notified = (viewer: Viewer, index: number) =>
      !notify || viewer.listChanged() > (this.notifiedBefore[index] ?? Number.POSITIVE_INFINITY);
    const deadline = Date.now() + timeoutMs;
    let seen: Seen | undefined;
    let failure: unknown;
    let differs: Viewer | undefined;
    for (;;) {
      if (!this.alive) throw new Error(`the server died during ${what}\n${this.stderrTail()}`);
      try {
        differs = undefined;
        for (const [index, viewer] of this.viewers.entries()) {
          seen = await this.look(viewer);
          if (seen.fence !== fence || !sameView(expected, seen.view) || !notified(viewer, index)) {
            differs = viewer;
            break;
          }
        }
        failure = undefined;
        if (!differs) {
          this.listed = listedOf(expected);
          this.stepOpen = false;
          return;
        }
      } catch (error) {
        failure = error;
      }
      if (Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const lines = [
      `after ${what}: what ${differs?.label ?? 'a client'} sees did not match the model within ${timeoutMs} ms`,
    ];
    if (failure) lines.push(`last look failed: ${failure instanceof Error ? failure.message : String(failure)}`);
    if (seen && seen.fence !== fence) lines.push(`fence: expected '${fence}', seen '${seen.fence}'`);
    if (differs && !notified(differs, this.viewers.indexOf(differs))) {
      lines.push('no tools list_changed arrived for a step that changed what is listed');
    }
    if (seen) lines.push(diffViews(expected, seen.view));
    lines.push(this.stderrTail());
    throw new Error(lines.join('\n'));
  }

  /** Note the list_changed counts as a step's first file action starts (a step may take many, as in the soak). */
  private markStep(): void {
    if (this.stepOpen) return;
    this.stepOpen = true;
    this.notifiedBefore = this.viewers.map((viewer) => viewer.listChanged());
  }
}

/** The example SDK v1 server over stdio, with one client. */
export class StressServer extends FuzzTarget {
  readonly toolsDir: string;
  readonly viewers: readonly Viewer[];

  private constructor(
    readonly sandbox: Sandbox,
    readonly session: Session,
    readonly pid: number,
  ) {
    super();
    this.toolsDir = sandbox.toolsDir;
    session.client.onclose = () => {
      this.alive = false;
    };
    this.viewers = [
      {
        label: 'the stdio client',
        tools: async () => (await session.client.listTools(undefined, { timeout: REQUEST_TIMEOUT_MS })).tools,
        answer: (name) =>
          answerOf(() => session.client.callTool({ name, arguments: {} }, undefined, { timeout: REQUEST_TIMEOUT_MS })),
        listChanged: () => session.listChanged(),
      },
    ];
  }

  /** Start a server on an empty tools folder (plus the fence tool) and wait until it lists only those. */
  static async start(env: Record<string, string> = {}): Promise<StressServer> {
    const sandbox = await createSandbox();
    for (const file of EXAMPLE_FILES) await rm(join(sandbox.toolsDir, file), { force: true });
    await writeFile(join(sandbox.toolsDir, FENCE_FILE), fenceModule(0));
    const session = await connect(sandbox, env);
    const info = await session.client.callTool({ name: STATIC_TOOL, arguments: {} });
    const pid = pidOf(textOf(info));
    const server = new StressServer(sandbox, session, pid);
    await server.settle({}, 'start');
    return server;
  }

  async currentPid(): Promise<number> {
    const info = await this.session.client.callTool({ name: STATIC_TOOL, arguments: {} }, undefined, {
      timeout: REQUEST_TIMEOUT_MS,
    });
    return pidOf(textOf(info));
  }

  stderrTail(): string {
    return tail(this.session.stderr());
  }

  async stop(): Promise<void> {
    this.session.client.onclose = undefined;
    await this.session.close().catch(() => undefined);
    await this.sandbox.cleanup();
  }
}

/** Call a tool: its text, `error result: …` for an error result, `error: …` when the call failed. */
export async function answerOf(call: () => Promise<Record<string, unknown>>): Promise<string> {
  try {
    const result = await call();
    return result.isError ? `error result: ${textOf(result)}` : textOf(result);
  } catch (error) {
    return `error: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** The pid in the answer of the static `server_info` tool. */
export function pidOf(text: string): number {
  return (JSON.parse(text) as { pid: number }).pid;
}

/** The last lines of a server's stderr, for a failure message. */
export function tail(stderr: string): string {
  const text = stderr.trim();
  return text ? `server stderr (tail):\n${text.split('\n').slice(-20).join('\n')}` : 'server stderr: (empty)';
}

/** What a client lists of `view`: names and descriptions, not answers. */
function listedOf(view: View): string {
  return JSON.stringify(
    Object.keys(view)
      .sort()
      .map((name) => [name, view[name]?.description]),
  );
}

/** The text of a tool result's first content item. */
export function textOf(result: Record<string, unknown>): string {
  const first = (result.content as Array<{ text?: string }> | undefined)?.[0];
  return first?.text ?? '';
}

/** The fence tool's module, answering `fence <count>`. */
export function fenceModule(count: number): string {
  return `import { defineTool } from '@hotmcp/core';

export default defineTool({
  name: '${FENCE_TOOL}',
  description: 'Answers the number of the last fence written',
  handler: async () => ({ content: [{ type: 'text', text: 'fence ${count}' }] }),
});
`;
}

function sameView(a: View, b: View): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => b[key]?.answer === a[key]?.answer && b[key]?.description === a[key]?.description);
}

/** A line per tool that differs: `- name: expected` / `+ name: seen`. */
export function diffViews(expected: View, seen: View): string {
  const lines = ['model (-) vs seen (+):'];
  for (const name of [...new Set([...Object.keys(expected), ...Object.keys(seen)])].sort()) {
    const want = expected[name];
    const got = seen[name];
    const show = (entry: View[string] | undefined) =>
      entry ? `'${entry.answer}' [${entry.description}]` : '(not listed)';
    if (want?.answer === got?.answer && want?.description === got?.description) lines.push(`  ${name}: ${show(want)}`);
    else lines.push(`- ${name}: ${show(want)}`, `+ ${name}: ${show(got)}`);
  }
  return lines.join('\n');
}
