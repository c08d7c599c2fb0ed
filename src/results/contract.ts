// The op's contract as the tree's call sites give it, and which test cases go beyond it. Pure.
import type { OpContract, PatchSite, TestCase } from './run-result.js';

const normalise = (shape: string) => shape.replace(/\s+/g, '').replace(/,/g, ', ');

/**
 * Per parameter of the op, the shapes every tree-native call site passes. A parameter is left out when any site
 * passes it in a way the scan cannot tell (an unresolved expression, a starred argument): then no case is beyond
 * it. undefined when the tree has no call site.
 */
export function opContract(sites: readonly PatchSite[], params: readonly string[]): OpContract | undefined {
  const calls = sites.filter((s) => s.status === 'tree-native');
  if (calls.length === 0) return undefined;
  const found: Record<string, string[]> = {};
  for (const [index, param] of params.entries()) {
    const shapes = new Set<string>();
    let known = true;
    for (const site of calls) {
      const args = site.args ?? [];
      const positional = args.filter((a) => a.name === undefined);
      const starred = args.some((a) => a.starred);
      const arg = args.find((a) => a.name === param) ?? positional[index];
      if (starred || !arg?.shapes?.length) {
        known = false;
        break;
      }
      for (const s of arg.shapes) shapes.add(normalise(s));
    }
    if (known) found[param] = [...shapes].sort();
  }
  return { sites: calls.length, params: found };
}

/** Why a case is advisory: it passes a parameter in a shape that no call site of the tree passes; else undefined. */
export function beyondContract(
  t: Pick<TestCase, 'callForm'>,
  contract: OpContract | undefined,
): string | undefined {
  if (!contract || !t.callForm) return undefined;
  for (const [param, shape] of Object.entries(t.callForm)) {
    const allowed = contract.params[param];
    if (allowed && !allowed.includes(normalise(shape)))
      return `no call site passes this: ${param} ${normalise(shape)}; the tree's ${contract.sites} call site${contract.sites === 1 ? '' : 's'} pass ${param} ${allowed.join(' or ')}`;
  }
  return undefined;
}

/** "weight [1, K] from 2 call sites"; undefined when the call sites tell no shape. */
export function contractWords(contract: OpContract | undefined): string | undefined {
  if (!contract) return undefined;
  const params = Object.entries(contract.params);
  if (params.length === 0) return undefined;
  const what = params.map(([p, shapes]) => `${p} ${shapes.join(' or ')}`).join(', ');
  return `${what} from ${contract.sites} call site${contract.sites === 1 ? '' : 's'}`;
}
