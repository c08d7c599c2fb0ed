// The op's contract from the tree's call sites, and which conformance cases go beyond it.
import { describe, expect, it } from 'vitest';
import { beyondContract, contractWords, opContract } from '../src/results/contract.js';
import { parseJunit } from '../src/results/parsers/junit.js';
import { caseAdvisory, caseFailed } from '../src/results/predicates.js';
import type { PatchSite } from '../src/results/run-result.js';

const site = (weight: PatchSite['args'] extends (infer A)[] | undefined ? Partial<A> : never): PatchSite => ({
  file: 'vllm/model_executor/models/qwen2_moe.py',
  line: 122,
  status: 'tree-native',
  source: 'out = fused_shared_expert_gate(x, self.expert_gate.weight, out)',
  args: [{ source: 'x' }, { source: 'self.expert_gate.weight', ...weight }, { source: 'out' }],
});
const PARAMS = ['x', 'weight', 'out'];

describe('opContract', () => {
  it('holds the shapes every call site passes, per parameter, by position or keyword', () => {
    const keyword: PatchSite = {
      ...site({}),
      args: [{ source: 'x' }, { name: 'weight', source: 'self.g.weight', shapes: ['[1,K]'] }],
    };
    const contract = opContract([site({ shapes: ['[1, K]'] }), keyword], PARAMS);
    expect(contract).toEqual({ sites: 2, params: { weight: ['[1, K]'] } });
    expect(contractWords(contract)).toBe('weight [1, K] from 2 call sites');
  });

  it('leaves a parameter out when one site passes what the scan cannot tell: nothing is beyond it', () => {
    const contract = opContract([site({ shapes: ['[1, K]'] }), site({})], PARAMS);
    expect(contract).toEqual({ sites: 2, params: {} });
    expect(contractWords(contract)).toBeUndefined();
    expect(beyondContract({ callForm: { weight: '[K]' } }, contract)).toBeUndefined();
    const starred: PatchSite = {
      ...site({ shapes: ['[1, K]'] }),
      args: [{ source: '*args', starred: true }],
    };
    expect(opContract([starred], PARAMS)?.params).toEqual({});
  });

  it('is undefined without a call site', () => {
    expect(opContract([{ ...site({ shapes: ['[1, K]'] }), status: 'unmatched' }], PARAMS)).toBeUndefined();
  });
});

describe('a case beyond the contract', () => {
  const contract = { sites: 2, params: { weight: ['[1, K]'] } };
  it('is the one passing a shape no site passes, with the reason', () => {
    expect(beyondContract({ callForm: { weight: '[K]' } }, contract)).toBe(
      "no call site passes this: weight [K]; the tree's 2 call sites pass weight [1, K]",
    );
    expect(beyondContract({ callForm: { weight: '[1,K]' } }, contract)).toBeUndefined();
    expect(beyondContract({}, contract)).toBeUndefined();
  });

  it('is advisory when it fails, never a failure of the run; a case inside the contract still fails', () => {
    const beyond = { status: 'failed' as const, beyondContract: 'no call site passes this' };
    expect(caseFailed(beyond)).toBe(false);
    expect(caseAdvisory(beyond)).toBe(true);
    expect(caseFailed({ status: 'error' })).toBe(true);
    expect(caseAdvisory({ status: 'passed', beyondContract: 'x' })).toBe(false);
  });

  it('gets its call form from the JUnit properties junit_params.py records for its call_form marker', () => {
    const xml = `<testsuites><testsuite name="pytest"><testcase classname="fused_shared_expert_gate.test_conformance" file="fused_shared_expert_gate/test_conformance.py" line="104" name="test_weight_as_row_or_vector[K]" time="0.1"><properties><property name="call_form.weight" value="[K]"/><property name="weight_shape" value="K"/></properties><failure message="RuntimeError"/></testcase></testsuite></testsuites>`;
    expect(parseJunit(xml)[0]).toMatchObject({
      status: 'failed',
      callForm: { weight: '[K]' },
      // pytest's line is 0-based; the case's is 1-based, as an annotation wants it
      file: 'fused_shared_expert_gate/test_conformance.py',
      line: 105,
    });
  });
});
