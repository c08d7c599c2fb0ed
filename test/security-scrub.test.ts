import { describe, expect, it } from 'vitest';
import { knownSecrets, scrubSecrets } from '../src/security/scrub.js';

// Token shapes as GitHub and Hugging Face issue them (values are made up, lengths are real).
const GHP = `ghp_${'A1b2C3d4E5'.repeat(3)}abcdef`;
const PAT = `github_pat_11ABCDEFG0${'x'.repeat(12)}_${'Y9'.repeat(29)}`;
const GHS = `ghs_${'Zz09'.repeat(9)}`;
const HF = `hf_${'aBcD'.repeat(8)}xy`;

describe('scrubSecrets', () => {
  it('replaces the given secrets wherever they appear', () => {
    const out = scrubSecrets('login with s3cr3t-value then s3cr3t-value again', ['s3cr3t-value']);
    expect(out).toBe('login with *** then *** again');
  });

  it('replaces token shapes nobody named', () => {
    for (const prefix of ['gho_', 'ghu_', 'ghr_']) {
      expect(scrubSecrets(`t=${prefix}${'q'.repeat(36)} end`, [])).toBe('t=*** end');
    }
    const log = `export GITHUB_TOKEN=${GHP}\nremote: ${PAT}\ninstallation ${GHS}\nHF_TOKEN=${HF}`;
    const out = scrubSecrets(log, []);
    for (const t of [GHP, PAT, GHS, HF]) expect(out).not.toContain(t);
    expect(out).toBe('export GITHUB_TOKEN=***\nremote: ***\ninstallation ***\nHF_TOKEN=***');
  });

  it('keeps the scheme of HTTP credentials and URLs', () => {
    expect(scrubSecrets('curl -H "Authorization: Bearer eyJhbGciOi.JIUzI1.NiJ9"', [])).toBe(
      'curl -H "Authorization: Bearer ***"',
    );
    expect(scrubSecrets('git clone https://x-access-token:abcd1234@github.com/acme/vllm', [])).toBe(
      'git clone https://***@github.com/acme/vllm',
    );
    expect(scrubSecrets('http.extraheader AUTHORIZATION: basic eC1hY2Nlc3M=', [])).toBe(
      'http.extraheader AUTHORIZATION: basic ***',
    );
  });

  it("removes the base64 form git's extraheader logs for a given token", () => {
    const token = 'v1.0123456789abcdef0123456789abcdef';
    const header = Buffer.from(`x-access-token:${token}`).toString('base64');
    expect(scrubSecrets(`extraheader ${header}`, [token])).toBe('extraheader ***');
  });

  it('leaves ordinary vLLM log lines alone', () => {
    const log =
      'INFO Avg prompt throughput: 1024.0 tokens/s, token throughput 88.1\nBasic configuration loaded\nBearer';
    expect(scrubSecrets(log, ['abc'])).toBe(log);
  });

  it('treats secret text literally, not as a pattern', () => {
    expect(scrubSecrets('a.b*c(d) and aXbbc', ['a.b*c(d)'])).toBe('*** and aXbbc');
  });
});

describe('knownSecrets', () => {
  it('collects the github-token input and the credential variables that are set', () => {
    const env = { GITHUB_TOKEN: GHS, HF_TOKEN: HF, PATH: '/usr/bin', GH_TOKEN: '' };
    expect(knownSecrets(env, GHP).sort()).toEqual([GHP, GHS, HF].sort());
    expect(knownSecrets({}, undefined)).toEqual([]);
  });
});
