// A ref never becomes a git option: validated as a ref, and passed to git after --end-of-options.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config.js';
import { checkout } from '../src/pipeline/checkout.js';
import { StepRecorder } from '../src/pipeline/step.js';
import type { RunResult } from '../src/results/run-result.js';
import { checkRef } from '../src/security/refs.js';
import { makeVllmRepo, recordingHost } from './fakes/world.js';
import { tempDir } from './helpers.js';

const from = (values: Record<string, string>) => parseConfig((name) => values[name]);
const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe('vllm-ref is a ref', () => {
  it.each([
    'main',
    'v0.33.0',
    'refs/pull/7/head',
    'feature/x-y_z',
    '0123abc',
    '0123456789abcdef0123456789abcdef01234567',
  ])('accepts %s', (ref) => {
    expect(from({ 'vllm-repository': 'vllm-project/vllm', 'vllm-ref': ref }).vllm.ref).toBe(ref);
  });

  it.each([
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell git starts expands it: the payload as filed
    ['--upload-pack=touch${IFS}/tmp/x;git-upload-pack', 'starts with `-`'],
    ['+refs/pull/5/head:refs/x', 'one of ~ ^ : ? * [ \\'],
    ['main..evil', '`..`'],
    ['a/.hidden', 'starts with `.`'],
    ['x.lock', '`.lock`'],
    ['HEAD@{1}', '`@{`'],
    ['mai\u200en', 'outside printable ASCII'],
  ])('refuses %j, saying why', (ref, why) => {
    expect(() => from({ 'vllm-repository': 'vllm-project/vllm', 'vllm-ref': ref })).toThrow(ConfigError);
    expect(() => from({ 'vllm-repository': 'vllm-project/vllm', 'vllm-ref': ref })).toThrow(why);
  });

  it('wants a release version for pypi', () => {
    expect(from({ 'vllm-repository': 'pypi', 'vllm-ref': '0.10.1rc1' }).vllm.ref).toBe('0.10.1rc1');
    expect(() => from({ 'vllm-repository': 'pypi', 'vllm-ref': 'main' })).toThrow(/release version/);
    expect(() => from({ 'vllm-repository': 'pypi', 'vllm-ref': '--help' })).toThrow(/release version/);
  });

  it.each(['vllm-repository', 'bundle', 'python', 'model', 'runner-label', 'results', 'output-dir'])(
    'refuses an option-looking %s',
    (name) => {
      expect(() => from({ [name]: '--upload-pack=x' })).toThrow(`Invalid ${name} '--upload-pack=x'`);
    },
  );

  it('shows invisible characters of a refused value as escapes', () => {
    expect(() => checkRef('vllm-ref', 'a\u202eb c', 'x/y')).toThrow("'a\\u{202e}b c'");
  });
});

describe('checkout never passes a ref to git as an option', () => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell git starts expands it: the payload as filed
  it.each(['--upload-pack=touch${IFS}MARKER;git-upload-pack', '+refs/pull/5/head:refs/x'])(
    'refuses %s before git sees it',
    async (template) => {
      const repo = await makeVllmRepo();
      const marker = join(await tempDir('vkci-marker-'), 'pwned');
      const ref = template.replace('MARKER', marker);
      const result = { steps: [] } as unknown as RunResult;
      const recorder = new StepRecorder({
        result,
        outDir: await tempDir('vkci-step-'),
        host: recordingHost(),
        scrub: (s) => s,
      });
      const reposDir = await tempDir('vkci-repos-');
      await recorder.run('checkout', (step) =>
        checkout(step, { repository: repo.dir, ref, reposDir, env: process.env, timeoutMs: 60_000 }),
      );
      expect(await exists(marker)).toBe(false);
      expect(result.steps[0].status).toBe('failed');
      expect(result.steps[0].reason).toContain('Invalid vllm-ref');
    },
  );
});
