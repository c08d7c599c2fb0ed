// The workflows a user copies (every YAML block of the README, every file of docs/workflows) lint clean, pin each
// action the way this project's own CI does, and the smallest one's `with:` runs through the action as written.
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { RunResult } from '../src/results/run-result.js';
import { makeSmallBundle, makeVllmRepo } from './fakes/world.js';
import { parseOutputFile, ROOT, runNode, runnerEnv, tempDir } from './helpers.js';

interface Step {
  uses?: string;
  with?: Record<string, string | number | boolean>;
}
interface Workflow {
  jobs: Record<string, { steps: Step[] }>;
}

const run = promisify(execFile);
/** A workflow expression as written in YAML: x('github.workspace') is "${{ github.workspace }}". */
const x = (expression: string) => `\${{ ${expression} }}`;
const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
const README_BLOCKS = [...readme.matchAll(/^```ya?ml\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
const DOCS = join(ROOT, 'docs/workflows');
const DOC_FILES = (await readdir(DOCS)).filter((f) => f.endsWith('.yml')).sort();
const CI = join(ROOT, '.github/workflows');
const CI_FILES = (await readdir(CI)).filter((f) => /\.ya?ml$/.test(f)).sort();

/** name → text of every workflow a user copies, README blocks first (README-1.yml, …). */
const copied: Record<string, string> = Object.fromEntries([
  ...README_BLOCKS.map((text, i) => [`README-${i + 1}.yml`, text]),
  ...(await Promise.all(DOC_FILES.map(async (f) => [f, await readFile(join(DOCS, f), 'utf8')]))),
]);
const ciText: Record<string, string> = Object.fromEntries(
  await Promise.all(CI_FILES.map(async (f) => [f, await readFile(join(CI, f), 'utf8')])),
);

let blocksDir: string;
beforeAll(async () => {
  blocksDir = await tempDir('vkci-readme-yaml-');
  for (const [name, text] of Object.entries(copied)) await writeFile(join(blocksDir, name), text);
});

async function lint(script: string, files: string[]): Promise<{ code: number; out: string }> {
  return run('bash', [join(ROOT, 'scripts', script), ...files]).then(
    ({ stdout, stderr }) => ({ code: 0, out: stdout + stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
}

describe("the README's workflow blocks and docs/workflows", () => {
  it('are found: the README has a workflow block, docs/workflows its four files', () => {
    expect(README_BLOCKS.length).toBeGreaterThanOrEqual(1);
    for (const block of README_BLOCKS) expect(parse(block)).toHaveProperty('jobs');
    expect(DOC_FILES).toEqual(['nightly.yml', 'pr-e2e.yml', 'pr-report.yml', 'pr-validate.yml']);
  });

  it('pass actionlint and zizmor', { timeout: 300_000 }, async () => {
    const files = Object.keys(copied).map((n) => join(blocksDir, n));
    const actionlint = await lint('actionlint.sh', files);
    expect(actionlint.out).toBe('');
    expect(actionlint.code).toBe(0);
    const zizmor = await lint('zizmor.sh', files);
    expect(zizmor.code, zizmor.out).toBe(0);
  });

  it("pin every action as this project's own CI does, and this action at the tag releases make", async () => {
    const pins = new Map<string, Set<string>>();
    for (const text of [...Object.values(copied), ...Object.values(ciText)]) {
      for (const m of text.matchAll(/uses:\s*([\w.-]+\/[\w./-]+)@(\S+)(?:\s*#\s*(v[\d.]+))?/g)) {
        const [, action, ref, comment] = m;
        pins.set(action, (pins.get(action) ?? new Set()).add(`${ref} ${comment ?? ''}`.trim()));
      }
    }
    // one pin per action across the examples and the CI: what a user copies is what this project runs
    for (const [action, refs] of pins) expect([...refs], action).toHaveLength(1);
    expect(pins.has('actions/checkout')).toBe(true);
    const major = `v${JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).version.split('.')[0]}`;
    // release.yml moves the tag named by the version's first number
    expect([...(pins.get('vllm-kernel-ci/vllm-kernel-ci') ?? [])]).toEqual([major]);
  });
});

/** The smallest copied workflow that runs this action, and its step's `with:` and checkout's `with:`. */
function smallestWorkflow(): {
  name: string;
  action: Record<string, string>;
  checkout: Record<string, string>;
} {
  const candidates = Object.entries(copied)
    .filter(([, text]) => text.includes('vllm-kernel-ci/vllm-kernel-ci@'))
    .sort(([, a], [, b]) => a.length - b.length);
  const [name, text] = candidates[0];
  const steps = Object.values((parse(text) as Workflow).jobs).flatMap((j) => j.steps);
  const withOf = (prefix: string) =>
    Object.fromEntries(
      Object.entries(steps.find((s) => s.uses?.startsWith(prefix))?.with ?? {}).map(([k, v]) => [
        k,
        String(v),
      ]),
    );
  return { name, action: withOf('vllm-kernel-ci/vllm-kernel-ci@'), checkout: withOf('actions/checkout@') };
}

describe("the README's smallest workflow, run through the action on a pull_request", () => {
  const python = process.env.VLLM_KERNEL_CI_PYTHON ?? 'python3';
  let build: string;
  beforeAll(async () => {
    // the action as the lead's dist/ will be: src/index.ts bundled, found beside this clone's kernels/
    build = join(ROOT, '.work', `readme-action-${process.pid}`);
    await mkdir(build, { recursive: true });
    await run(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--out', build]);
  }, 120_000);
  afterAll(async () => {
    if (build) await rm(build, { recursive: true, force: true });
  });

  it('is the README block, and reaches a RunResult on the head commit', { timeout: 180_000 }, async () => {
    const { name, action, checkout } = smallestWorkflow();
    expect(name).toBe('README-1.yml');
    // the PR: vLLM 0.33.0's files on main (the base), one commit on top (the head)
    const origin = await makeVllmRepo();
    const git = (cwd: string, ...args: string[]) =>
      run('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd }).then((r) =>
        r.stdout.trim(),
      );
    await git(origin.dir, 'checkout', '--quiet', '-b', 'pr');
    await writeFile(join(origin.dir, 'tests/kernels/moe/test_pr.py'), 'def test_pr():\n    assert True\n');
    await git(origin.dir, 'add', '-A');
    await git(origin.dir, 'commit', '--quiet', '-m', 'a PR commit');
    const head = await git(origin.dir, 'rev-parse', 'HEAD');
    await git(origin.dir, 'checkout', '--quiet', 'main');

    // actions/checkout with the block's `with:`: the ref it names, the history fetch-depth asks for
    const event = {
      pull_request: {
        number: 7,
        head: { sha: head, repo: { full_name: 'example/vllm' } },
        base: { sha: origin.sha, repo: { full_name: 'example/vllm' } },
      },
      repository: { full_name: 'example/vllm' },
    };
    expect(checkout.ref).toBe(x('github.event.pull_request.head.sha'));
    const workspace = await tempDir('vkci-workspace-');
    await git(workspace, 'init', '--quiet');
    const depth = checkout['fetch-depth'] === '0' ? [] : ['--depth', checkout['fetch-depth'] ?? '1'];
    await git(
      workspace,
      'fetch',
      '--quiet',
      ...depth,
      `file://${origin.dir}`,
      head,
      'main:refs/remotes/origin/main',
    );
    await git(workspace, 'checkout', '--quiet', '--detach', head);

    // the block's inputs as written, the runner's own (its Python, a small bundle for speed) beside them
    const expressions: Record<string, string> = { [x('github.workspace')]: workspace };
    const inputs = Object.fromEntries(Object.entries(action).map(([k, v]) => [k, expressions[v] ?? v]));
    for (const value of Object.values(inputs)) expect(value).not.toContain('${{');
    expect(inputs).not.toHaveProperty('vllm-ref');
    const { env, dir } = await runnerEnv({ ...inputs, python, bundle: await makeSmallBundle() }, event);
    env.GITHUB_WORKSPACE = workspace;
    env.VLLM_KERNEL_CI_CACHE = join(dir, 'cache');
    const r = await runNode([join(build, 'dist/index.js')], env, dir);

    const outputs = parseOutputFile(await readFile(join(dir, 'output'), 'utf8'));
    expect(outputs['result-path'], r.stdout + r.stderr).toBeDefined();
    const result = RunResult.parse(JSON.parse(await readFile(outputs['result-path'], 'utf8')));
    const step = (n: string) => result.steps.find((s) => s.name === n);
    expect(step('checkout')?.status, step('checkout')?.reason).toBe('passed');
    expect(result.identity.vllmRef).toBe(head);
    expect(result.identity.vllmSha).toBe(head);
    expect(result.identity.baseSha).toBe(origin.sha);
    expect(step('apply-bundle')?.status).toBe('passed');
    expect(step('kernel-tests')?.status, step('kernel-tests')?.reason).toBe('passed');
    // `install: existing` on a CPU machine without vLLM: the one step that cannot pass here, and it says why
    expect(step('install')).toMatchObject({
      status: 'failed',
      reason: expect.stringContaining("'import vllm' failed"),
    });
    expect(r.stdout).not.toContain('is not a branch, tag');
  });
});
