// Reads a RunResult that came from another job (a PR's artifact): untrusted data, checked before anything uses it.
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parseRunResult, RUN_RESULT_SCHEMA_VERSION, type RunResult } from '../results/run-result.js';
import { scrubSecrets } from './scrub.js';

export interface UntrustedReadOptions {
  /** files larger than this are refused before they are read */
  maxBytes: number;
  /** the PR number of the workflow_run event; the RunResult must name the same */
  expectedPr?: number;
  /** the head SHA of the workflow_run event; the RunResult must name the same */
  expectedSha?: string;
  /** the directory the artifacts were put in: no directory between it and the file may be a link */
  root?: string;
}

/** A RunResult from validate is well under this; 1 MiB of log tail per runner is already unreadable in a comment. */
export const DEFAULT_MAX_RUN_RESULT_BYTES = 8 * 1024 * 1024;

/** Longest string kept per field; longer ones are cut (with a note), so no field can swamp the report. */
export const STRING_CAPS = { logTail: 16_384, long: 4_096, short: 512 } as const;
const LONG_FIELDS = new Set(['message', 'reason', 'method', 'source']);

/**
 * The most work one RunResult may ask of report mode, each far above a real run (the H200 run: 79 tests,
 * 10 e2e cells of 10 samples per arm, 60 microbench cells): the worst RunResult these allow renders in seconds.
 */
export const RUN_RESULT_BOUNDS = {
  tests: 5_000,
  e2eCells: 200,
  samplesPerArm: 200,
  microbenchCells: 1_000,
} as const;

/** What is over RUN_RESULT_BOUNDS in a parsed RunResult, or undefined. */
export function overBounds(result: RunResult): string | undefined {
  const b = RUN_RESULT_BOUNDS;
  const tests = result.tests?.length ?? 0;
  if (tests > b.tests) return `it has ${tests} test cases, over the ${b.tests} one report reads`;
  const cells = result.e2e?.cells ?? [];
  if (cells.length > b.e2eCells)
    return `it has ${cells.length} e2e cells, over the ${b.e2eCells} one report reads`;
  const big = cells.find((c) => c.baseline.length > b.samplesPerArm || c.patched.length > b.samplesPerArm);
  if (big) {
    return `e2e cell ${JSON.stringify(big.id.slice(0, 80))} has ${Math.max(big.baseline.length, big.patched.length)} samples in one arm, over the ${b.samplesPerArm} one report reads`;
  }
  const mb = result.microbench?.cells.length ?? 0;
  if (mb > b.microbenchCells)
    return `it has ${mb} microbench cells, over the ${b.microbenchCells} one report reads`;
  return undefined;
}

export class UntrustedArtifactError extends Error {}

function refuse(path: string, what: string, todo: string): never {
  throw new UntrustedArtifactError(`Refusing RunResult ${path}: ${what}. ${todo}`);
}

/** Refuses a file reached through a linked directory below `root`: an artifact could link to the runner's own files. */
async function refuseLinkedParents(path: string, root: string): Promise<void> {
  const from = resolve(root);
  const rel = relative(from, dirname(resolve(path)));
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return;
  let at = from;
  for (const part of rel.split(sep)) {
    at = join(at, part);
    const info = await lstat(at).catch(() => undefined);
    if (info?.isSymbolicLink())
      refuse(path, `its directory ${at} is a link`, 'Artifacts must hold plain directories and files.');
  }
}

async function readCapped(path: string, maxBytes: number): Promise<Buffer> {
  let info: Awaited<ReturnType<typeof lstat>>;
  try {
    info = await lstat(path);
  } catch (error) {
    refuse(path, `cannot read it (${(error as Error).message})`, 'Check the artifact was downloaded.');
  }
  // a link in an artifact could point at the runner's own files
  if (!info.isFile()) refuse(path, 'it is not a regular file', 'Artifacts must hold plain JSON files.');
  if (info.size > maxBytes) {
    refuse(path, `it is ${info.size} bytes, over the ${maxBytes}-byte cap`, 'It did not come from validate.');
  }
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    // read one byte past the cap so a file that grew after lstat is still caught
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes)
      refuse(path, `it is over the ${maxBytes}-byte cap`, 'It did not come from validate.');
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

function neutraliseString(value: string, cap: number): string {
  // token shapes too: a RunResult from a job that printed one must not publish it
  const clean = scrubSecrets(value, []);
  if (clean.length <= cap) return clean;
  return `${clean.slice(0, cap)}… [${clean.length - cap} characters cut]`;
}

function capFor(key: string | undefined): number {
  if (key === 'logTail') return STRING_CAPS.logTail;
  return key !== undefined && LONG_FIELDS.has(key) ? STRING_CAPS.long : STRING_CAPS.short;
}

/** Strips control characters and cuts over-long strings, record keys included; depth is bounded by the schema. */
function neutralise(value: unknown, key?: string): unknown {
  if (typeof value === 'string') return neutraliseString(value, capFor(key));
  if (Array.isArray(value)) return value.map((v) => neutralise(v, key));
  if (value !== null && typeof value === 'object') {
    // a null-prototype object: a "__proto__" key from the artifact stays a plain key
    const out: Record<string, unknown> = Object.create(null);
    for (const [k, v] of Object.entries(value))
      out[neutraliseString(k, STRING_CAPS.short)] = neutralise(v, k);
    return { ...out };
  }
  return value;
}

/** Size cap, UTF-8 and JSON, schema, PR number and head SHA, then string caps; every refusal names the file. */
export async function readUntrustedRunResult(
  path: string,
  options: UntrustedReadOptions,
): Promise<RunResult> {
  if (options.root !== undefined) await refuseLinkedParents(path, options.root);
  const bytes = await readCapped(path, options.maxBytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    refuse(path, 'it is not UTF-8 text', 'RunResults are JSON written by validate.');
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    refuse(
      path,
      `it is not JSON (${(error as Error).message.slice(0, 200)})`,
      'RunResults are JSON written by validate.',
    );
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    refuse(
      path,
      `it is JSON ${data === null ? 'null' : Array.isArray(data) ? 'array' : typeof data}, not an object`,
      'RunResults are JSON objects written by validate.',
    );
  }
  const schema = (data as { schema?: unknown }).schema;
  if (schema !== RUN_RESULT_SCHEMA_VERSION) {
    refuse(
      path,
      `it has schema ${JSON.stringify(schema)?.slice(0, 40)}, and this version reads schema ${RUN_RESULT_SCHEMA_VERSION}`,
      'Use the same vllm-kernel-ci version in the validate and report workflows.',
    );
  }
  let result: RunResult;
  try {
    result = parseRunResult(data, path);
  } catch (error) {
    refuse(path, (error as Error).message, 'It was not written by this version of validate.');
  }
  const over = overBounds(result);
  if (over) refuse(path, over, 'A real validate run is far smaller: it was not written by validate.');
  const { pr, headSha } = result.identity;
  if (options.expectedPr !== undefined && pr !== options.expectedPr) {
    refuse(
      path,
      `it is for pull request ${pr === undefined ? '(none)' : `#${pr}`}, but the workflow_run event is for #${options.expectedPr}`,
      'Only the artifacts of the run that triggered this report are published.',
    );
  }
  if (options.expectedSha !== undefined && headSha?.toLowerCase() !== options.expectedSha.toLowerCase()) {
    refuse(
      path,
      `it is for commit ${headSha === undefined ? '(none)' : String(headSha).slice(0, 64)}, but the workflow_run event is for ${options.expectedSha}`,
      'Only the artifacts of the run that triggered this report are published.',
    );
  }
  return neutralise(result) as RunResult;
}
