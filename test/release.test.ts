// The project's own release machinery: CI and release workflows, release notes from CHANGELOG.md, Marketplace
// metadata. actionlint lints these workflows in `npm test` (scripts/actionlint.sh).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
// @ts-expect-error: a plain .mjs script, typed by these tests
import { releaseNotes, tagVersion } from '../scripts/release-notes.mjs';
import { RUN_RESULT_SCHEMA_VERSION } from '../src/results/run-result.js';
import { ROOT } from './helpers.js';

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, string>;
}
interface Job {
  name?: string;
  permissions?: Record<string, string>;
  needs?: string;
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: Record<string, Job>;
}

const read = (path: string) => readFile(join(ROOT, path), 'utf8');
const workflowText = {
  ci: await read('.github/workflows/ci.yml'),
  release: await read('.github/workflows/release.yml'),
};
const ci = parse(workflowText.ci) as Workflow;
const release = parse(workflowText.release) as Workflow;
const pkg = JSON.parse(await read('package.json')) as { version: string };
const changelog = await read('CHANGELOG.md');

describe('the project workflows', () => {
  it.each(Object.entries(workflowText))(
    '%s pins every action to a full commit SHA and names its version',
    (_, text) => {
      const uses = [...text.matchAll(/uses:\s*(\S+)(.*)$/gm)];
      expect(uses.length).toBeGreaterThan(0);
      for (const [, ref, comment] of uses) {
        expect(ref, ref).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
        expect(comment.trim(), ref).toMatch(/^# v\d+\.\d+\.\d+$/);
      }
    },
  );

  it.each([
    ['ci', ci],
    ['release', release],
  ])('%s grants nothing at the top and only what each job needs', (_, wf) => {
    expect(wf.permissions).toEqual({});
    for (const [name, job] of Object.entries(wf.jobs)) {
      expect(job.permissions, name).toBeDefined();
      for (const step of job.steps.filter((s) => s.uses?.startsWith('actions/checkout@'))) {
        expect(step.with?.['persist-credentials'], name).toBe(false);
      }
    }
  });

  it('ci runs the README test command on push and pull_request, and checks dist/ in its own job', async () => {
    expect(Object.keys(ci.on).sort()).toEqual(['pull_request', 'push']);
    const runs = (job: string) => ci.jobs[job].steps.map((s) => s.run).filter(Boolean);
    expect(runs('test')).toEqual(['npm ci', 'npm test']);
    expect(await read('README.md')).toContain('npm ci && npm test');
    expect(runs('check-dist')).toContain('bash scripts/check-dist.sh');
    for (const job of Object.values(ci.jobs)) expect(job.permissions).toEqual({ contents: 'read' });
  });

  it('release verifies the tag without write rights, then releases, attests dist/ and moves the major tag', () => {
    expect(release.on).toEqual({ push: { tags: ['v*.*.*'] } });
    const verify = release.jobs.verify;
    expect(verify.permissions).toEqual({ contents: 'read' });
    expect(verify.steps.map((s) => s.run)).toEqual(
      expect.arrayContaining(['bash scripts/check-dist.sh', 'node scripts/release-notes.mjs "$TAG"']),
    );
    const job = release.jobs.release;
    expect(job.needs).toBe('verify');
    expect(job.permissions).toEqual({ contents: 'write', 'id-token': 'write', attestations: 'write' });
    const attest = job.steps.find((s) => s.uses?.startsWith('actions/attest-build-provenance@'));
    expect(attest?.with?.['subject-path'].split('\n')).toEqual(
      expect.arrayContaining(['dist/index.js', 'dist/cli.js', 'package/*.tgz']),
    );
    const script = job.steps.map((s) => s.run ?? '').join('\n');
    expect(script).toContain('gh release create "$TAG" --verify-tag');
    expect(script).toContain('--notes-file');
    expect(script).toContain('npm pack --pack-destination package');
    expect(script).toMatch(/major=\$\{TAG%%\.\*\}/);
  });
});

describe('release notes from CHANGELOG.md', () => {
  it("has this version's section, naming the RunResult schema it writes", () => {
    const notes = releaseNotes(changelog, pkg.version, RUN_RESULT_SCHEMA_VERSION);
    expect(notes).toContain(`RunResult schema ${RUN_RESULT_SCHEMA_VERSION}.`);
    expect(notes).toContain('### Added');
    expect(notes).not.toContain('## [');
    expect(notes).not.toMatch(/^\[[^\]]+\]: http/m);
  });

  it('refuses a tag that is not vX.Y.Z or not package.json version, a missing section, another schema', () => {
    expect(tagVersion('v0.1.0', '0.1.0')).toBe('0.1.0');
    expect(tagVersion('v1.2.0-rc.1', '1.2.0-rc.1')).toBe('1.2.0-rc.1');
    expect(() => tagVersion('0.1.0', '0.1.0')).toThrow(/not a release tag: expected vMAJOR.MINOR.PATCH/);
    expect(() => tagVersion('v0.2.0', '0.1.0')).toThrow("does not match package.json's version 0.1.0");
    expect(() => releaseNotes(changelog, '9.9.9', 1)).toThrow("CHANGELOG.md has no section '## [9.9.9]");
    expect(() => releaseNotes(changelog, pkg.version, 2)).toThrow(
      /names RunResult schema 1, but this release writes schema 2/,
    );
    expect(() => releaseNotes('## [1.0.0] - 2027-01-01\n\n### Added\n- x\n', '1.0.0', 1)).toThrow(
      'does not name its RunResult schema version',
    );
  });
});

describe('action.yml for the Marketplace', () => {
  it('has branding and a description within the Marketplace limit', async () => {
    const action = parse(await read('action.yml')) as {
      name: string;
      description: string;
      branding: { icon: string; color: string };
    };
    expect(action.description.length).toBeLessThanOrEqual(125);
    expect(['white', 'black', 'yellow', 'blue', 'green', 'orange', 'red', 'purple', 'gray-dark']).toContain(
      action.branding.color,
    );
    expect(action.branding.icon).toMatch(/^[a-z0-9-]+$/);
  });
});
