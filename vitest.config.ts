import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // two workers on two cores: most test time waits on processes (git, Python, the fake servers), so a second
    // file in parallel cut the suite from 805 s to 456 s on the 2-core CI machine
    maxWorkers: 2,
  },
});
