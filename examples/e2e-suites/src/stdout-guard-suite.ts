import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { waitUntil } from '@hotmcp/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExampleUnderTest, Sandbox } from './example.js';

/** A tool module that writes to stdout at import and in its handler, both ways. */
const NOISY = `import { defineTool } from '@hotmcp/core';

console.log('noisy: console.log at import');
process.stdout.write('noisy: stdout.write at import\\n');

export default defineTool({
  name: 'noisy',
  description: 'Writes to stdout',
  handler: async () => {
    console.log('noisy: console.log in handler');
    process.stdout.write('noisy: stdout.write in handler\\n');
    return { content: [{ type: 'text', text: 'done' }] };
  },
});
`;

/** The stdout guard: what tool modules write to stdout goes to stderr, unless turned off. */
export function stdoutGuardSuite(example: ExampleUnderTest): void {
  describe(`the stdout guard of the ${example.sdk} example`, () => {
    let sandbox: Sandbox | undefined;
    let child: ChildProcessWithoutNullStreams | undefined;
    afterEach(async () => {
      child?.kill();
      await sandbox?.cleanup();
    });

    /** The example server under a raw JSON-RPC client that keeps every stdout line. */
    async function startRaw(env: Record<string, string> = {}) {
      sandbox = await example.createSandbox();
      await sandbox.write('noisy.ts', NOISY);
      const proc = spawn(process.execPath, [example.serverEntry], {
        cwd: sandbox.dir,
        env: { ...process.env, HOTMCP_TOOLS_DIR: sandbox.toolsDir, HOTMCP_AUDIT_LOG: sandbox.auditLog, ...env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      child = proc;
      const lines: string[] = [];
      const replies = new Map<number, any>();
      let stderr = '';
      proc.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      createInterface({ input: proc.stdout }).on('line', (line) => {
        lines.push(line);
        try {
          const message = JSON.parse(line);
          if (typeof message.id === 'number') replies.set(message.id, message);
        } catch {}
      });
      let id = 0;
      const request = async (method: string, params: object) => {
        const mine = ++id;
        proc.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: mine, method, params })}\n`);
        await waitUntil(() => replies.has(mine), { timeoutMs: 30_000, what: `the reply to ${method}` });
        return replies.get(mine);
      };
      await request('initialize', {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'raw', version: '0' },
      });
      proc.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
      return { lines, request, stderr: () => stderr };
    }

    it('sends what tool modules write to stdout, at import and in handlers, to stderr', async () => {
      const server = await startRaw();
      const call = await server.request('tools/call', { name: 'noisy', arguments: {} });
      expect(call.result.content[0].text).toBe('done');
      const listed = await server.request('tools/list', {});
      expect(listed.result.tools.map((tool: { name: string }) => tool.name)).toContain('noisy');
      for (const text of ['console.log at import', 'stdout.write at import', 'console.log in handler']) {
        await waitUntil(() => server.stderr().includes(`noisy: ${text}`), {
          timeoutMs: 10_000,
          what: `"${text}" on stderr`,
        });
      }
      await waitUntil(() => server.stderr().includes('noisy: stdout.write in handler'), {
        timeoutMs: 10_000,
        what: 'the handler write on stderr',
      });
      expect(server.lines.length).toBeGreaterThanOrEqual(3);
      for (const line of server.lines) expect(JSON.parse(line)).toHaveProperty('jsonrpc', '2.0');
    });

    it('leaves stdout alone with HOTMCP_STDOUT_GUARD=0, and then the output corrupts the channel', async () => {
      const server = await startRaw({ HOTMCP_STDOUT_GUARD: '0' });
      await server.request('tools/call', { name: 'noisy', arguments: {} });
      await waitUntil(() => server.lines.includes('noisy: console.log in handler'), {
        timeoutMs: 10_000,
        what: 'the handler output on stdout',
      });
      expect(server.lines).toContain('noisy: stdout.write at import');
    });
  });
}
