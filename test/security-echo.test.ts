// Logs echoed to the runner: a PR's output holding workflow commands is printed, never obeyed.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { actionHost } from '../src/main.js';
import { runValidate } from '../src/modes/validate.js';
import { guardWorkflowCommands } from '../src/security/echo.js';
import { deps, fakeEnv, makeBundle, makeVllmRepo, pipelineConfig } from './fakes/world.js';

const COMMANDS = ['::set-output name=verdict::passed', '::add-mask::abc', '::error title=Pwned::from a test'];

/** What the runner would process: every line outside stop-commands ... resume, as it reads them. */
function processedCommands(stdout: string): string[] {
  const seen: string[] = [];
  let stopped: string | undefined;
  for (const line of stdout.split('\n')) {
    const t = line.trimStart();
    if (stopped !== undefined) {
      if (t === `::${stopped}::`) stopped = undefined;
      continue;
    }
    const stop = /^::stop-commands::(.+)$/.exec(t);
    if (stop) stopped = stop[1];
    else if (t.startsWith('::') || t.includes('##[')) seen.push(t);
  }
  return seen;
}

async function captureStdout(body: () => Promise<void>): Promise<string> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await body();
  } finally {
    spy.mockRestore();
  }
  return out;
}

describe('echoed logs', () => {
  it('wraps text holding a command in stop-commands with a token drawn per call', () => {
    const a = guardWorkflowCommands(`tail:\n${COMMANDS.join('\n')}`);
    const b = guardWorkflowCommands(`tail:\n${COMMANDS.join('\n')}`);
    expect(processedCommands(a)).toEqual([]);
    const token = /^::stop-commands::([0-9a-f]{32})\n/.exec(a)?.[1];
    expect(token).toBeDefined();
    expect(a.endsWith(`\n::${token}::`)).toBe(true);
    expect(b).not.toContain(token as string);
    expect(processedCommands('##[set-output name=x;]y')).toHaveLength(1);
    expect(processedCommands(guardWorkflowCommands('##[set-output name=x;]y'))).toEqual([]);
  });

  it('leaves ordinary lines as they are', () => {
    expect(guardWorkflowCommands('kernel-tests: passed in 3.1 s')).toBe('kernel-tests: passed in 3.1 s');
  });

  describe('through the action host', () => {
    let repo: { dir: string; sha: string };
    let bundle: string;
    beforeAll(async () => {
      repo = await makeVllmRepo();
      bundle = await makeBundle();
    });

    it("a failing step's log tail with ::set-output, ::add-mask:: and ::error lines reaches the runner inert", {
      timeout: 60_000,
    }, async () => {
      const env = await fakeEnv({
        FAKE_GPU: 'nvidia',
        FAKE_VLLM_VERSION: '0.33.0',
        FAKE_PYTEST: 'leak',
        FAKE_LEAK: `\n${COMMANDS.join('\n')}\n`,
      });
      const config = await pipelineConfig({
        'vllm-repository': repo.dir,
        'vllm-ref': 'v0.33.0',
        bundle,
        install: 'precompiled',
        'e2e-backend': 'none',
      });
      const d = await deps(env);
      const stdout = await captureStdout(async () => {
        await runValidate(config, { ...actionHost, env: {}, uploadArtifact: undefined }, d);
      });
      expect(stdout).toContain('::set-output name=verdict::passed');
      expect(processedCommands(stdout).filter((c) => !/^::(group|endgroup)::/.test(c))).toEqual([]);
    });
  });
});
