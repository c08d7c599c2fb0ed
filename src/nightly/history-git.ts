// The nightly history on a data branch of the repository, written with git: commit, push, and on a rejected
// push re-fetch and re-apply the append on top of what the other runner pushed.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NO_AUTO_GC } from '../pipeline/git-settings.js';
import { runCommand } from '../pipeline/process.js';
import { childEnvironment } from '../security/child-env.js';
import { formatHistoryLine, type HistoryRecord, parseHistoryLines, retainedRecords } from './record.js';

export interface HistorySnapshot {
  records: HistoryRecord[];
  /** commit of the data branch the records were read from; undefined when the branch does not exist */
  commit?: string;
  /** lines that did not parse, with file and line number; they are kept on the branch */
  problems: string[];
}

export interface AppendOutcome extends HistorySnapshot {
  /** pushes tried: 1 unless another runner pushed in between */
  attempts: number;
}

/** Where a bundle's nightly lines live; the issue adapter and the mode see only this. */
export interface HistoryStore {
  append(record: HistoryRecord): Promise<AppendOutcome>;
  /** the branch head on the remote now, without fetching its content */
  head(): Promise<string | undefined>;
  read(): Promise<HistorySnapshot>;
}

export interface GitHistoryOptions {
  /** a URL or path git can push to */
  remote: string;
  branch: string;
  /** a scratch directory for the clone; created when missing */
  workDir: string;
  retentionDays: number;
  /** the nights a series still needs, kept past the retention window (pinKey()s of the bundle's lines) */
  pinned?: (records: HistoryRecord[]) => ReadonlySet<string>;
  /** extra environment for git (e.g. GIT_CONFIG_* carrying an auth header) */
  env?: Record<string, string>;
  maxAttempts?: number;
  /** called between the local commit and the push; tests use it to make two runners race */
  beforePush?: () => Promise<void>;
  log?: (message: string) => void;
}

const COMMITTER = {
  GIT_AUTHOR_NAME: 'vllm-kernel-ci',
  GIT_AUTHOR_EMAIL: 'vllm-kernel-ci@users.noreply.github.com',
  GIT_COMMITTER_NAME: 'vllm-kernel-ci',
  GIT_COMMITTER_EMAIL: 'vllm-kernel-ci@users.noreply.github.com',
};

const fileSafe = (name: string) => name.replace(/[^A-Za-z0-9_.-]/g, '_');

/** Path of one runner's history file inside the data branch. */
export function historyFile(bundle: string, runner: string): string {
  return `nightly/${fileSafe(bundle)}/${fileSafe(runner)}.jsonl`;
}

const README = `# vllm-kernel-ci nightly history

Written by the \`nightly\` mode of vllm-kernel-ci: \`nightly/<bundle>/<runner>.jsonl\` holds one JSON line per
nightly run of that runner (device, software versions, kernel and e2e cells, patch drift, failing tests).
Lines older than the \`history-days\` input are dropped. This branch is data: do not merge it.
`;

/** A rejected push that a re-fetch can fix: someone else moved the branch first. */
export function isRaceRejection(stderr: string): boolean {
  return /\[rejected\]|fetch first|non-fast-forward|cannot lock ref|failed to update ref|stale info/i.test(
    stderr,
  );
}

export function gitHistoryStore(options: GitHistoryOptions): HistoryStore {
  const { remote, branch, workDir, retentionDays } = options;
  const maxAttempts = options.maxAttempts ?? 8;
  const env = { ...childEnvironment(process.env), GIT_TERMINAL_PROMPT: '0', ...COMMITTER, ...options.env };
  const git = async (args: string[], reject = true) => {
    const r = await runCommand('git', args, { cwd: workDir, env, timeoutMs: 120_000 });
    if (reject && r.exitCode !== 0) {
      const why = r.timedOut ? 'timed out' : `exit ${r.exitCode ?? r.signal ?? r.spawnError}`;
      throw new Error(`git ${args[0]} in ${workDir} failed (${why}): ${lastLine(r.stderr || r.stdout)}`);
    }
    return r;
  };
  const remoteRef = `refs/remotes/origin/${branch}`;

  async function prepare(): Promise<void> {
    await mkdir(workDir, { recursive: true });
    // its own repository, never one it happens to sit inside
    if (!existsSync(join(workDir, '.git'))) await git(['init', '--quiet']);
    for (const args of NO_AUTO_GC) await git([...args]);
    await git(['remote', 'remove', 'origin'], false);
    await git(['remote', 'add', 'origin', remote]);
  }

  async function head(): Promise<string | undefined> {
    const listed = await git(['ls-remote', '--heads', 'origin', `refs/heads/${branch}`], false);
    if (listed.exitCode !== 0) {
      throw new Error(
        `Cannot read the history branch '${branch}' of ${describeRemote(remote)}: ${lastLine(listed.stderr)}. Check that the workflow has \`permissions: contents: write\` and that the repository is reachable.`,
      );
    }
    return listed.stdout.trim().split(/\s+/)[0] || undefined;
  }

  /** Checks out the remote branch tip (or an empty orphan branch); returns the commit, if any. */
  async function checkoutTip(): Promise<string | undefined> {
    const tip = await head();
    if (tip) {
      await git(['fetch', '--quiet', '--depth=1', 'origin', `+refs/heads/${branch}:${remoteRef}`]);
      await git(['checkout', '--quiet', '--force', '-B', branch, remoteRef]);
      await git(['clean', '-fdxq']);
      return (await git(['rev-parse', 'HEAD'])).stdout.trim();
    }
    await git(['checkout', '--quiet', '--force', '--orphan', branch]);
    await git(['rm', '-rfq', '--ignore-unmatch', '.']);
    await git(['clean', '-fdxq']);
    await writeFile(join(workDir, 'README.md'), README);
    return undefined;
  }

  async function readTree(bundle?: string): Promise<HistorySnapshot> {
    const records: HistoryRecord[] = [];
    const problems: string[] = [];
    const root = join(workDir, 'nightly');
    const bundles = bundle ? [fileSafe(bundle)] : await listDir(root);
    for (const b of bundles) {
      for (const file of (await listDir(join(root, b))).filter((f) => f.endsWith('.jsonl'))) {
        const text = await readFile(join(root, b, file), 'utf8');
        const parsed = parseHistoryLines(text, `nightly/${b}/${file}`);
        records.push(...parsed.records);
        problems.push(...parsed.problems);
      }
    }
    return { records, problems };
  }

  /** Appends the line and drops lines past the retention window (but for pinned nights) from every runner file. */
  async function applyAppend(record: HistoryRecord): Promise<void> {
    const dir = join(workDir, 'nightly', fileSafe(record.bundle));
    await mkdir(dir, { recursive: true });
    const own = join(workDir, historyFile(record.bundle, record.runner));
    const existing = (await listDir(dir)).filter((f) => f.endsWith('.jsonl')).map((f) => join(dir, f));
    const files = new Map<string, { line: string; record?: HistoryRecord }[]>();
    for (const file of new Set([...existing, own])) {
      const text = existing.includes(file) ? await readFile(file, 'utf8') : '';
      const lines = text.split('\n').filter((l) => l.trim() !== '');
      files.set(
        file,
        lines.map((line) => ({ line, record: parseHistoryLines(line, file).records[0] })),
      );
    }
    files.get(own)?.push({ line: formatHistoryLine(record), record });
    const all = [...files.values()].flat().flatMap((l) => (l.record ? [l.record] : []));
    const kept = new Set(
      retainedRecords(all, record.night, retentionDays, options.pinned?.(all) ?? new Set()),
    );
    for (const [file, lines] of files) {
      // a line that does not parse stays: history is never dropped silently
      const keep = lines.filter((l) => !l.record || kept.has(l.record)).map((l) => l.line);
      if (keep.length === 0) await rm(file, { force: true });
      else await writeFile(file, `${keep.join('\n')}\n`);
    }
  }

  return {
    head: async () => {
      await prepare();
      return head();
    },

    read: async () => {
      await prepare();
      const commit = await checkoutTip();
      return { ...(await readTree()), commit };
    },

    append: async (record) => {
      await prepare();
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        await checkoutTip();
        await applyAppend(record);
        await git(['add', '--all']);
        await git([
          'commit',
          '--quiet',
          '--no-verify',
          '-m',
          `nightly: ${record.bundle} on ${record.runner}, ${record.night}`,
        ]);
        await options.beforePush?.();
        const pushed = await git(
          ['push', '--quiet', '--porcelain', 'origin', `HEAD:refs/heads/${branch}`],
          false,
        );
        if (pushed.exitCode === 0) {
          const commit = (await git(['rev-parse', 'HEAD'])).stdout.trim();
          return { ...(await readTree(record.bundle)), commit, attempts: attempt };
        }
        const output = `${pushed.stderr}\n${pushed.stdout}`;
        if (!isRaceRejection(output)) {
          throw new Error(
            `Pushing the nightly history to '${branch}' of ${describeRemote(remote)} failed: ${lastLine(output)}. The workflow needs \`permissions: contents: write\`.`,
          );
        }
        options.log?.(
          `The history branch moved while writing (attempt ${attempt}); re-reading it and retrying.`,
        );
        await sleep(Math.min(2000, 100 * 2 ** attempt) * Math.random());
      }
      throw new Error(
        `Pushing the nightly history to '${branch}' was rejected ${maxAttempts} times because other runs kept pushing; re-run this job.`,
      );
    },
  };
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lastLine = (text: string) =>
  text
    .trim()
    .split('\n')
    .filter((l) => l.trim())
    .at(-1) ?? 'no message';

/** The remote without any credentials it may carry. */
function describeRemote(remote: string): string {
  return remote.replace(/\/\/[^@/]*@/, '//');
}
