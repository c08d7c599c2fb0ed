// Configuration errors found before the pipeline starts: an interpreter without torch or triton, an unknown
// bundle, a missing file, inputs that contradict each other. Each is a ConfigError (exit 2, one message, no
// pipeline and no report).
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { type Config, ConfigError } from '../config.js';
import { resolveBundle } from '../pipeline/bundle.js';
import { runCommand } from '../pipeline/process.js';

// find_spec, not import: the check costs no torch import; a broken install is detect-device's to report
const PROBE =
  'import importlib.util as u, json; print(json.dumps([m for m in ("torch", "triton") if u.find_spec(m) is None]))';

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** The modules of torch and triton the interpreter lacks; throws a ConfigError when it cannot be run. */
async function missingModules(python: string, env: Record<string, string | undefined>): Promise<string[]> {
  const run = await runCommand(python, ['-c', PROBE], { timeoutMs: 60_000, env });
  const how = 'pass --python (the `python` input) with an interpreter that has torch and triton';
  if (run.spawnError?.includes('ENOENT')) throw new ConfigError(`${python}: not found: ${how}.`);
  try {
    const missing: unknown = JSON.parse(`${run.stdout}`.trim());
    if (run.exitCode === 0 && Array.isArray(missing)) return missing.map(String);
  } catch {
    // not our answer: said below
  }
  const tail = `${run.stderr}`.trim().split('\n').pop() ?? '';
  throw new ConfigError(`${python} cannot run a Python check (${tail || `exit ${run.exitCode}`}): ${how}.`);
}

export async function preflightValidate(
  config: Config,
  env: Record<string, string | undefined>,
): Promise<void> {
  if (config.force && config.kernelSource === 'tree')
    throw new ConfigError(
      "Conflicting inputs: force: true overwrites tree files with the bundle's, but kernel-source tree writes nothing. Drop force, or use kernel-source bundle.",
    );
  if (config.e2e.aa && config.e2e.backend === 'none')
    throw new ConfigError(
      'Conflicting inputs: e2e-aa: true asks for an A/A e2e run, but e2e-backend is none. Pick an e2e backend, or drop e2e-aa.',
    );
  let bundleDir: string;
  try {
    bundleDir = await resolveBundle(config.bundle);
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  if (!(await exists(join(bundleDir, 'manifest.json'))))
    throw new ConfigError(`The bundle at ${bundleDir} has no manifest.json: it is not a kernel bundle.`);
  if (config.e2e.ratesFile && !(await exists(config.e2e.ratesFile)))
    throw new ConfigError(
      `e2e-rates '${config.e2e.ratesFile}': no such file. Pass the run-result.json of an earlier vllm-serve e2e on this runner, or leave it empty.`,
    );
  const missing = await missingModules(config.python, env);
  if (missing.length > 0)
    throw new ConfigError(
      `${config.python} has no ${missing.join(' and no ')}: pass --python (the \`python\` input) with an interpreter that has torch and triton, e.g. the venv of scripts/python-env.sh.`,
    );
}
