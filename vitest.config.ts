import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // three workers on two cores: most test time waits on processes (git, Python, the fake servers). On the 2-core
    // CI machine npm test took 805 s with one worker, 400-411 s with two and 333 s with three (.ci/run, fresh clone)
    maxWorkers: 3,
  },
});
