// Removes credentials from captured text (log tails) before it is stored in a RunResult or shown anywhere. Pure.

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
  [/([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+:[^\s/@]+@/gi, `$1${REDACTED}@`],
];

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The forms a token takes in logs besides itself: git's extraheader carries base64("x-access-token:TOKEN"). */
function encodings(secret: string): string[] {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const forms = [secret, b64(`x-access-token:${secret}`), encodeURIComponent(secret)];
  if (secret.length >= 12) forms.push(b64(secret).replace(/=+$/, ''));
  return forms;
}

/** Replaces every given secret (and its common encodings) and every recognisable token with ***. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  const given = [
    ...new Set(
      secrets
        .map((s) => s.trim())
        .filter((s) => s.length >= MIN_SECRET_LENGTH)
        .flatMap(encodings),
    ),
  ].sort((a, b) => b.length - a.length);
  let out = text;
  if (given.length > 0) out = out.replace(new RegExp(given.map(escapeRegExp).join('|'), 'g'), REDACTED);
  for (const pattern of TOKEN_PATTERNS) out = out.replace(pattern, REDACTED);
  for (const [pattern, replacement] of AUTH_PATTERNS) out = out.replace(pattern, replacement);
  return out;
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
