import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 600_000, // packing eight packages and an npm install, beside every other package's tests on 2 cores
  },
});
