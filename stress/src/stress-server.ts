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
const FENCE_FILE = 'zz-fence.ts';
/** The example's own tool files, removed so each run starts from an empty folder. */
const EXAMPLE_FILES = ['echo.ts', 'word-count.ts', 'lib/format.ts'];
/** Per-request timeout of the client: longer means the server is stuck. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** What {@link StressServer.look} returns: the tools under test and the fence's answer. */
export interface Seen {
  view: View;
  fence: string;
}

/** One server process and its client; `alive` turns false when the connection closes. */
export class StressServer {
  alive = true;
  private fenceCount = 0;

  private constructor(
    readonly sandbox: Sandbox,
    readonly session: Session,
    readonly pid: number,
  ) {
    session.client.onclose = () => {
      this.alive = false;
    };
  }

  /** Start a server on an empty tools folder (plus the fence tool) and wait until it lists only those. */
  static async start(env: Record<string, string> = {}): Promise<StressServer> {
    const sandbox = await createSandbox();
    for (const file of EXAMPLE_FILES) await rm(join(sandbox.toolsDir, file), { force: true });
    await writeFile(join(sandbox.toolsDir, FENCE_FILE), fenceModule(0));
    const session = await connect(sandbox, env);
    const info = await session.client.callTool({ name: STATIC_TOOL, arguments: {} });
    const pid = (JSON.parse(textOf(info)) as { pid: number }).pid;
    const server = new StressServer(sandbox, session, pid);
    await server.settle({}, 'start');
    return server;
  }

  /** Empty the tools folder (all but the fence) and settle on an empty view. */
  async reset(): Promise<void> {
    for (const entry of await readdir(this.sandbox.toolsDir)) {
      if (entry !== FENCE_FILE) await rm(join(this.sandbox.toolsDir, entry), { recursive: true, force: true });
    }
    await this.settle({}, 'reset');
  }

  /** Carry out file actions in the tools folder, in order. */
  async perform(actions: readonly FileAction[]): Promise<void> {
    const at = (relative: string) => join(this.sandbox.toolsDir, relative);
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
   * What a client sees now: every listed tool under test with its description
   * and the answer of a call. The fence is called first and the list taken
   * after its answer, so a fence answer cannot pair with a list from before
   * the fence's batch.
   */
  async look(): Promise<Seen> {
    const fence = await this.answer(FENCE_TOOL);
    const { tools } = await this.session.client.listTools(undefined, { timeout: REQUEST_TIMEOUT_MS });
    const view: View = {};
    await Promise.all(
      tools.map(async (tool) => {
        if (tool.name === STATIC_TOOL || tool.name === FENCE_TOOL) return;
        view[tool.name] = { description: tool.description ?? '', answer: await this.answer(tool.name) };
      }),
    );
    return { view, fence };
  }

  /** The text a call of `name` answers, or what went wrong. */
  private async answer(name: string): Promise<string> {
    try {
      const result = await this.session.client.callTool({ name, arguments: {} }, undefined, {
        timeout: REQUEST_TIMEOUT_MS,
      });
      return result.isError ? `error result: ${textOf(result)}` : textOf(result);
    } catch (error) {
      return `error: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  /**
   * Rewrite the fence, then poll (bounded) until the fence answers its new
   * value and what the client sees equals `expected`. On timeout, throws with
   * a diff of expected against seen.
   */
  async settle(expected: View, what: string, timeoutMs = 15_000): Promise<void> {
    const fence = `fence ${++this.fenceCount}`;
    await writeFile(join(this.sandbox.toolsDir, FENCE_FILE), fenceModule(this.fenceCount));
    const deadline = Date.now() + timeoutMs;
    let seen: Seen | undefined;
    let failure: unknown;
    for (;;) {
      if (!this.alive) throw new Error(`the server died during ${what}\n${this.stderrTail()}`);
      try {
        seen = await this.look();
        failure = undefined;
        if (seen.fence === fence && sameView(expected, seen.view)) return;
      } catch (error) {
        failure = error;
      }
      if (Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const lines = [`after ${what}: what the client sees did not match the model within ${timeoutMs} ms`];
    if (failure) lines.push(`last look failed: ${failure instanceof Error ? failure.message : String(failure)}`);
    if (seen && seen.fence !== fence) lines.push(`fence: expected '${fence}', seen '${seen.fence}'`);
    if (seen) lines.push(diffViews(expected, seen.view));
    lines.push(this.stderrTail());
    throw new Error(lines.join('\n'));
  }

  /** The pid the server reports now (it must never change: the server does not restart). */
  async currentPid(): Promise<number> {
    const info = await this.session.client.callTool({ name: STATIC_TOOL, arguments: {} }, undefined, {
      timeout: REQUEST_TIMEOUT_MS,
    });
    return (JSON.parse(textOf(info)) as { pid: number }).pid;
  }

  stderrTail(): string {
    const text = this.session.stderr().trim();
    return text ? `server stderr (tail):\n${text.split('\n').slice(-20).join('\n')}` : 'server stderr: (empty)';
  }

  async stop(): Promise<void> {
    this.session.client.onclose = undefined;
    await this.session.close().catch(() => undefined);
    await this.sandbox.cleanup();
  }
}

/** The text of a tool result's first content item. */
export function textOf(result: Record<string, unknown>): string {
  const first = (result.content as Array<{ text?: string }> | undefined)?.[0];
  return first?.text ?? '';
}

function fenceModule(count: number): string {
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
