// The compile matrix in the RunResult: the op's kernels compiled for AMD and NVIDIA targets, as
// kernels/compile_matrix.py writes it (`vllm-kernel-ci/compile-matrix@1`).
import { z } from 'zod';

export const COMPILE_MATRIX_SCHEMA = 'vllm-kernel-ci/compile-matrix@1';

/** The targets kernels/compile_matrix.py compiles for (its TARGETS). */
export const COMPILE_TARGETS = ['gfx950', 'gfx942', 'sm_80', 'sm_89', 'sm_90', 'sm_100', 'sm_120'] as const;

/** Bytes per access → how many global loads (or stores) of that width the assembly holds. */
const AccessWidths = z.record(z.string().regex(/^\d+$/), z.number().int().nonnegative());

export const CompileConfig = z.object({
  id: z
    .string()
    .describe(
      'dtype, constexprs and warps of one launch the launcher picks, e.g. "bf16 BLOCK_K=2048 NUM_SLICES=1 warps=4"',
    ),
  kernel: z.string(),
  dtype: z.string(),
  dtypes: z
    .array(z.string())
    .optional()
    .describe('dtypes of one element size that share this launch setting, e.g. bf16 and fp16'),
  k: z.array(z.number().int().positive()).describe('the grid K values that launch this configuration'),
  numWarps: z.number().int().positive(),
  numStages: z.number().int().nonnegative().nullish(),
  constexprs: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
  specialisation: z
    .array(z.string())
    .describe("arguments the JIT specialises, e.g. x_ptr%16 (Triton's tt.divisibility)"),
  status: z.enum(['ok', 'spill', 'error']),
  compileSeconds: z.number().nonnegative(),
  error: z.string().optional().describe("the compiler's or assembler's error lines"),
  registers: z
    .number()
    .int()
    .nonnegative()
    .nullish()
    .describe('per thread: NVIDIA registers; AMD VGPRs (+ AGPRs)'),
  vgprs: z.number().int().nonnegative().nullish(),
  sgprs: z.number().int().nonnegative().nullish(),
  agprs: z.number().int().nonnegative().nullish(),
  spills: z
    .number()
    .int()
    .nonnegative()
    .nullish()
    .describe('NVIDIA: bytes of spill stores and loads (ptxas -v); AMD: spilled VGPRs + SGPRs'),
  scratchBytes: z.number().int().nonnegative().nullish().describe('per-thread stack / private segment'),
  sharedBytes: z.number().int().nonnegative().optional(),
  loads: AccessWidths.optional(),
  stores: AccessWidths.optional(),
  vector16: z.boolean().optional().describe('every global load and store is a 16-byte vector'),
});
export type CompileConfig = z.infer<typeof CompileConfig>;

export const CompileTarget = z.object({
  target: z.string().describe('gfx950, gfx942, sm_80 … sm_120'),
  backend: z.enum(['hip', 'cuda']),
  arch: z.string(),
  warpSize: z.number().int().positive(),
  status: z.enum(['ok', 'failed', 'unavailable']),
  reason: z.string().optional().describe('why nothing was compiled for this target'),
  configs: z.array(CompileConfig),
});
export type CompileTarget = z.infer<typeof CompileTarget>;

export const CompileMatrix = z.object({
  triton: z.string(),
  impl: z.string().describe('PATH::SYMBOL of the op compiled'),
  grid: z.object({ k: z.array(z.number().int().positive()), dtypes: z.array(z.string()) }),
  targets: z.array(CompileTarget),
});
export type CompileMatrix = z.infer<typeof CompileMatrix>;
