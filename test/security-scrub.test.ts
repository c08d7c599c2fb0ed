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
    // the user part before the token is not secret and stays; no base64 character that depends on the token does
    expect(scrubSecrets(`extraheader ${header}`, [token])).toMatch(
      /^extraheader eC1hY2Nlc3MtdG9rZW46\*\*\*[A-Za-z0-9+/=]{0,4}$/,
    );
  });

  it.each([
    ['an SGR reset', '\u001b[0m'],
    ['a carriage return', '\r'],
    ['a NUL', '\u0000'],
    ['a zero-width space', '\u200b'],
    ['a left-to-right mark', '\u200e'],
  ])('finds a token split by %s (intake would join it again)', (_, split) => {
    const token = 'Sup3rS3cretValue-0123456789';
    const out = scrubSecrets(`FAILED ${token.slice(0, 9)}${split}${token.slice(9)} end`, [token]);
    expect(out).toBe('FAILED *** end');
    const shaped = scrubSecrets(`x ${GHP.slice(0, 10)}${split}${GHP.slice(10)} y`, []);
    expect(shaped).toBe('x *** y');
  });

  it.each(['anyuser', 'x', 'ab', 'oauth2', 'pat'])(
    'finds base64("%s:" + token), whatever the user part',
    (user) => {
      const token = 'v1.0123456789abcdef0123456789abcdef';
      const encoded = Buffer.from(`${user}:${token}`).toString('base64');
      const out = scrubSecrets(`Authorization-ish ${encoded} end`, [token]);
      expect(out).toContain('***');
      // what is left of the encoding decodes to the user part and at most two bytes of the token's edges
      const left = out.replace('Authorization-ish ', '').replace(' end', '');
      expect(left.length).toBeLessThan(user.length + 16);
    },
  );

  it('removes credentials from a URL with a bare user part', () => {
    expect(scrubSecrets(`git clone https://${GHS.slice(4)}@github.com/o/r`, [])).toBe(
      'git clone https://***@github.com/o/r',
    );
    expect(scrubSecrets('ssh://git@github.com/o/r', [])).toBe('ssh://git@github.com/o/r');
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
