// The order the two arms of an A/B run in, one definition for the e2e backends' plan and the simulator. Pure.

export type ArmKey = 'baseline' | 'patched';
export const ARM_KEYS: readonly ArmKey[] = ['baseline', 'patched'];

/** Counterbalanced arms for `repeats` pairs: A B B A, then B A A B, ...; `block` continues an earlier sequence. */
export function counterbalancedOrder(repeats: number, block = 0): ArmKey[] {
  const order: ArmKey[] = [];
  for (let b = block; order.length < 2 * repeats; b++) {
    const [x, y]: ArmKey[] = b % 2 === 0 ? ['baseline', 'patched'] : ['patched', 'baseline'];
    order.push(x, y, y, x);
  }
  return order.slice(0, 2 * repeats);
}

/** Blocks of four a sequence of `repeats` pairs uses (where a re-run's order continues). */
export function blocksUsed(repeats: number): number {
  return Math.ceil(repeats / 2);
}
