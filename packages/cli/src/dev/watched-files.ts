import type { WatcherModules } from '@hotmcp/core';

/** The files of a project that `hotmcp dev` watches, relative to its root. */
export const INCLUDE: string[] = ['**/*.{ts,mts,cts,tsx,js,mjs,cjs,jsx,json}'];
/** What it never watches among them (`node_modules`, `.git` and `dist` never are in any case). */
export const EXCLUDE: string[] = [
  '**/*.d.ts',
  '**/*.d.mts',
  '**/*.test.*',
  '**/*.spec.*',
  'package.json',
  '**/tsconfig*.json',
];

/** The watcher packages, loaded when watching starts. */
export const WATCHER_MODULES: WatcherModules = {
  native: () => import('@hotmcp/watcher-native'),
  poll: () => import('@hotmcp/watcher-poll'),
};

/** The watcher `hotmcp dev` uses: `--watcher`, else HOTMCP_WATCHER, else auto. */
export function watcherOf(option: 'auto' | 'native' | 'poll' | undefined): 'auto' | 'native' | 'poll' {
  const value = option ?? process.env.HOTMCP_WATCHER;
  return value === 'native' || value === 'poll' ? value : 'auto';
}
