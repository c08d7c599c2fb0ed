// Issue 23, breaks 1, 2 and 4: a hostile PR kernel run by the kernel-tests step on the CPU (Triton's interpreter),
// once without a sandbox (the attacks work: the tests can fail) and once in bwrap (they do not).
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { install } from '../src/pipeline/install.js';
import { runKernelTests } from '../src/pipeline/kernel-tests.js';
import { probeBwrap, runCommand, sleep, startLogged, stopProcessGroup } from '../src/pipeline/process.js';
import { type StepHandle, StepRecorder } from '../src/pipeline/step.js';
import { renderRunnerSection } from '../src/report/render.js';
import { parseRunResult, type RunResult, type StepName } from '../src/results/run-result.js';
import { childEnvironment } from '../src/security/child-env.js';
import {
  BWRAP_NAMESPACES,
  bwrapArgv,
  decideSandbox,
  gpuDevices,
  hiddenPaths,
  NO_SANDBOX,
  namedPaths,
  type SandboxPolicy,
  type SandboxSpec,
} from '../src/security/sandbox.js';
import { analyseRun } from '../src/stats/analyse.js';
import { recordingHost } from './fakes/world.js';
import { ROOT, tempDir } from './helpers.js';

const PYTHON = process.env.VLLM_KERNEL_CI_PYTHON ?? 'python3';
const HOSTILE = join(ROOT, 'test/fixtures/hostile');
const HOSTILE_BUILD = join(ROOT, 'test/fixtures/hostile-build');
const TOKEN = 'fake-actions-runtime-token-for-issue-23';
const bwrap = await probeBwrap();
// .ci/run installs bubblewrap: in CI these tests run, never skip
if (!bwrap.ok && process.env.CI) throw new Error(`bwrap does not work in CI: ${bwrap.why}`);

/** What a step that ran hostile code left: what the code found from inside, the step's log and record. */
interface HostileRun<T> {
  findings: string;
  log: string;
  tree: string;
  commandFile: string;
  seconds: number;
  step: RunResult['steps'][number];
  value: T | undefined;
}

/** A runner's temp folder with one file command, the job's environment around it, and an output directory. */
async function runnerFiles(): Promise<{ commandFile: string; outDir: string; jobEnv: NodeJS.ProcessEnv }> {
  const runnerTemp = await tempDir('vkci-runner-temp-');
  await mkdir(join(runnerTemp, '_runner_file_commands'));
  const commandFile = join(runnerTemp, '_runner_file_commands', 'set_env_0001');
  await writeFile(commandFile, '');
  const outDir = await tempDir('vkci-hostile-out-');
  return {
    commandFile,
    outDir,
    jobEnv: { ...process.env, RUNNER_TEMP: runnerTemp, GITHUB_ENV: commandFile },
  };
}

/**
 * Step `name` of a tree whose code runs `attacks` (hostile_attacks.py), in `kind`'s sandbox, with a runner's file
 * commands beside it: `body` gets the step and the job's allowlisted environment with the attacks chosen.
 */
async function hostileStep<T>(
  kind: 'bwrap' | 'none',
  name: StepName,
  tree: string,
  attacks: string,
  body: (step: StepHandle, env: Record<string, string | undefined>) => Promise<T>,
): Promise<HostileRun<T>> {
  const { commandFile, outDir, jobEnv } = await runnerFiles();
  const env = {
    ...childEnvironment(jobEnv),
    VLLM_KERNEL_CI_HOSTILE: attacks,
    VLLM_KERNEL_CI_HOSTILE_MARKER: join(tree, 'forged'),
  };
  const sandbox: SandboxPolicy =
    kind === 'bwrap' ? { kind, hidden: hiddenPaths(jobEnv, outDir), devices: gpuDevices() } : NO_SANDBOX;
  const result = { steps: [] } as unknown as RunResult;
  const recorder = new StepRecorder({ result, outDir, host: recordingHost(), scrub: (s) => s, sandbox });
  const t0 = performance.now();
  const value = await recorder.run(name, (step) => body(step, env));
  return {
    findings: await readFile(join(tree, 'findings.txt'), 'utf8'),
    log: await readFile(join(outDir, `logs/${name}.log`), 'utf8'),
    tree,
    commandFile,
    seconds: (performance.now() - t0) / 1000,
    step: result.steps[0],
    value,
  };
}

/** The kernel-tests step on the hostile kernel. */
async function hostileRun(kind: 'bwrap' | 'none', attacks: string) {
  const tree = await tempDir('vkci-hostile-tree-');
  await cp(HOSTILE, tree, { recursive: true });
  const r = await hostileStep(kind, 'kernel-tests', tree, attacks, (step, env) =>
    runKernelTests(step, {
      python: PYTHON,
      cwd: tree,
      targets: ['test_hostile.py'],
      device: { vendor: 'cpu', name: 'cpu', count: 0 },
      env: { ...env, PYTHONPATH: tree, TRITON_INTERPRET: '1' },
      pluginDir: join(ROOT, 'kernels'),
      timeoutMs: 120_000,
      group: 'conformance',
      junitName: 'junit',
      sandbox: step.sandbox({ writable: [tree] }),
    }),
  );
  return { ...r, tests: r.value?.tests ?? [] };
}

/** The install step's editable build (install: precompiled) of a tree whose pyproject backend attacks, into a
 * venv of its own. */
async function hostileInstall(kind: 'bwrap' | 'none', attacks: string) {
  const tree = await tempDir('vkci-hostile-build-');
  await cp(HOSTILE_BUILD, tree, { recursive: true });
  await cp(join(HOSTILE, 'hostile_attacks.py'), join(tree, 'hostile_attacks.py'));
  const venv = await tempDir('vkci-hostile-venv-');
  const made = await runCommand(PYTHON, ['-m', 'venv', venv], { timeoutMs: 120_000 });
  if (made.exitCode !== 0) throw new Error(`python -m venv: ${made.output}`);
  return hostileStep(kind, 'install', tree, attacks, (step, env) =>
    install(step, {
      method: 'precompiled',
      python: join(venv, 'bin/python'),
      vllmDir: tree,
      rocm: false,
      env,
      timeoutMs: 120_000,
    }),
  );
}

/** The runner's worker for a describe: a process of the job whose environment holds the token from its start. */
function tokenHoldingWorker(): void {
  let worker: ReturnType<typeof startLogged> | undefined;
  beforeAll(() => {
    worker = startLogged('sleep', ['300'], { env: { PATH: process.env.PATH, ACTIONS_RUNTIME_TOKEN: TOKEN } });
  });
  afterAll(async () => {
    if (worker) await stopProcessGroup(worker, 0);
  });
}

describe.skipIf(!bwrap.ok)('a hostile PR kernel in the kernel-tests step', () => {
  tokenHoldingWorker();

  it('without a sandbox, reads the token through /proc, poisons GITHUB_ENV and leaves a daemon (the breaks)', async () => {
    const r = await hostileRun('none', 'environ,files,daemon');
    expect(r.findings).toContain(`ACTIONS_RUNTIME_TOKEN=${TOKEN}`);
    expect(r.findings).toContain('APPENDED');
    expect(await readFile(r.commandFile, 'utf8')).toContain('POISONED=1');
    await sleep(3_000);
    expect(existsSync(join(r.tree, 'forged'))).toBe(true);
    expect(r.step.sandbox).toBe('none');
  }, 120_000);

  it('in bwrap, sees no token, poisons nothing, leaves nothing running, does not hang the step', async () => {
    const r = await hostileRun('bwrap', 'environ,files,daemon,hold');
    // the kernel ran and was judged from the JUnit file the tool read after the sandbox was gone
    expect(r.tests.map((t) => [t.id.split('::').pop(), t.status])).toEqual([['test_add_one', 'passed']]);
    expect(r.step).toMatchObject({ status: 'passed', sandbox: 'bwrap' });
    expect(r.findings).toMatch(/^ran \['daemon', 'environ', 'files', 'hold'\]/);
    expect(r.findings).not.toContain(TOKEN);
    expect(r.findings).not.toContain('LEAKED');
    expect(r.log).not.toContain(TOKEN);
    // RUNNER_TEMP is an empty tmpfs inside: the job's file commands are not there to append to
    expect(r.findings).not.toContain('APPENDED');
    expect(await readFile(r.commandFile, 'utf8')).toBe('');
    // a grandchild holding stdout in its own session died with the namespace: the step did not wait for it
    expect(r.seconds).toBeLessThan(60);
    await sleep(3_000);
    expect(existsSync(join(r.tree, 'forged'))).toBe(false);
  }, 120_000);
});

describe.skipIf(!bwrap.ok)("a hostile PR tree's build in the install step (pip install --editable)", () => {
  tokenHoldingWorker();

  it('without a sandbox, the build reads the token, poisons GITHUB_ENV and leaves a daemon (the breaks)', async () => {
    const r = await hostileInstall('none', 'environ,files,daemon');
    expect(r.findings).toContain(`ACTIONS_RUNTIME_TOKEN=${TOKEN}`);
    expect(await readFile(r.commandFile, 'utf8')).toContain('POISONED=1');
    await sleep(3_000);
    expect(existsSync(join(r.tree, 'forged'))).toBe(true);
    expect(r.step).toMatchObject({ status: 'failed', sandbox: 'none' });
  }, 180_000);

  it('in bwrap, the build sees no token, poisons nothing, leaves nothing running, and the step says why it failed', async () => {
    // (a grandchild holding the backend's stdout hangs pip itself inside: the step's timeout bounds that)
    const r = await hostileInstall('bwrap', 'environ,files,daemon');
    expect(r.findings).toMatch(/^ran \['daemon', 'environ', 'files'\]/);
    expect(r.findings).not.toContain(TOKEN);
    expect(r.findings).not.toContain('APPENDED');
    expect(await readFile(r.commandFile, 'utf8')).toBe('');
    expect(r.step).toMatchObject({ status: 'failed', sandbox: 'bwrap' });
    expect(r.step.reason).toMatch(/pip install --editable \. failed: .*the hostile build ends here/);
    expect(r.log).not.toContain(TOKEN);
    expect(r.seconds).toBeLessThan(90);
    await sleep(3_000);
    expect(existsSync(join(r.tree, 'forged'))).toBe(false);
  }, 180_000);
});

describe.skipIf(!bwrap.ok)('bwrap as the sandbox starts it', () => {
  const spec = async (): Promise<SandboxSpec> => {
    const scratch = await tempDir('vkci-scratch-');
    await mkdir(join(scratch, 'tmp'));
    return { kind: 'bwrap', writable: [], hidden: [], scratch, network: 'none', devices: [] };
  };

  it('PID 1 inside holds only the allowlisted environment: bwrap itself started with it (env -i)', async () => {
    const r = await runCommand('sh', ['-c', 'tr "\\0" "\\n" < /proc/1/environ; echo pid=$$'], {
      env: { ...childEnvironment(process.env), ACTIONS_RUNTIME_TOKEN: undefined },
      timeoutMs: 30_000,
      sandbox: await spec(),
    });
    process.env.ACTIONS_RUNTIME_TOKEN = TOKEN;
    try {
      const again = await runCommand('sh', ['-c', 'tr "\\0" "\\n" < /proc/1/environ'], {
        timeoutMs: 30_000,
        sandbox: await spec(),
      });
      expect(again.stdout).not.toContain(TOKEN);
      expect(again.stdout).toMatch(/^PATH=/m);
    } finally {
      delete process.env.ACTIONS_RUNTIME_TOKEN;
    }
    expect(r.exitCode).toBe(0);
    // a new PID namespace: the shell is PID 2 under bwrap's PID 1
    expect(r.stdout).toContain('pid=2');
  });

  it('cuts the network but loopback, and keeps / read-only with HOME in the scratch', async () => {
    const s = await spec();
    const r = await runCommand(
      PYTHON,
      [
        '-c',
        [
          'import os, socket',
          'print("ifaces", sorted(n for _, n in socket.if_nameindex()))',
          's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); print("loopback ok")',
          'try:\n    open("/etc/vkci-probe", "w")\nexcept OSError as e:\n    print("root", e.errno)',
          'print("home", os.environ["HOME"])',
        ].join('\n'),
      ],
      { timeoutMs: 30_000, sandbox: s },
    );
    expect(r.stdout).toContain("ifaces ['lo']");
    expect(r.stdout).toContain('loopback ok');
    expect(r.stdout).toContain('root 30'); // EROFS
    expect(r.stdout).toContain(`home ${s.scratch}`);
  });
});

describe('the sandbox decision', () => {
  const missing = { ok: false as const, why: 'bwrap not found' };
  it("auto: bwrap when it works; without it a fork's code does not run, a same-repository PR's warns", () => {
    expect(decideSandbox('auto', { ok: true }, true)).toEqual({ kind: 'bwrap' });
    expect(() => decideSandbox('auto', missing, true)).toThrow(
      /A fork's code does not run without a sandbox/,
    );
    const own = decideSandbox('auto', missing, false);
    expect(own.kind).toBe('none');
    expect(own.warning).toMatch(/apt-get install -y bubblewrap/);
  });

  it('bwrap: an error naming the fix when it does not work; none: no sandbox, said for a fork', () => {
    expect(() => decideSandbox('bwrap', missing, false)).toThrow(
      /sandbox: bwrap, but bwrap does not work here/,
    );
    expect(decideSandbox('none', missing, false)).toEqual({ kind: 'none' });
    expect(decideSandbox('none', missing, true).warning).toMatch(/no sandbox/);
  });
});

describe('the bwrap command line', () => {
  const spec: SandboxSpec = {
    kind: 'bwrap',
    writable: ['/work/tree'],
    readable: ['/work/tree/.git'],
    hidden: ['/runner/_temp', '/runner/_temp/event.json', '/gone'],
    scratch: '/tmp/scratch',
    network: 'none',
    devices: ['/dev/nvidia0', '/dev/kfd'],
  };
  const exists = (p: string) => p !== '/gone' && p !== '/dev/kfd';
  const argv = bwrapArgv(spec, 'python', ['-m', 'pytest'], exists);

  it('unshares every namespace, dies with its parent, and mounts / read-only', () => {
    for (const flag of ['--unshare-pid', '--unshare-net', '--die-with-parent', '--new-session'])
      expect(argv).toContain(flag);
    expect(argv.join(' ')).toContain('--ro-bind / /');
    expect(argv.slice(-4)).toEqual(['--', 'python', '-m', 'pytest']);
  });

  it('hides first, binds the tree and scratch writable after, and the .git read-only last', () => {
    const at = (...words: string[]) => argv.join(' ').indexOf(words.join(' '));
    expect(at('--bind /work/tree /work/tree')).toBeGreaterThan(at('--tmpfs /tmp'));
    expect(at('--ro-bind /work/tree/.git')).toBeGreaterThan(at('--bind /work/tree'));
    expect(argv.join(' ')).toContain('--bind /tmp/scratch /tmp/scratch');
    expect(argv.join(' ')).not.toContain('/gone');
  });

  it('passes the GPU nodes that exist and points HOME and TMPDIR into the scratch', () => {
    expect(argv.join(' ')).toContain('--dev-bind /dev/nvidia0 /dev/nvidia0');
    expect(argv).not.toContain('/dev/kfd');
    expect(argv.join(' ')).toContain('--setenv HOME /tmp/scratch --setenv TMPDIR /tmp/scratch/tmp');
  });

  it('binds what a command names read-only before the writable paths, never what is hidden', () => {
    const named = namedPaths(
      { writable: ['/tmp/run/tree'], scratch: '/tmp/run/scratch', hidden: ['/runner/_temp', '/home/u/.ssh'] },
      '/tmp/run/venv/bin/python',
      [
        'compile_matrix.py',
        '--impl',
        '/tmp/run/tree/vllm/k.py::f',
        '--model',
        '/tmp/run/model',
        '/runner/_temp/x',
      ],
      '/tmp/run/bundle',
      { PYTHONPATH: '/tmp/run/probe:/tmp/run/base:/home/u/.ssh/x:/' },
      () => true,
      (p) => !p.endsWith('.py') && !p.endsWith('/x'),
    );
    // the tree is writable already, the hidden paths stay hidden, / is never bound
    expect(named).toEqual([
      '/tmp/run/bundle',
      '/tmp/run/probe',
      '/tmp/run/base',
      '/tmp/run/venv',
      '/tmp/run/model',
    ]);
    const argv = bwrapArgv({ ...spec, named: ['/tmp/run/base'] }, 'python', [], exists).join(' ');
    expect(argv.indexOf('--ro-bind /tmp/run/base')).toBeLessThan(argv.indexOf('--bind /work/tree'));
  });

  it("hides RUNNER_TEMP, the GITHUB_* files, the output directory and the runner's credentials", () => {
    const hidden = hiddenPaths(
      {
        RUNNER_TEMP: '/r/_work/_temp',
        GITHUB_ENV: '/r/_work/_temp/_runner_file_commands/set_env_1',
        GITHUB_WORKSPACE: '/r/_work/repo/repo',
        RUNNER_WORKSPACE: '/r/_work/repo',
        HOME: '/home/runner',
      },
      '/r/_work/_temp/vllm-kernel-ci-out',
    );
    expect(hidden).toEqual(
      expect.arrayContaining([
        '/r/_work/_temp/vllm-kernel-ci-out',
        '/r/_work/_temp',
        '/r/_work/_temp/_runner_file_commands/set_env_1',
        '/r/.credentials',
        '/r/.runner',
        '/home/runner/.ssh',
      ]),
    );
    expect(hidden).not.toContain('/r/_work/repo/repo');
  });
});

describe('the report', () => {
  it("says which sandbox the steps that ran the tree's code ran in, and warns for none", async () => {
    const result = parseRunResult(
      JSON.parse(await readFile(join(ROOT, 'docs/example-report-cpu.run-result.json'), 'utf8')),
      'example-report-cpu.run-result.json',
    );
    const mark = (name: string, sandbox: 'bwrap' | 'none') => {
      const step = result.steps.find((s) => s.name === name);
      if (step) step.sandbox = sandbox;
    };
    mark('kernel-tests', 'bwrap');
    mark('compile', 'bwrap');
    mark('install', 'none');
    const section = renderRunnerSection(analyseRun(result, { minEffectPct: 2, failOnRegression: false }));
    expect(section).toContain("The tree's code ran in ⚠️ no sandbox: install; bwrap: compile, kernel-tests.");
  });
});

describe('scripts/gpu/gpu_sandbox.sh (the sandbox on the H200, without Node)', () => {
  it("starts bwrap with the flags of the tool's sandbox, in the same order, and with env -i", async () => {
    const script = await readFile(join(ROOT, 'scripts/gpu/gpu_sandbox.sh'), 'utf8');
    expect(script).toContain(`argv=(${BWRAP_NAMESPACES.join(' ')}\n  --ro-bind / / --dev /dev --proc /proc)`);
    expect(script).toContain(['env -i "$', '{allow[@]}" "$bwrap"'].join(''));
  });
});
