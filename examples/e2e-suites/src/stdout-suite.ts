import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExampleUnderTest, Sandbox } from './example.js';

/** The server's stdout carries JSON-RPC messages only. */
export function stdoutSuite(example: ExampleUnderTest): void {
  describe(`stdout of the ${example.sdk} example`, () => {
    let sandbox: Sandbox | undefined;
    afterEach(async () => sandbox?.cleanup());

    it('writes nothing but JSON-RPC messages on stdout, through reloads and failures', async () => {
      sandbox = await example.createSandbox();
      const child = spawn(process.execPath, [example.serverEntry], {
        cwd: sandbox.dir,
        env: { ...process.env, HOTMCP_TOOLS_DIR: sandbox.toolsDir, HOTMCP_AUDIT_LOG: sandbox.auditLog },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const lines: string[] = [];
      const waiters: Array<{ test: (message: any) => boolean; resolve: (message: any) => void }> = [];
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        let message: unknown;
        try {
          message = JSON.parse(line);
        } catch {
          return;
        }
        for (const waiter of [...waiters]) {
          if (waiter.test(message)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(message);
          }
        }
      });
      const next = (test: (message: any) => boolean) =>
        new Promise<any>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no such message within 10 s')), 10_000);
          waiters.push({
            test,
            resolve: (m) => {
              clearTimeout(timer);
              resolve(m);
            },
          });
        });
      const send = (message: object) => child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);

      const initialized = next((m) => m.id === 1);
      send({
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: example.protocolVersion,
          capabilities: {},
          clientInfo: { name: 'raw', version: '0' },
        },
      });
      await initialized;
      send({ method: 'notifications/initialized' });

      // A good reload, a broken one, and one that logs from a tool module at import.
      let changed = next((m) => m.method === 'notifications/tools/list_changed');
      await sandbox.write('greet.ts', example.greetTool('greet', 'Hi'));
      await changed;
      await sandbox.write('greet.ts', 'export const = broken;\n');
      changed = next((m) => m.method === 'notifications/tools/list_changed');
      await sandbox.write('loud.ts', `process.stderr.write('loud\\n');\n${example.greetTool('loud', 'Loud')}`);
      await changed;
      const listed = next((m) => m.id === 2);
      send({ id: 2, method: 'tools/list', params: {} });
      const list = await listed;
      expect(list.result.tools.map((t: { name: string }) => t.name)).toContain('loud');

      child.stdin.end();
      await new Promise((resolve) => child.on('exit', resolve));
      expect(lines.length).toBeGreaterThanOrEqual(4);
      for (const line of lines) expect(JSON.parse(line)).toHaveProperty('jsonrpc', '2.0');
    });
  });
}
