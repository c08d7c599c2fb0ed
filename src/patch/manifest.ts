// A kernel bundle's manifest.json: which files go where in a vLLM tree, and which call sites to rewrite.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { describeIssues } from '../results/run-result.js';

const RelativePath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), {
    message: 'must be a relative path inside its tree (no leading / and no ..)',
  });

export const BundleFile = z.object({
  from: RelativePath.describe('path inside the bundle directory'),
  to: RelativePath.describe('path inside the vLLM tree'),
});
export type BundleFile = z.infer<typeof BundleFile>;

export const RewriteRule = z.object({
  search: z.array(z.string().min(1)).min(1).describe('globs, relative to the vLLM tree, of files to parse'),
  required: z.array(RelativePath).default([]).describe('files that must exist: missing ones are reported'),
  activation: z
    .string()
    .regex(/^[A-Za-z_]\w*$/)
    .describe('function name: `sigmoid` matches F.sigmoid, torch.sigmoid'),
  gate: z.object({
    attributePattern: z.string().min(1).describe('regex over `self.<name>` of a gate module'),
    constructors: z.array(z.string().min(1)).min(1),
    outputSize: z.number().int().positive(),
  }),
  placeholders: z.record(z.string().regex(/^[A-Z][A-Z0-9_]*$/), z.enum(['gate-module', 'pure', 'any'])),
  forms: z
    .array(z.object({ name: z.string().min(1), pattern: z.string().min(1) }))
    .min(1)
    .describe('Python expressions with UPPERCASE placeholders; `a * b` also matches `b * a`'),
  replacement: z
    .string()
    .includes('ORIGINAL', { message: 'must keep the ORIGINAL expression as its fallback' }),
  imports: z.array(z.string().min(1)),
  marker: z.string().regex(/^[^\n]+$/),
});
export type RewriteRule = z.infer<typeof RewriteRule>;

export const Manifest = z.object({
  name: z.string().min(1),
  description: z.string().optional(),
  files: z.array(BundleFile),
  abSwitch: z
    .object({ env: z.string().min(1), off: z.string() })
    .optional()
    .describe('environment variable that sends a patched tree down the original path (the baseline arm)'),
  rewrite: RewriteRule,
  op: z
    .object({
      name: z
        .string()
        .regex(/^[A-Za-z_]\w*$/)
        .describe("the op's public function: a tree defining or calling it carries its own kernel"),
      file: RelativePath.describe(
        'the bundle file defining the op; its `to` is where a tree keeps it (a bundle without that file looks for the op by name only)',
      ),
    })
    .optional(),
});
export type Manifest = z.infer<typeof Manifest>;

export class ManifestError extends Error {}

export async function loadManifest(bundleDir: string): Promise<Manifest> {
  const path = join(bundleDir, 'manifest.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new ManifestError(
      `${bundleDir} is not a kernel bundle: it has no manifest.json. Pass a bundle name under kernels/ or a bundle directory.`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ManifestError(
      `${path} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const parsed = Manifest.safeParse(data);
  if (!parsed.success) {
    throw new ManifestError(`${path} is not a valid bundle manifest: ${describeIssues(parsed.error)}`);
  }
  return parsed.data;
}
