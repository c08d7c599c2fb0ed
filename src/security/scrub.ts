// Removes credentials from captured text (log tails, test ids, messages, raw logs) before it is stored in a
// RunResult or an artifact, or shown anywhere. Pure.
import { stripInvisible } from './text.js';

export const REDACTED = '***';

/** Shorter values are not secrets worth shredding every log line for (and GitHub masks them anyway). */
const MIN_SECRET_LENGTH = 4;

/** Credential shapes scrubbed even when nobody named them (GitHub, Hugging Face, HTTP auth, URLs). */
const TOKEN_PATTERNS: readonly RegExp[] = [
  /\bgithub_pat_[A-Za-z0-9_]{20,}/g,
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g,
  /\bhf_[A-Za-z0-9]{20,}/g,
];

/** Keeps the scheme so the log still says what kind of credential was there. */
const AUTH_PATTERNS: readonly [RegExp, string][] = [
  [/\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, `$1${REDACTED}`],
  // "token" and "basic" alone are common words (vLLM logs say token a lot): only after an Authorization header
  [/\b(Authorization:\s*(?:token|basic)\s+)[A-Za-z0-9._~+/=-]{4,}/gi, `$1${REDACTED}`],
  // credentials in URLs, e.g. https://x-access-token:TOKEN@github.com/o/r
  // (the look-behind starts a scheme only where a word starts: without it a long run of letters is quadratic)
  [/(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+:[^\s/@]+@/gi, `$1${REDACTED}@`],
  // a bare user part is a token too (https://TOKEN@github.com/o/r); ssh's conventional `git@` stays
  [/(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/)(?!git@)[^\s/@:]+@/gi, `$1${REDACTED}@`],
];

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Secrets shorter than this have no base64 core long enough to tell apart from ordinary text. */
const MIN_BASE64_SECRET_LENGTH = 8;

/**
 * The base64 characters that depend only on the secret, for each of the three alignments a prefix can give it:
 * base64("anyuser:" + TOKEN) (git's extraheader, HTTP basic auth) holds one of them whatever the user part is.
 */
function base64Cores(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const cores: string[] = [];
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    // the first group mixes prefix bytes in (unless aligned); the last partial group mixes in what follows
    const start = offset === 0 ? 0 : 4;
    const end = Math.floor((offset + bytes.length) / 3) * 4;
    if (end - start >= 8) cores.push(encoded.slice(start, end));
  }
  return cores;
}

/** The forms a token takes in logs besides itself: URL-encoded, and base64 with or without a user prefix. */
function encodings(secret: string): string[] {
  const forms = [secret, encodeURIComponent(secret)];
  if (secret.length >= MIN_BASE64_SECRET_LENGTH) forms.push(...base64Cores(secret));
  return forms;
}

/**
 * A scrubber for these secrets: replaces each (and its common encodings) and every recognisable token with ***.
 * Terminal escapes, CR, NUL and other invisible characters are removed first: they could split a token that a
 * reader (or intake, which strips them too) would join again.
 */
export function makeScrubber(secrets: readonly string[]): (text: string) => string {
  const given = [
    ...new Set(
      secrets
        .map((s) => s.trim())
        .filter((s) => s.length >= MIN_SECRET_LENGTH)
        .flatMap(encodings),
    ),
  ].sort((a, b) => b.length - a.length);
  const named = given.length > 0 ? new RegExp(given.map(escapeRegExp).join('|'), 'g') : undefined;
  return (text) => {
    let out = stripInvisible(text);
    if (named) out = out.replace(named, REDACTED);
    for (const pattern of TOKEN_PATTERNS) out = out.replace(pattern, REDACTED);
    for (const [pattern, replacement] of AUTH_PATTERNS) out = out.replace(pattern, replacement);
    return out;
  };
}

/** makeScrubber(secrets)(text), for one text. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  return makeScrubber(secrets)(text);
}

/** Environment variables whose values are credentials the pipeline's child processes may print. */
export const SECRET_ENV_NAMES = [
  'GITHUB_TOKEN',
  'GH_TOKEN',
  'ACTIONS_RUNTIME_TOKEN',
  'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
  'HF_TOKEN',
  'HUGGING_FACE_HUB_TOKEN',
] as const;

/** The secrets to mask (setSecret) and scrub: the github-token input plus the credential variables that are set. */
export function knownSecrets(
  env: Readonly<Record<string, string | undefined>>,
  githubToken?: string,
): string[] {
  const values = [githubToken, ...SECRET_ENV_NAMES.map((name) => env[name])];
  return [...new Set(values.filter((v): v is string => !!v && v.trim().length >= MIN_SECRET_LENGTH))];
}
