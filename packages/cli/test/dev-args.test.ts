import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseDevArgs } from '../src/dev/dev-args.js';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('parseDevArgs', () => {
  it('refuses a watcher kind HOTMCP_WATCHER misspells, as createReloader does, rather than running with auto', () => {
    vi.stubEnv('HOTMCP_WATCHER', 'inotify');
    expect(parseDevArgs(['src/server.ts'])).toEqual({
      kind: 'error',
      message: 'hotmcp: the HOTMCP_WATCHER environment variable must be auto, native or poll, got "inotify"\n',
    });
    // --watcher wins over the variable.
    expect(parseDevArgs(['--watcher', 'poll', 'src/server.ts'])).toMatchObject({ kind: 'run' });
    vi.stubEnv('HOTMCP_WATCHER', 'poll');
    expect(parseDevArgs(['src/server.ts'])).toMatchObject({ kind: 'run' });
    expect(parseDevArgs(['--watcher', 'bogus', 'src/server.ts'])).toEqual({
      kind: 'error',
      message: 'hotmcp: --watcher must be auto, native or poll, got bogus\n',
    });
  });
});
