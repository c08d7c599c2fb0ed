// RunResults with the full matrix (27 cases, the microbench grid, 3 shapes × 3 concurrencies), built from the
// seeded noise model so every run of the tests sees the same numbers.
import type { MicrobenchCell, RunResult, TestCase } from '../src/results/run-result.js';
import { prng, REALISTIC_DRIFT, simulateCell } from './stats-noise.js';

export interface FullRunOptions {
  runner?: string;
  seed?: number;
  /** true relative change of the patched arm per e2e cell */
  change?: number;
  cv?: number;
  repeats?: number;
  failCases?: number;
}

const DTYPES = ['bfloat16', 'float16'];
const KS = [1024, 2048];
const NS = [1, 7, 33, 1024, 7177, 8192];

export function fullRun(options: FullRunOptions = {}): RunResult {
  const { runner = 'h100-1', seed = 1, change = 0.05, cv = 0.02, repeats = 8, failCases = 0 } = options;
  const rand = prng(seed);
  const tests: TestCase[] = [];
  for (const dtype of DTYPES)
    for (const k of KS)
      for (const n of NS)
        tests.push({
          id: `tests/kernels/moe/test_fused_shared_expert_gate.py::test_fused_shared_expert_gate[${dtype}-${k}-${n}]`,
          status: 'passed',
          seconds: 0.4 + rand(),
          dtype,
          k,
          n,
        });
  tests.push(
    { id: 'test_fused_shared_expert_gate.py::test_fallback_3d', status: 'passed', seconds: 0.2 },
    { id: 'test_fused_shared_expert_gate.py::test_sliced_rows', status: 'passed', seconds: 0.3 },
    { id: 'test_fused_shared_expert_gate.py::test_non_unit_inner_stride', status: 'passed', seconds: 0.2 },
  );
  for (let i = 0; i < failCases; i++) {
    tests[i] = {
      ...tests[i],
      status: 'failed',
      message: `AssertionError: Tensor-likes are not close! Mismatched elements: ${i + 3} / 8192 (0.0%) Greatest absolute difference: 0.0625 at index (${i}, 17)`,
    };
  }
  const copyGbps = 3002;
  const cells: MicrobenchCell[] = [];
  for (const dtype of DTYPES)
    for (const k of [2048, 4096])
      for (const n of [1, 128, 1024, 8192, 65536]) {
        const bytes = 3 * n * k * 2;
        const floor = bytes / (copyGbps * 1e3);
        const times = { eager: 7.5 + floor * 1.65, compile: 5.4 + floor * 1.04, fused: 1.6 + floor * 1.02 };
        for (const impl of ['eager', 'compile', 'fused'] as const) {
          const us = times[impl] * (1 + 0.01 * (rand() - 0.5));
          const gbps = bytes / (us * 1e3);
          cells.push({
            dtype,
            k,
            n,
            impl,
            graphUs: { median: us, p20: us * 0.99, p80: us * 1.01 },
            eventUs: { median: us + 12, p20: us + 11, p80: us + 14 },
            bytes,
            gbps,
            pctOfCopy: (gbps / copyGbps) * 100,
          });
        }
      }
  const e2eCells = [];
  for (const [inputLen, outputLen] of [
    [1024, 1024],
    [1024, 8192],
    [8192, 1024],
  ])
    for (const concurrency of [4, 16, 64]) {
      const sim = simulateCell(rand, repeats, change, { cv, ...REALISTIC_DRIFT }, 400 * concurrency);
      e2eCells.push({
        ...sim,
        id: `in${inputLen}-out${outputLen}-c${concurrency}`,
        params: { input_len: inputLen, output_len: outputLen, concurrency },
        metric: 'output_throughput',
        unit: 'tok/s',
      });
    }
  return {
    schema: 1,
    tool: { name: 'vllm-kernel-ci', version: '0.1.0' },
    identity: {
      repository: 'example/vllm',
      pr: 43190,
      headSha: '3f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39',
      runner,
      vllmRepo: 'pypi',
      vllmRef: '0.33.0',
      vllmSha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
      bundle: 'fused_shared_expert_gate',
      bundleHash: '9c0ffee1234567890abcdef1234567890abcdef1234567890abcdef12345678',
      startedAt: '2026-11-27T20:00:00Z',
      finishedAt: '2026-11-27T21:40:00Z',
    },
    device: {
      vendor: 'nvidia',
      name: 'NVIDIA H100 80GB HBM3',
      count: 1,
      driver: '570.124.06',
      cuda: '12.8',
      torch: '2.11.0+cu128',
      triton: '3.6.0',
      python: '3.12.3',
      vllm: '0.33.0',
    },
    steps: [
      { name: 'checkout', status: 'passed', seconds: 12 },
      { name: 'apply-bundle', status: 'passed', seconds: 2 },
      { name: 'install', status: 'passed', seconds: 340 },
      { name: 'detect-device', status: 'passed', seconds: 4 },
      { name: 'kernel-tests', status: failCases ? 'failed' : 'passed', seconds: 48 },
      { name: 'microbench', status: 'passed', seconds: 95 },
      { name: 'e2e', status: 'passed', seconds: 5400 },
    ],
    settings: { VLLM_SHARED_EXPERTS_STREAM_TOKEN_THRESHOLD: '256' },
    patch: {
      sites: [
        {
          file: 'vllm/model_executor/models/qwen2_moe.py',
          line: 118,
          status: 'applied',
          source: 'out = F.sigmoid(self.expert_gate(x)[0]) * out',
          symbol: 'Qwen2MoeMLP.forward',
        },
        {
          file: 'vllm/model_executor/models/qwen3_moe.py',
          line: 97,
          status: 'applied',
          source: 'out = F.sigmoid(self.expert_gate(x)[0]) * out',
          symbol: 'Qwen3MoeMLP.forward',
        },
      ],
      copied: [],
      coveredModels: ['Qwen2MoE', 'Qwen3MoE', 'Qwen3-Next'],
    },
    tests,
    microbench: { copyGbps, cells },
    e2e: {
      backend: 'vllm-serve',
      method: `vllm serve + vllm bench serve, ${repeats} interleaved A/B repeats per cell, one server per arm and repeat`,
      model: 'Qwen/Qwen3-Next-80B-A3B-Instruct-FP8',
      cells: e2eCells,
    },
  };
}
