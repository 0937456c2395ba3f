import { runInThisContext } from 'node:vm';
import { isHotMcpError } from '@hotmcp/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isRefusedExit, refuseExits } from '../src/dev/refuse-exits.js';

const root = '/tmp/hotmcp-refuse-exits-project';
/** A function whose frame is in a file of the project, as a re-evaluated module's is. */
const projectCode = (body: string) =>
  runInThisContext(`(function () { ${body} })`, { filename: `${root}/src/tool.js` }) as () => void;

const real = { exit: process.exit, abort: process.abort, kill: process.kill };
afterEach(() => Object.assign(process, real));

describe('refuseExits (hotmcp dev, while an edit is evaluated)', () => {
  it("refuses process.exit, process.abort and process.kill of the process from the project's code, with file and line", () => {
    const exit = vi.fn();
    process.exit = exit as never;
    const guard = refuseExits(root);
    const thrown: unknown[] = [];
    for (const body of ['process.exit(3)', 'process.abort()', 'process.kill(process.pid, "SIGTERM")']) {
      try {
        projectCode(body)();
      } catch (error) {
        thrown.push(error);
      }
    }
    guard.restore();
    expect(exit).not.toHaveBeenCalled();
    expect(thrown).toHaveLength(3);
    expect(guard.refused).toEqual(thrown);
    for (const error of thrown) {
      expect(isHotMcpError(error) && error.code).toBe('HOTMCP_ERR_IMPORT_THREW');
      expect(isRefusedExit(error)).toBe(true);
      expect(error).toMatchObject({ file: `${root}/src/tool.js`, line: 1 });
    }
    expect((thrown[0] as Error).message).toContain('process.exit(3)');
    expect((thrown[2] as Error).message).toContain(`process.kill(${process.pid}, "SIGTERM")`);
    expect(process.exit).toBe(exit);
  });

  it("lets a call with no frame of the project's code through (hotmcp's own exit), and a kill of another process", () => {
    const exit = vi.fn();
    const kill = vi.fn(() => true);
    Object.assign(process, { exit, kill });
    const guard = refuseExits(root);
    process.exit(0);
    projectCode('process.kill(12345, "SIGUSR2")')();
    guard.restore();
    expect(exit).toHaveBeenCalledWith(0);
    expect(kill).toHaveBeenCalledWith(12345, 'SIGUSR2');
    expect(guard.refused).toEqual([]);
    expect(isRefusedExit(new Error('x'))).toBe(false);
  });
});
