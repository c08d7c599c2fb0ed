// Set in every git repository the tool creates: git's automatic gc and maintenance detach into the background and
// repack while the tool (or a test) still uses or removes the directory (ENOTEMPTY on .git/objects/pack).
export const NO_AUTO_GC: readonly (readonly string[])[] = [
  ['config', 'gc.auto', '0'],
  ['config', 'maintenance.auto', 'false'],
];
