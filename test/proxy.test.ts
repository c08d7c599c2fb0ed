// The tool's HTTP clients behind a proxy: a real forward proxy on 127.0.0.1 (CONNECT tunnels and absolute-URI
// requests) in front of a stand-in origin, so hosts that resolve nowhere are reached only through the proxy.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createOctokit } from '../src/github/client.js';
import { proxyEnv, useEnvProxy } from '../src/proxy.js';
import { fetchVllmSource } from '../src/vllm/pypi.js';
import { tempDir } from './helpers.js';

const listen = async (server: http.Server): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
};

/** What the proxy was asked for: `CONNECT host:port` or `GET http://…`. */
const seen: string[] = [];
let sdist: Buffer;
const origin = http.createServer((req, res) => {
  const url = `${req.headers.host}${req.url}`;
  if (url === 'pypi.test/pypi/vllm/9.9.9/json') {
    res.setHeader('content-type', 'application/json');
    const sha256 = createHash('sha256').update(sdist).digest('hex');
    const file = {
      filename: 'vllm-9.9.9.tar.gz',
      packagetype: 'sdist',
      url: 'http://files.test/vllm-9.9.9.tar.gz',
    };
    res.end(JSON.stringify({ urls: [{ ...file, size: sdist.length, digests: { sha256 } }] }));
  } else if (url === 'files.test/vllm-9.9.9.tar.gz') {
    res.end(sdist);
  } else if (url === 'api.github.test/user') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ login: 'through-the-proxy', id: 1, type: 'User' }));
  } else {
    res.statusCode = 404;
    res.end(`{"message":"Not Found: ${url}"}`);
  }
});
const proxy = http.createServer((req, res) => {
  // an absolute-URI request (http.request over a proxy): forwarded to the origin with its Host
  seen.push(`${req.method} ${req.url}`);
  const target = new URL(req.url ?? '/');
  const up = http.request(
    { host: '127.0.0.1', port: originPort, path: target.pathname, headers: req.headers },
    (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    },
  );
  req.pipe(up);
});
proxy.on('connect', (req, socket: net.Socket, head) => {
  // every host this proxy tunnels to is the origin: the names resolve only here
  seen.push(`CONNECT ${req.url}`);
  const up = net.connect(originPort, '127.0.0.1', () => {
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    up.write(head);
    up.pipe(socket);
    socket.pipe(up);
  });
});
let originPort = 0;
let proxyUrl = '';
let undo: () => void = () => {};

beforeAll(async () => {
  const dir = await tempDir('vkci-proxy-sdist-');
  await mkdir(join(dir, 'vllm-9.9.9/vllm'), { recursive: true });
  await writeFile(join(dir, 'vllm-9.9.9/vllm/__init__.py'), '__version__ = "9.9.9"\n');
  await promisify(execFile)('tar', ['-czf', join(dir, 'sdist.tar.gz'), '-C', dir, 'vllm-9.9.9']);
  sdist = await readFile(join(dir, 'sdist.tar.gz'));
  originPort = await listen(origin);
  proxyUrl = `http://127.0.0.1:${await listen(proxy)}`;
});
afterEach(() => {
  undo();
  undo = () => {};
  seen.length = 0;
});
afterAll(() => {
  origin.close();
  proxy.close();
});

describe('HTTP clients behind HTTPS_PROXY / HTTP_PROXY / NO_PROXY', () => {
  it('the PyPI client finds and downloads the sdist through the proxy', async () => {
    undo = useEnvProxy({ HTTP_PROXY: proxyUrl }).restore;
    const source = await fetchVllmSource('9.9.9', {
      indexUrl: 'http://pypi.test/pypi',
      cacheDir: await tempDir('vkci-proxy-cache-'),
    });
    expect(await readFile(join(source, 'vllm/__init__.py'), 'utf8')).toContain('9.9.9');
    expect(seen).toEqual(['CONNECT pypi.test:80', 'CONNECT files.test:80']);
  });

  it('the GitHub client reaches the API through the proxy (lower-case variable names too)', async () => {
    undo = useEnvProxy({ http_proxy: proxyUrl }).restore;
    const client = createOctokit('a-token', { baseUrl: 'http://api.github.test' });
    const { data } = await client.rest.users.getAuthenticated();
    expect(data.login).toBe('through-the-proxy');
    expect(seen).toEqual(['CONNECT api.github.test:80']);
  });

  it('http.request (the artifact client, any Node client) goes through it as well', async () => {
    undo = useEnvProxy({ HTTP_PROXY: proxyUrl }).restore;
    const body = await new Promise<string>((resolve, reject) =>
      http
        .get('http://api.github.test/user', (r) => {
          let text = '';
          r.on('data', (c) => {
            text += c;
          });
          r.on('end', () => resolve(text));
        })
        .on('error', reject),
    );
    expect(JSON.parse(body).login).toBe('through-the-proxy');
    expect(seen).toEqual(['GET http://api.github.test/user']);
  });

  it('NO_PROXY hosts and loopback (vllm serve) go direct', async () => {
    undo = useEnvProxy({ HTTP_PROXY: proxyUrl, NO_PROXY: 'pypi.test' }).restore;
    await expect(
      fetchVllmSource('9.9.9', { indexUrl: 'http://pypi.test/pypi', cacheDir: await tempDir('vkci-proxy-') }),
    ).rejects.toThrow(/Cannot reach http:\/\/pypi.test/);
    const local = await fetch(`http://127.0.0.1:${originPort}/health`);
    expect(local.status).toBe(404);
    expect(seen).toEqual([]);
  });

  it('without a proxy variable nothing changes; NO_PROXY always keeps loopback', () => {
    expect(proxyEnv({ NO_PROXY: 'x' })).toBeUndefined();
    expect(useEnvProxy({}).warning).toBeUndefined();
    expect(proxyEnv({ HTTPS_PROXY: 'http://p:3128', no_proxy: '.corp' })).toEqual({
      HTTPS_PROXY: 'http://p:3128',
      NO_PROXY: '.corp,localhost,127.0.0.1,::1',
    });
  });
});
