// Every HTTP client of the tool (PyPI, GitHub, the artifact upload) goes through Node's own proxy support, set once
// at each entry from HTTPS_PROXY / HTTP_PROXY / NO_PROXY (either case); loopback (vllm serve) is never proxied.
import http from 'node:http';

const LOOPBACK = ['localhost', '127.0.0.1', '::1'];

type Env = Readonly<Record<string, string | undefined>>;

/** The proxy settings for Node from the environment, loopback added to NO_PROXY; undefined when none is set. Pure. */
export function proxyEnv(env: Env): Record<string, string> | undefined {
  const get = (name: string) => env[name] || env[name.toLowerCase()] || undefined;
  const httpProxy = get('HTTP_PROXY');
  const httpsProxy = get('HTTPS_PROXY');
  if (!httpProxy && !httpsProxy) return undefined;
  return {
    ...(httpProxy ? { HTTP_PROXY: httpProxy } : {}),
    ...(httpsProxy ? { HTTPS_PROXY: httpsProxy } : {}),
    NO_PROXY: [get('NO_PROXY'), ...LOOPBACK].filter(Boolean).join(','),
  };
}

/**
 * Routes fetch() and http(s).request() of this process through the environment's proxy. Returns how to undo it,
 * and a warning when a proxy is set but this Node cannot use one (before 24.14).
 */
export function useEnvProxy(env: Env = process.env): { restore: () => void; warning?: string } {
  const settings = proxyEnv(env);
  if (!settings) return { restore: () => {} };
  if (typeof http.setGlobalProxyFromEnv !== 'function')
    return {
      restore: () => {},
      warning: `HTTP(S)_PROXY is set, but Node ${process.versions.node} cannot route fetch() through a proxy (Node 24.14 or newer can): PyPI and GitHub requests go direct.`,
    };
  return { restore: http.setGlobalProxyFromEnv(settings) };
}
