// The crash guard in a real Node process: what a tool module throws later is
// handed to its owner and the process lives on; anything else still ends the
// process as Node's default handling would.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const guard = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '../../dist/engine/crash-guard.js')).href;

/** Run `body` after guarding for an owner that claims errors whose message says 'mine'. */
function run(body: string): { status: number | null; stdout: string; stderr: string } {
  const script = `
    import { guardModuleCrashes } from ${JSON.stringify(guard)};
    guardModuleCrashes({
      attribute: (error) => (String(error?.message).includes('mine') ? '/tools/a.ts' : undefined),
      report: (module, error, kind) => process.stdout.write(kind + ' ' + module + ' ' + error.message + '\\n'),
    });
    ${body}
    setTimeout(() => process.stdout.write('alive\\n'), 100);
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the module crash guard', () => {
  it('hands an uncaught exception that is a module’s to its owner, and the process lives on', () => {
    const out = run("setTimeout(() => { throw new Error('mine: late'); }, 10);");
    expect(out.stdout).toBe('uncaughtException /tools/a.ts mine: late\nalive\n');
    expect(out.status).toBe(0);
  });

  it('hands an unhandled rejection that is a module’s to its owner', () => {
    const out = run("Promise.reject(new Error('mine: nobody awaits'));");
    expect(out.stdout).toBe('unhandledRejection /tools/a.ts mine: nobody awaits\nalive\n');
    expect(out.status).toBe(0);
  });

  it('lets any other uncaught exception end the process as Node would', () => {
    const out = run("setTimeout(() => { throw new Error('the server itself'); }, 10);");
    expect(out.stdout).toBe('');
    expect(out.status).toBe(1);
    expect(out.stderr).toContain('the server itself');
  });

  it('lets any other unhandled rejection end the process as Node would', () => {
    const out = run("Promise.reject(new Error('the server itself'));");
    expect(out.stdout).toBe('');
    expect(out.status).toBe(1);
    expect(out.stderr).toContain('the server itself');
  });
});
