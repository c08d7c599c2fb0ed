import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';

const from = (values: Record<string, string>) => parseConfig((name) => values[name]);

describe('parseConfig', () => {
  it('fills every default from the inputs table', () => {
    const c = from({});
    expect(c.mode).toBe('validate');
    expect(c.vllm).toEqual({ repository: 'pypi', ref: '0.33.0' });
    expect(c.e2e.shapes).toEqual([
      { inputLen: 1024, outputLen: 1024 },
      { inputLen: 1024, outputLen: 8192 },
      { inputLen: 8192, outputLen: 1024 },
    ]);
    expect(c.e2e.concurrencies).toEqual([4, 16, 64]);
    expect(c.thresholds).toEqual({ minEffectPct: 2, failOnRegression: false });
  });

  it.each([
    [{ mode: 'publish' }, "Invalid mode 'publish'. Expected one of: validate, report, nightly."],
    [{ repeats: '-3' }, "Invalid repeats '-3'. Expected a positive integer."],
    [{ repeats: '2.5' }, "Invalid repeats '2.5'. Expected a positive integer."],
    [{ shapes: '1024x' }, "Invalid shapes '1024x'."],
    [{ shapes: '1024x1024,' }, "Invalid shapes '1024x1024,'."],
    [{ shapes: '0x16' }, "Invalid shapes '0x16'."],
    [{ concurrencies: '4,sixteen' }, "Invalid concurrencies '4,sixteen'."],
    [{ install: 'pip' }, "Invalid install 'pip'. Expected one of: existing, precompiled, none."],
    [{ 'fail-on-regression': 'yes' }, "Invalid fail-on-regression 'yes'. Expected `true` or `false`."],
    [{ 'e2e-aa': 'maybe' }, "Invalid e2e-aa 'maybe'. Expected `true` or `false`."],
    [{ 'min-effect': '-1' }, "Invalid min-effect '-1'."],
    [{ 'vllm-ref': 'main branch' }, "Invalid vllm-ref 'main branch'."],
  ])('rejects %j naming the input and the value', (values, message) => {
    expect(() => from(values)).toThrow(message);
  });

  it('defaults vllm-ref to a release only for pypi; a git repository or path gets the head commit, else HEAD', () => {
    const head = 'ab'.repeat(20);
    expect(from({}).vllm.ref).toBe('0.33.0');
    expect(parseConfig(() => undefined, { headSha: head }).vllm.ref).toBe('0.33.0');
    expect(from({ 'vllm-repository': '/work/vllm' }).vllm.ref).toBe('HEAD');
    const git = (values: Record<string, string>) => parseConfig((n) => values[n], { headSha: head }).vllm.ref;
    expect(git({ 'vllm-repository': '/work/vllm' })).toBe(head);
    expect(git({ 'vllm-repository': 'vllm-project/vllm' })).toBe(head);
    expect(git({ 'vllm-repository': '/work/vllm', 'vllm-ref': 'main' })).toBe('main');
  });

  it('says what is accepted for a malformed shape', () => {
    expect(() => from({ shapes: '1024x' })).toThrow(/Expected comma-separated INPUTxOUTPUT token lengths/);
  });
});
