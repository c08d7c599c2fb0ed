// The random-weight checkpoints the GPU script serves with a real vLLM (scripts/gpu/tiny_qwen2_moe.py), built here
// small: the Qwen2-MoE one, and the Qwen3-MoE one in Qwen3-MoE's own layout plus the shared expert and its gate,
// which vLLM's Qwen3MoeSparseMoeBlock builds when the config has shared_expert_intermediate_size > 0. transformers'
// own Qwen3-MoE class loads it with nothing missing, and only those shared-expert tensors left over.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { sharedExpertLayers } from '../src/pipeline/arm-probe.js';
import { ROOT, tempDir } from './helpers.js';

const python = process.env.VLLM_KERNEL_CI_PYTHON;
const run = promisify(execFile);

async function build(arch: string): Promise<{ dir: string; config: Record<string, unknown> }> {
  const dir = join(await tempDir('vkci-tiny-'), arch);
  await run(python ?? 'python3', [
    join(ROOT, 'scripts/gpu/tiny_qwen2_moe.py'),
    dir,
    '--arch',
    arch,
    ...['--hidden', '128', '--heads', '4', '--kv-heads', '2', '--layers', '3', '--experts', '4'],
    ...['--moe-inter', '64', '--shared-inter', '128', '--vocab', '600'],
  ]);
  return { dir, config: JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) };
}

/** transformers' own class for the config, loaded from the directory: what it lacks and what is left over. */
async function loadReport(dir: string): Promise<{ cls: string; missing: string[]; unexpected: string[] }> {
  const code = [
    'import json, sys',
    'from transformers import AutoModelForCausalLM',
    'm, info = AutoModelForCausalLM.from_pretrained(sys.argv[1], output_loading_info=True)',
    'print(json.dumps({"cls": type(m).__name__, "missing": sorted(info["missing_keys"]), "unexpected": sorted(info["unexpected_keys"])}))',
  ].join('\n');
  const { stdout } = await run(python ?? 'python3', ['-c', code, dir], {
    env: { ...process.env, HF_HUB_OFFLINE: '1' },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
}

describe.skipIf(!python)(
  'the tiny checkpoints of the GPU script (VLLM_KERNEL_CI_PYTHON has torch and transformers)',
  () => {
    it('Qwen2-MoE: its own class loads every tensor; the gate on all 3 layers', {
      timeout: 120_000,
    }, async () => {
      const { dir, config } = await build('qwen2_moe');
      expect(config.architectures).toEqual(['Qwen2MoeForCausalLM']);
      expect(sharedExpertLayers(config)).toBe(3);
      expect(await loadReport(dir)).toEqual({ cls: 'Qwen2MoeForCausalLM', missing: [], unexpected: [] });
    });

    it('Qwen3-MoE: its own layout, and the shared expert with its gate on all 3 layers', {
      timeout: 120_000,
    }, async () => {
      const { dir, config } = await build('qwen3_moe');
      expect(config).toMatchObject({
        architectures: ['Qwen3MoeForCausalLM'],
        model_type: 'qwen3_moe',
        shared_expert_intermediate_size: 128,
        head_dim: 32,
        attention_bias: false,
      });
      expect(sharedExpertLayers(config)).toBe(3);
      const report = await loadReport(dir);
      expect(report).toMatchObject({ cls: 'Qwen3MoeForCausalLM', missing: [] });
      expect(report.unexpected).toEqual(
        [0, 1, 2].flatMap((i) =>
          [
            'shared_expert.down_proj',
            'shared_expert.gate_proj',
            'shared_expert.up_proj',
            'shared_expert_gate',
          ].map((t) => `model.layers.${i}.mlp.${t}.weight`),
        ),
      );
    });
  },
);
