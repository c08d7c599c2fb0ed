// The simulations' noise model lives in src/stats/noise.ts (the `simulate` command uses it too).
export * from '../src/stats/noise.js';
