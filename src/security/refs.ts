// What a ref or any other input that reaches a command line may look like: never an option, always a ref. Pure.
import { showInvisible } from './text.js';

/** A release version as PyPI publishes vLLM (PEP 440 shapes: 0.33.0, 0.10.1rc1, 0.9.2.post1). */
const VERSION = /^\d+(\.\d+)*((a|b|rc|\.post|\.dev)\d+)*$/i;
const SHA = /^[0-9a-f]{7,40}$/i;

/** Why `git check-ref-format --allow-onelevel` would refuse the name, or undefined when it accepts it. */
export function refFormatProblem(ref: string): string | undefined {
  if (ref === '') return 'it is empty';
  if (ref.startsWith('-')) return 'it starts with `-`, so git would read it as an option';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what git refuses
  if (/[\u0000-\u0020\u007f~^:?*[\\]/.test(ref))
    return 'it holds a space, a control character or one of ~ ^ : ? * [ \\';
  if (ref.includes('..')) return 'it holds `..`';
  if (ref.includes('@{') || ref === '@') return 'it holds `@{` or is `@`';
  if (ref.startsWith('/') || ref.endsWith('/') || ref.includes('//'))
    return 'it starts or ends with `/`, or holds `//`';
  if (ref.endsWith('.')) return 'it ends with `.`';
  for (const part of ref.split('/')) {
    if (part.startsWith('.')) return 'a path component starts with `.`';
    if (part.endsWith('.lock')) return 'a path component ends with `.lock`';
  }
  // anything beyond ASCII is legal to git but never a vLLM branch, and hides look-alike characters
  if (/[^\u0021-\u007e]/.test(ref)) return 'it holds characters outside printable ASCII';
  return undefined;
}

/**
 * The vllm-ref input: a branch, tag, `refs/...` name or SHA as `git check-ref-format` accepts it, or a release
 * version when the repository is `pypi`. Throws a message naming the input, the value and what to give.
 */
export function checkRef(name: string, value: string, repository: string): string {
  if (repository === 'pypi') {
    if (VERSION.test(value)) return value;
    throw new Error(
      `Invalid ${name} '${printable(value)}'. Expected a vLLM release version such as 0.33.0 (vllm-repository is pypi).`,
    );
  }
  if (SHA.test(value)) return value;
  const problem = refFormatProblem(value);
  if (problem === undefined) return value;
  throw new Error(
    `Invalid ${name} '${printable(value)}': ${problem}. Expected a branch, tag, commit SHA or refs/pull/N/head, as \`git check-ref-format\` accepts it.`,
  );
}

/** Inputs that reach a command line as an argument: an option-looking value would change the command. */
export function checkNotOption(name: string, value: string): string {
  if (!value.startsWith('-')) return value;
  throw new Error(
    `Invalid ${name} '${printable(value)}': it starts with \`-\`, so a command would read it as an option. Give a name or path that does not start with \`-\` (e.g. ./${printable(value)}).`,
  );
}

/** Shows control and invisible characters of a refused value as \u escapes, so the message cannot be spoofed. */
export function printable(value: string, max = 200): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return showInvisible(cut).replace(/[\t\n]/g, (c) => (c === '\t' ? '\\t' : '\\n'));
}
