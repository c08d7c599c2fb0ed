import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';

const from = (values: Record<string, string>) => parseConfig((name) => values[name]);

describe('nightly inputs', () => {
  it('defaults to the vllm-kernel-ci-data branch and 60 days of history', () => {
    expect(from({}).nightly).toEqual({
      historyBranch: 'vllm-kernel-ci-data',
      historyDays: 60,
      regressionThresholdPct: 5,
    });
    expect(
      from({ 'history-branch': 'data/nightly', 'history-days': '14', 'regression-threshold': '3.5' }).nightly,
    ).toEqual({ historyBranch: 'data/nightly', historyDays: 14, regressionThresholdPct: 3.5 });
  });

  it.each([
    [{ 'history-branch': 'bad branch' }, "Invalid history-branch 'bad branch'. Expected a git branch name"],
    [{ 'history-branch': 'a..b' }, "Invalid history-branch 'a..b'."],
    [{ 'history-branch': '-x' }, "Invalid history-branch '-x'."],
    [{ 'history-branch': 'x.lock' }, "Invalid history-branch 'x.lock'."],
    [{ 'history-days': '0' }, "Invalid history-days '0'. Expected a positive integer."],
    [{ 'regression-threshold': 'five' }, "Invalid regression-threshold 'five'. Expected a number ≥ 0."],
  ])('rejects %j naming the input and the value', (values, message) => {
    expect(() => from(values)).toThrow(message);
  });
});
