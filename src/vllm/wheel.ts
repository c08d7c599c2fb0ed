// The release's own binary wheel on PyPI, for vLLM's precompiled install of a tree without upstream git history.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultPypiCacheDir, PYPI_JSON_API, PypiError } from './pypi.js';

interface ReleaseFile {
  filename: string;
  packagetype: string;
  url: string;
}

/** The manylinux wheel of `version` for a CPU architecture (x86_64, aarch64) among a release's files. */
export function pickReleaseWheel(files: ReleaseFile[], version: string, arch: string): string | undefined {
  const wheels = files.filter(
    (f) =>
      f.packagetype === 'bdist_wheel' &&
      f.filename.startsWith(`vllm-${version}-`) &&
      new RegExp(`manylinux[^-]*_${arch}\\.whl$`).test(f.filename),
  );
  return wheels[0]?.url;
}

/** Looks the wheel up through PyPI's JSON API once and caches the answer beside the sdists. */
export async function releaseWheelUrl(
  version: string,
  opts: { arch?: string; cacheDir?: string; indexUrl?: string } = {},
): Promise<string> {
  const arch = opts.arch ?? (process.arch === 'arm64' ? 'aarch64' : 'x86_64');
  const cacheDir = opts.cacheDir ?? defaultPypiCacheDir();
  const cache = join(cacheDir, `vllm-${version}.files.json`);
  let files = await readFile(cache, 'utf8')
    .then((t) => JSON.parse(t) as ReleaseFile[])
    .catch(() => undefined);
  if (!files) {
    const index = opts.indexUrl ?? PYPI_JSON_API;
    const releaseUrl = `${index}/vllm/${encodeURIComponent(version)}/json`;
    const release = await getJson(releaseUrl);
    // mirrors that serve only the project document still list every release in it
    const projectUrl = `${index}/vllm/json`;
    const listed =
      release !== undefined
        ? ((release as { urls?: ReleaseFile[] }).urls ?? [])
        : (((await getJson(projectUrl)) as { releases?: Record<string, ReleaseFile[]> } | undefined)
            ?.releases?.[version] ?? []);
    // some mirrors give URLs relative to the JSON document
    const where = release !== undefined ? releaseUrl : projectUrl;
    files = listed.map((f) => ({ ...f, url: new URL(f.url, where).href }));
    await mkdir(cacheDir, { recursive: true });
    await writeFile(cache, JSON.stringify(files));
  }
  const wheel = pickReleaseWheel(files, version, arch);
  if (!wheel)
    throw new PypiError(
      `vLLM ${version} has no manylinux ${arch} wheel on PyPI, so a precompiled install would fall back to the nightly wheel. Use install: existing, or a vLLM release that has one.`,
    );
  return wheel;
}

async function getJson(url: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json' } });
  } catch {
    throw new PypiError(`Cannot reach ${url} to find vLLM's release wheel. Check the network.`);
  }
  if (response.status === 404) return undefined;
  if (!response.ok) throw new PypiError(`${url} answered HTTP ${response.status}.`);
  return response.json();
}
