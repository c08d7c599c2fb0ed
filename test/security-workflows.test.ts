import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { INPUTS, type Mode } from '../src/inputs.js';
import { ROOT, tempDir } from './helpers.js';

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  if?: string;
}
interface Job {
  if?: string;
  needs?: string;
  'runs-on': string | string[];
  permissions?: Record<string, string>;
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  steps: Step[];
}
interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: Record<string, Job>;
}

const DIR = join(ROOT, 'docs/workflows');
const FILES = (await readdir(DIR)).filter((f) => f.endsWith('.yml')).sort();
const text: Record<string, string> = {};
const wf: Record<string, Workflow> = {};
for (const f of FILES) {
  text[f] = await readFile(join(DIR, f), 'utf8');
  wf[f] = parse(text[f]) as Workflow;
}
/** A workflow expression as written in YAML: x('matrix.runner') is "${{ matrix.runner }}". */
const x = (expression: string) => `\${{ ${expression} }}`;
const steps = (w: Workflow) => Object.values(w.jobs).flatMap((j) => j.steps);
const selfHosted = (j: Job) => [j['runs-on']].flat().includes('self-hosted');

function actionlint(files: string[]): Promise<{ code: number; out: string }> {
  return promisify(execFile)('bash', [join(ROOT, 'scripts/actionlint.sh'), ...files]).then(
    ({ stdout, stderr }) => ({ code: 0, out: stdout + stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
}

describe('example workflows', () => {
  it('are the four the README names', () => {
    expect(FILES).toEqual(['nightly.yml', 'pr-e2e.yml', 'pr-report.yml', 'pr-validate.yml']);
  });

  it('pass actionlint', { timeout: 300_000 }, async () => {
    const r = await actionlint(FILES.map((f) => join(DIR, f)));
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  it('actionlint really lints: an injectable script and an unknown matrix key are errors', {
    timeout: 300_000,
  }, async () => {
    const bad = join(await tempDir(), 'bad.yml');
    const injected = text['pr-validate.yml']
      .replace(
        '- name: Explain the approval gate',
        `- run: echo "${x('github.event.pull_request.title')}"\n      - name: Explain the approval gate`,
      )
      .replace(`runner-label: ${x('matrix.runner')}`, `runner-label: ${x('matrix.gpu')}`);
    await writeFile(bad, injected);
    const r = await actionlint([bad]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('"github.event.pull_request.title" is potentially untrusted');
    expect(r.out).toContain('property "gpu" is not defined');
  });

  it('pin every third-party action by commit SHA, with the version in a comment', () => {
    for (const f of FILES) {
      for (const line of text[f].split('\n').filter((l) => /^\s*(- )?uses:/.test(l))) {
        if (line.includes('vllm-kernel-ci/vllm-kernel-ci@')) continue;
        expect(line, f).toMatch(/uses: [\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
      }
    }
  });

  it('give this action only inputs it has, each read by the mode the step runs', () => {
    for (const f of FILES) {
      for (const s of steps(wf[f]).filter((s) => s.uses?.startsWith('vllm-kernel-ci/vllm-kernel-ci@'))) {
        const mode = s.with?.mode as Mode;
        for (const name of Object.keys(s.with ?? {})) {
          expect(INPUTS.find((i) => i.name === name)?.modes, `${f}: ${name}`).toContain(mode);
        }
      }
    }
  });

  it('never put an event field straight into a script (workflow_run fields included)', () => {
    for (const f of FILES) {
      for (const s of steps(wf[f]).filter((s) => s.run))
        expect(s.run, `${f}: ${s.name}`).not.toContain('$' + '{{');
    }
  });
});

describe('pr-validate.yml: untrusted code, read-only', () => {
  const w = wf['pr-validate.yml'];
  const validate = w.jobs.validate;

  it('runs on pull_request and pull_request_review only, with contents: read and nothing more', () => {
    expect(Object.keys(w.on)).toEqual(['pull_request', 'pull_request_review']);
    expect(w.on.pull_request).toEqual({ types: ['opened', 'synchronize', 'reopened'] });
    expect(w.on.pull_request_review).toEqual({ types: ['submitted'] });
    expect(w.permissions).toEqual({ contents: 'read' });
    for (const job of Object.values(w.jobs)) expect(job.permissions).toBeUndefined();
    expect(text['pr-validate.yml']).not.toMatch(/secrets\.|github\.token|github-token/);
  });

  it('runs the GPU matrix over self-hosted labels, on the approved commit, without stored credentials', () => {
    expect(validate['runs-on']).toEqual(['self-hosted', x('matrix.runner')]);
    const checkout = validate.steps.find((s) => s.uses?.startsWith('actions/checkout@'));
    expect(checkout?.with).toEqual({
      ref: x('github.event.review.commit_id || github.event.pull_request.head.sha'),
      'fetch-depth': 0,
      'persist-credentials': false,
    });
    const action = validate.steps.find((s) => s.uses?.startsWith('vllm-kernel-ci/'));
    expect(action?.with?.mode).toBe('validate');
  });

  it("gates forks on a maintainer's approving review of the head commit, not on a label", () => {
    const gate = (validate.if ?? '').replace(/\s+/g, ' ');
    expect(gate).toContain(
      "github.event_name == 'pull_request' && github.event.pull_request.head.repo.full_name == github.repository",
    );
    expect(gate).toContain(
      "github.event_name == 'pull_request_review' && github.event.review.state == 'approved'",
    );
    // the reviewer's association with this repository (GitHub computes it), not the PR author's
    expect(gate).toContain(
      `contains(fromJSON('["OWNER", "MEMBER", "COLLABORATOR"]'), github.event.review.author_association)`,
    );
    // the approval names the commit it approved; a push after it is not what was reviewed
    expect(gate).toContain('github.event.review.commit_id == github.event.pull_request.head.sha');
    expect(JSON.stringify(w.on)).not.toContain('labeled');
    expect(gate).not.toContain('label');
    expect(selfHosted(w.jobs['awaiting-approval'])).toBe(false);
  });

  it('uploads the RunResult named with PR number, head SHA and runner, even when validate fails', () => {
    const upload = validate.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.if).toBe('always()');
    expect(upload?.with?.name).toBe(
      `vllm-kernel-ci-pr${x('github.event.pull_request.number')}-${x('github.event.review.commit_id || github.event.pull_request.head.sha')}-${x('matrix.runner')}-kernel`,
    );
  });

  it('is the kernel stage, cancelled per PR and runner by a newer push', () => {
    const action = validate.steps.find((s) => s.uses?.startsWith('vllm-kernel-ci/'));
    expect(action?.with?.stage).toBe('kernel');
    expect(validate.concurrency).toEqual({
      group: `vllm-kernel-ci-pr${x('github.event.pull_request.number')}-${x('matrix.runner')}`,
      'cancel-in-progress': true,
    });
    // no workflow-level group: a review that approves nothing must not cancel a running stage
    expect(w).not.toHaveProperty('concurrency');
  });
});

describe('pr-e2e.yml: the e2e stage, after the kernel stage of its commit', () => {
  const w = wf['pr-e2e.yml'];
  const wait = w.jobs['kernel-stage'];
  const e2e = w.jobs.e2e;

  it("runs on the kernel stage's events and approval gate, read-only", () => {
    expect(w.on).toEqual(wf['pr-validate.yml'].on);
    expect(w.permissions).toEqual({ contents: 'read' });
    expect(wait.if).toBe(wf['pr-validate.yml'].jobs.validate.if);
    expect(wait.permissions).toEqual({ actions: 'read' });
    expect(selfHosted(wait)).toBe(false);
  });

  it('shares the GPU group of the kernel stage per PR and runner, so a new push cancels a running e2e', () => {
    expect(e2e.concurrency).toEqual(wf['pr-validate.yml'].jobs.validate.concurrency);
    expect(wait.concurrency?.['cancel-in-progress']).toBe(true);
    expect(e2e.needs).toBe('kernel-stage');
  });

  it('gives the GPU job no token and no permission beyond contents: read', () => {
    expect(e2e.permissions).toBeUndefined();
    expect(JSON.stringify(e2e)).not.toMatch(/github\.token|secrets\.|github-token/);
    const action = e2e.steps.find((s) => s.uses?.startsWith('vllm-kernel-ci/'));
    expect(action?.with).toMatchObject({ mode: 'validate', stage: 'e2e' });
    expect(String(action?.with?.['kernel-result'])).toContain(
      `-${x('matrix.runner')}-kernel/run-result.json`,
    );
  });

  it('uploads its RunResult even when cancelled, named as the report job downloads it', () => {
    const upload = e2e.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.if).toBe('always()');
    expect(upload?.with?.name).toBe(
      `vllm-kernel-ci-pr${x('github.event.pull_request.number')}-${x('github.event.review.commit_id || github.event.pull_request.head.sha')}-${x('matrix.runner')}-e2e`,
    );
  });
});

describe('pr-report.yml: trusted, publishes, never runs PR code', () => {
  const w = wf['pr-report.yml'];

  it('runs on workflow_run of the validate workflow, with no default permissions', () => {
    expect(w.on).toEqual({
      workflow_run: { workflows: [wf['pr-validate.yml'].name, wf['pr-e2e.yml'].name], types: ['completed'] },
    });
    expect(w.permissions).toEqual({});
  });

  it('is the only job that can write to pull requests and checks, and it has no GPU', () => {
    const writers = FILES.flatMap((f) =>
      Object.entries(wf[f].jobs)
        .filter(
          ([, j]) =>
            ({ ...wf[f].permissions, ...j.permissions })['pull-requests'] === 'write' ||
            j.permissions?.checks === 'write',
        )
        .map(([id]) => `${f}:${id}`),
    );
    expect(writers).toEqual(['pr-report.yml:report']);
    const report = w.jobs.report;
    expect(report.permissions).toEqual({ actions: 'read', checks: 'write', 'pull-requests': 'write' });
    expect(report['runs-on']).toBe('ubuntu-latest');
  });

  it('never checks out or runs the PR, and downloads only the triggering run’s artifacts for its head SHA', () => {
    const all = steps(w);
    expect(all.some((s) => s.uses?.startsWith('actions/checkout'))).toBe(false);
    const download = all.find((s) => s.uses?.startsWith('actions/download-artifact@'));
    expect(download?.with).toMatchObject({
      'run-id': x('github.event.workflow_run.id'),
      pattern: `vllm-kernel-ci-pr*-${x('github.event.workflow_run.head_sha')}-*`,
    });
    expect(all.find((s) => s.uses?.startsWith('vllm-kernel-ci/'))?.with?.mode).toBe('report');
  });

  it('reports runs of both validate events, and puts no event field into a URL or a script', () => {
    expect((w.jobs.report.if ?? '').replace(/\s+/g, ' ')).toContain(
      "(github.event.workflow_run.event == 'pull_request' || github.event.workflow_run.event == 'pull_request_review')",
    );
    expect(steps(w).filter((s) => s.run)).toEqual([]);
  });
});

describe('zizmor', () => {
  it('finds nothing in the workflows, and every ignored finding says why', {
    timeout: 300_000,
  }, async () => {
    const r = await promisify(execFile)('bash', [join(ROOT, 'scripts/zizmor.sh')]).then(
      ({ stdout, stderr }) => ({ code: 0, out: stdout + stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
    expect(r.out).toContain('No findings to report');
    expect(r.code).toBe(0);
    for (const f of FILES) {
      for (const [, audit] of text[f].matchAll(/zizmor: ignore\[([a-z-]+)\]/g))
        expect(text[f]).toContain(`# zizmor's ${audit}: `);
    }
  });

  it('really audits: an unpinned third-party action is a finding', { timeout: 300_000 }, async () => {
    const dir = await tempDir('vkci-zizmor-');
    const file = join(dir, 'bad.yml');
    await writeFile(
      file,
      'name: bad\non: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: someone/action@main\n',
    );
    const r = await promisify(execFile)('bash', [join(ROOT, 'scripts/zizmor.sh'), file]).then(
      () => ({ code: 0, out: '' }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('unpinned-uses');
  });
});

describe('nightly.yml', () => {
  const w = wf['nightly.yml'];
  it('runs on schedule and workflow_dispatch only, read-only by default', () => {
    expect(Object.keys(w.on).sort()).toEqual(['schedule', 'workflow_dispatch']);
    expect(w.permissions).toEqual({ contents: 'read' });
    expect(steps(w).some((s) => s.uses?.startsWith('actions/checkout'))).toBe(false);
    expect(w.jobs.nightly.steps[0].with?.mode).toBe('nightly');
  });

  it('runs on its own runner label, which no PR job uses (a PR cannot plant a hook for the write token)', () => {
    expect(w.jobs.nightly['runs-on']).toEqual(['self-hosted', 'nightly', x('matrix.runner')]);
    const validate = wf['pr-validate.yml'].jobs.validate['runs-on'];
    expect(validate).not.toContain('nightly');
  });
});

describe('pr-validate.yml: outputs outside the checkout', () => {
  it("writes and uploads the RunResult under the runner's temp directory, not in the PR's checkout", () => {
    const job = wf['pr-validate.yml'].jobs.validate;
    const action = job.steps.find((s) => s.uses?.startsWith('vllm-kernel-ci/'));
    expect(action?.with?.['output-dir']).toBe(`${x('runner.temp')}/vllm-kernel-ci-out`);
    const upload = job.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.with?.path).toBe(`${x('runner.temp')}/vllm-kernel-ci-out/run-result.json`);
  });
});
