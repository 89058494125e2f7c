import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real influxd/gateway processes on free ports; two
    // files at a time keeps a 2-core CI machine responsive.
    maxWorkers: 2,
  },
});
