// The served model's local files (for the bench's tokenizer and the fits-twice check), as Hugging Face's cache lays them out.
import { readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** huggingface_hub's cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
export function hubCacheDir(env: Record<string, string | undefined>): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  return join(env.HF_HOME ?? join(env.HOME ?? homedir(), '.cache', 'huggingface'), 'hub');
}

async function isDir(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

/** The model's directory: itself when it is a path, else the cached snapshot of refs/main (or the only one). */
export async function localModelDir(
  model: string,
  env: Record<string, string | undefined>,
): Promise<string | undefined> {
  if (await isDir(model)) return model;
  const repo = join(hubCacheDir(env), `models--${model.replaceAll('/', '--')}`);
  const main = (await readFile(join(repo, 'refs', 'main'), 'utf8').catch(() => '')).trim();
  if (main && (await isDir(join(repo, 'snapshots', main)))) return join(repo, 'snapshots', main);
  const snapshots = await readdir(join(repo, 'snapshots')).catch(() => [] as string[]);
  return snapshots.length === 1 ? join(repo, 'snapshots', snapshots[0]) : undefined;
}

/** GiB of *.safetensors in a model directory (links followed, as the cache links into blobs/); undefined if none. */
export async function weightsGiB(dir: string): Promise<number | undefined> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.safetensors'));
  let bytes = 0;
  for (const n of names) bytes += (await stat(join(dir, n)).catch(() => undefined))?.size ?? 0;
  return bytes > 0 ? bytes / 2 ** 30 : undefined;
}

/** Memory of the smallest card, GiB, by the vendor's tool; undefined when it cannot tell. */
export async function gpuMemoryTotalGiB(
  run: (file: string, args: string[]) => Promise<{ exitCode?: number | null; stdout: string }>,
  vendor: string,
): Promise<number | undefined> {
  const smallest = (mib: number[]) => {
    const good = mib.filter((m) => Number.isFinite(m) && m > 0);
    return good.length > 0 ? Math.min(...good) / 1024 : undefined;
  };
  if (vendor === 'nvidia') {
    const r = await run('nvidia-smi', ['--query-gpu=memory.total', '--format=csv,noheader,nounits']);
    return r.exitCode === 0 ? smallest(r.stdout.trim().split('\n').map(Number)) : undefined;
  }
  if (vendor === 'amd') {
    const r = await run('rocm-smi', ['--showmeminfo', 'vram', '--json']);
    if (r.exitCode !== 0) return undefined;
    try {
      const cards = Object.values(JSON.parse(r.stdout) as Record<string, Record<string, string>>);
      return smallest(cards.map((c) => Number(c['VRAM Total Memory (B)']) / 2 ** 20));
    } catch {
      return undefined;
    }
  }
  return undefined;
}
