import { createHash } from 'node:crypto';
import { copyFile, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fetchVllmSource } from '../src/vllm/pypi.js';
import { tempDir } from './helpers.js';

// the smallest release the patch tests use (about 1 MB): real PyPI, real sha256
const SMALL = '0.5.5';

describe('fetchVllmSource', () => {
  it('downloads, verifies and extracts an sdist, replacing a corrupt cached tarball; a second call is offline', async () => {
    const cacheDir = await tempDir('vkci-pypi-');
    await writeFile(join(cacheDir, `vllm-${SMALL}.tar.gz`), 'not a tarball');
    const tree = await fetchVllmSource(SMALL, { cacheDir });
    expect(tree).toBe(join(cacheDir, `vllm-${SMALL}`));
    expect((await stat(join(tree, 'vllm/model_executor/models/qwen2_moe.py'))).isFile()).toBe(true);
    expect(await readFile(join(tree, 'PKG-INFO'), 'utf8')).toContain(`Version: ${SMALL}`);
    // nothing listens on port 9: only the cache can answer
    const again = await fetchVllmSource(SMALL, { cacheDir, indexUrl: 'http://127.0.0.1:9/pypi' });
    expect(again).toBe(tree);
  });

  it('names a version that PyPI does not have and says how to list them', async () => {
    const cacheDir = await tempDir('vkci-pypi-');
    await expect(fetchVllmSource('0.0.99', { cacheDir })).rejects.toThrow(
      /vLLM 0\.0\.99 is not published on PyPI\. The newest are: .*pip index versions vllm/,
    );
  });

  it('rejects a version that is not a version', async () => {
    await expect(fetchVllmSource('../../etc', { cacheDir: await tempDir() })).rejects.toThrow(
      "Invalid vLLM version '../../etc'",
    );
  });

  it('refuses a download whose sha256 differs from the one the index lists', async () => {
    const good = await tempDir('vkci-pypi-');
    await fetchVllmSource(SMALL, { cacheDir: good });
    const tarball = await readFile(join(good, `vllm-${SMALL}.tar.gz`));
    const wrong = createHash('sha256').update('something else').digest('hex');
    // an index (a mirror) serving the real bytes but announcing another digest
    const server = createServer((req, res) => {
      if (req.url === `/pypi/vllm/${SMALL}/json`) {
        res.setHeader('content-type', 'application/json');
        const file = {
          filename: `vllm-${SMALL}.tar.gz`,
          packagetype: 'sdist',
          url: '../../../files/sdist.tar.gz',
        };
        res.end(JSON.stringify({ urls: [{ ...file, digests: { sha256: wrong } }] }));
      } else if (req.url === '/files/sdist.tar.gz') {
        res.end(tarball);
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const cacheDir = await tempDir('vkci-pypi-');
      await expect(
        fetchVllmSource(SMALL, { cacheDir, indexUrl: `http://127.0.0.1:${port}/pypi` }),
      ).rejects.toThrow(`but PyPI lists ${wrong}: the download is corrupt or was altered`);
      await expect(stat(join(cacheDir, `vllm-${SMALL}.tar.gz`))).rejects.toThrow();
    } finally {
      server.close();
    }
  });

  it('reuses a verified cached tarball without downloading it again', async () => {
    const good = await tempDir('vkci-pypi-');
    await fetchVllmSource(SMALL, { cacheDir: good });
    const cacheDir = await tempDir('vkci-pypi-');
    await copyFile(join(good, `vllm-${SMALL}.tar.gz`), join(cacheDir, `vllm-${SMALL}.tar.gz`));
    const lines: string[] = [];
    await fetchVllmSource(SMALL, { cacheDir, log: (m) => lines.push(m) });
    expect(lines.some((l) => l.startsWith('downloading'))).toBe(false);
    expect(lines).toContain(`extracting vllm-${SMALL}.tar.gz`);
  });
});
