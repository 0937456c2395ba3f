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
