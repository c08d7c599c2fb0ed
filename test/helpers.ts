import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { NO_AUTO_GC } from '../src/pipeline/git-settings.js';
import type { VerdictMethod } from '../src/report/model.js';
import { sequentialMethod } from '../src/stats/sequential.js';

export const ROOT = resolve(import.meta.dirname, '..');

export async function tempDir(prefix = 'vkci-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export interface Spawned {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs node (this process's, Node 24) on a script with a given environment; never throws on exit status. */
export function runNode(args: string[], env: Record<string, string>, cwd = ROOT): Promise<Spawned> {
  return runFile(process.execPath, args, env, cwd);
}

/** Runs a program with a given environment; never throws on exit status. */
export async function runFile(
  file: string,
  args: string[],
  env: Record<string, string>,
  cwd = ROOT,
): Promise<Spawned> {
  try {
    const { stdout, stderr } = await promisify(execFile)(file, args, {
      cwd,
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A runner-like environment for dist/index.js: INPUT_* variables, event payload, output and summary files. */
export async function runnerEnv(
  inputs: Record<string, string>,
  event: unknown = {},
): Promise<{ env: Record<string, string>; dir: string }> {
  const dir = await tempDir('vkci-runner-');
  const eventPath = join(dir, 'event.json');
  await writeFile(eventPath, JSON.stringify(event));
  await writeFile(join(dir, 'output'), '');
  await writeFile(join(dir, 'summary.md'), '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? dir,
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_OUTPUT: join(dir, 'output'),
    GITHUB_STEP_SUMMARY: join(dir, 'summary.md'),
    GITHUB_REPOSITORY: 'example/vllm',
    GITHUB_WORKSPACE: dir,
    RUNNER_NAME: 'h100-runner-1',
    RUNNER_TEMP: dir,
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  return { env, dir };
}

/** Parses the GITHUB_OUTPUT file format (name<<delimiter ... delimiter). */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i]);
    if (!m) continue;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) body.push(lines[i]);
    out[m[1]] = body.join('\n');
  }
  return out;
}

/** `git init` (flags such as --bare) with the settings the tool gives its own repositories: no background gc. */
export async function gitInit(dir: string, ...flags: string[]): Promise<void> {
  await promisify(execFile)('git', ['init', '--quiet', ...flags, dir]);
  for (const args of NO_AUTO_GC) await promisify(execFile)('git', ['-C', dir, ...args]);
}

/** The same settings as `git clone` flags. */
export const NO_AUTO_GC_FLAGS: string[] = NO_AUTO_GC.flatMap(([, key, value]) => ['-c', `${key}=${value}`]);

/** The sequential rule cut to one look of `pairs` pairs a cell, for runner tests that count bench runs. */
export function oneLook(pairs: number): VerdictMethod {
  return { ...sequentialMethod(2), lookEvery: pairs, maxPairs: pairs };
}
