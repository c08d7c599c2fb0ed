// Set in every git repository the tool creates: git's automatic gc and maintenance detach into the background and
// repack while the tool (or a test) still uses or removes the directory (ENOTEMPTY on .git/objects/pack).
export const NO_AUTO_GC: readonly (readonly string[])[] = [
  ['config', 'gc.auto', '0'],
  ['config', 'maintenance.auto', 'false'],
];

// Every git command the tool runs (pipeline/process.ts adds these): a tree's hooks, fsmonitor and the runner's
// global and system config never run or apply, so a PR cannot plant a command for the next job's fetch.
export const GIT_SAFE_ARGS: readonly string[] = [
  '-c',
  'core.hooksPath=/dev/null',
  '-c',
  'core.fsmonitor=false',
];
export const GIT_SAFE_ENV: Readonly<Record<string, string>> = {
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
};
