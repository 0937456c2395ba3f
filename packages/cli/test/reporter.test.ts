import { afterEach, describe, expect, it, vi } from 'vitest';
import { Reporter } from '../src/dev/reporter.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Reporter', () => {
  it('tells a module failing through its import at the import, once, followed by its importer', () => {
    const root = '/project';
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    const recorded: string[] = [];
    const audit = new Reporter(root).wrap({ record: (event) => recorded.push(event), close: async () => {} });
    audit.record('module.failed', {
      module: '/project/src/server.js',
      code: 'HOTMCP_ERR_SYNTAX',
      message:
        'Failed to load /project/src/server.js: Failed to load /project/src/leaf.js (/project/src/leaf.js:3): Unexpected ";"',
      file: '/project/src/leaf.js',
      line: 3,
    });
    audit.record('module.failed', {
      code: 'HOTMCP_ERR_LOAD_FAILED',
      message: 'Failed to load /project/src/a.js: boom',
    });
    expect(recorded).toEqual(['module.failed', 'module.failed']);
    expect(lines).toEqual([
      'hotmcp: src/leaf.js:3: Unexpected ";" (imported by src/server.js)\n',
      'hotmcp: Failed to load src/a.js: boom\n', // nowhere to point at: said as it is
    ]);
  });
});
