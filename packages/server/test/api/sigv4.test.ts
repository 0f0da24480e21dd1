/**
 * SigV4 verification, checked against AWS's documented example and, property-based, against the
 * signer the AWS SDK itself uses (`@smithy/signature-v4`).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SignatureV4, getCanonicalQuery } from '@smithy/signature-v4';
import { ApiError } from '../../src/api/errors.js';
import { parseQueryPairs } from '../../src/api/querystring.js';
import {
  buildCanonicalRequest,
  canonicalQueryString,
  canonicalUri,
  deriveSigningKey,
  formatAmzDate,
  groupRawHeaders,
  parseAmzDate,
  sha256Hex,
  verifySigV4,
  type CredentialStore,
  type SigV4Request,
} from '../../src/api/sigv4.js';
import { NodeSha256, serializeQuery } from './helpers.js';

// Fixed seed: property tests explore many inputs but run the same way every time.
fc.configureGlobal({ seed: 0x5167_4a11 });

const KEY = { accessKeyId: 'AKIDEXAMPLE0000000001', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const store: CredentialStore = (id, token) => (id === KEY.accessKeyId && token === undefined ? KEY.secretAccessKey : undefined);
const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);

function signer(
  service = 'iot',
  creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = KEY,
  applyChecksum = true,
): SignatureV4 {
  return new SignatureV4({ credentials: creds, region: 'eu-west-1', service, sha256: NodeSha256, uriEscapePath: true, applyChecksum });
}

interface Plain {
  method: string;
  path: string;
  query?: Record<string, string | string[]>;
  headers?: Record<string, string>;
  body?: string;
}

/** Signs with the SDK's signer and returns the request as a server would receive it. */
async function signed(req: Plain, opts: { s?: SignatureV4; at?: number } = {}): Promise<SigV4Request> {
  const headers: Record<string, string> = { host: 'iot.example:8443', ...(req.headers ?? {}) };
  const out = await (opts.s ?? signer()).sign(
    {
      method: req.method,
      protocol: 'https:',
      hostname: 'iot.example',
      port: 8443,
      path: req.path,
      query: req.query ?? {},
      headers,
      ...(req.body === undefined ? {} : { body: req.body }),
    },
    { signingDate: new Date(opts.at ?? T0) },
  );
  return toWire(req.method, req.path, req.query ?? {}, out.headers as Record<string, string>, req.body);
}

function toWire(
  method: string,
  path: string,
  query: Record<string, string | string[]>,
  headers: Record<string, string>,
  body: string | undefined,
): SigV4Request {
  return {
    method,
    url: path + serializeQuery(query),
    rawHeaders: Object.entries(headers).flat(),
    body: body === undefined ? undefined : Buffer.from(body, 'utf8'),
  };
}

async function rejection(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected ApiError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

const opts = { credentials: store, now: () => T0 };
const queryName = fc.string({ minLength: 1, maxLength: 10 }).filter((k) => k !== '__proto__');

describe('SigV4 primitives', () => {
  it('reproduce the AWS documentation example (IAM ListUsers, 2015-08-30)', async () => {
    const rawHeaders = [
      'Content-Type',
      'application/x-www-form-urlencoded; charset=utf-8',
      'Host',
      'iam.amazonaws.com',
      'X-Amz-Date',
      '20150830T123600Z',
    ];
    const canonical = buildCanonicalRequest({
      method: 'GET',
      rawPath: '/',
      query: parseQueryPairs('Action=ListUsers&Version=2010-05-08'),
      headers: groupRawHeaders(rawHeaders),
      signedHeaders: ['content-type', 'host', 'x-amz-date'],
      payloadHash: sha256Hex(''),
    });
    assert.equal(sha256Hex(canonical), 'f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59');
    const key = deriveSigningKey('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', '20150830', 'us-east-1', 'iam');
    assert.equal(key.toString('hex'), 'c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9');

    const authorization =
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, ' +
      'Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7';
    const verified = await verifySigV4(
      {
        method: 'GET',
        url: '/?Action=ListUsers&Version=2010-05-08',
        rawHeaders: [...rawHeaders, 'Authorization', authorization],
        body: undefined,
      },
      { credentials: () => 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', services: ['iam'], now: () => Date.UTC(2015, 7, 30, 12, 40) },
    );
    assert.equal(verified.accessKeyId, 'AKIDEXAMPLE');
    assert.equal(verified.service, 'iam');
    assert.equal(verified.region, 'us-east-1');
    assert.equal(verified.form, 'header');
  });

  it('canonical URI encodes the already-encoded path a second time', () => {
    assert.equal(canonicalUri('/things/a%3Ab_c-d'), '/things/a%253Ab_c-d');
    assert.equal(canonicalUri('/policies/p%2Bq%3Dr%2Cs.t%40u-v'), '/policies/p%252Bq%253Dr%252Cs.t%2540u-v');
    assert.equal(canonicalUri('/'), '/');
    assert.equal(canonicalUri('/a//b/./c/../d/'), '/a/b/d/');
    assert.equal(canonicalUri("/x/it's(*)"), '/x/it%27s%28%2A%29');
  });

  it('canonical URI equals the SDK signer’s for arbitrary raw paths', () => {
    const base = signer() as unknown as { getCanonicalPath(r: { path: string }): string };
    const segment = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('.', '..', '', '%2F', '%3A', 'a b'));
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), fc.boolean(), (segments, trailing) => {
        const path = `/${segments.join('/')}${trailing ? '/' : ''}`;
        assert.equal(canonicalUri(path), base.getCanonicalPath({ path }));
      }),
      { numRuns: 300 },
    );
  });

  it('canonical query equals the SDK signer’s for arbitrary parameters', () => {
    const value = fc.oneof(fc.string({ maxLength: 10 }), fc.array(fc.string({ maxLength: 6 }), { minLength: 1, maxLength: 3 }));
    fc.assert(
      fc.property(fc.dictionary(queryName, value, { maxKeys: 6 }), (query) => {
        const wire = serializeQuery(query).slice(1);
        assert.equal(canonicalQueryString(parseQueryPairs(wire)), getCanonicalQuery({ query } as never));
      }),
      { numRuns: 300 },
    );
  });

  it('canonical query sorts names and repeated values, and skips X-Amz-Signature', () => {
    assert.equal(canonicalQueryString(parseQueryPairs('b=2&a=z&a=y&X-Amz-Signature=ff&c=%20+')), 'a=y&a=z&b=2&c=%20%2B');
  });

  it('formats and parses X-Amz-Date', () => {
    assert.equal(formatAmzDate(T0), '20261123T100000Z');
    assert.equal(parseAmzDate('20261123T100000Z'), T0);
    for (const bad of ['20261323T100000Z', '20260230T000000Z', '20261123T240000Z', '2026-11-23T10:00:00Z', '20261123T100000']) {
      assert.equal(parseAmzDate(bad), undefined, bad);
    }
  });
});

describe('verifySigV4 against the SDK signer', () => {
  const label = (chars: string) => fc.stringMatching(new RegExp(`^[${chars}]{1,40}$`));
  const esc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const requestArb = fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
    thingName: label('a-zA-Z0-9:_-'),
    policyName: label('\\w+=,.@-'),
    // `__proto__` is left out: the SDK's request cloning drops such a key before signing.
    query: fc.dictionary(
      queryName.filter((k) => !k.toLowerCase().startsWith('x-amz-')),
      fc.string({ maxLength: 20 }),
      { maxKeys: 5 },
    ),
    body: fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
  });

  it('accepts whatever the SDK signs (reserved characters in path labels, query and body)', async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        const path = `/things/${esc(r.thingName)}/policies/${esc(r.policyName)}`;
        const req = await signed({
          method: r.method,
          path,
          query: r.query,
          body: r.body,
          headers: r.body === undefined ? {} : { 'content-type': 'application/json' },
        });
        const verified = await verifySigV4(req, opts);
        assert.equal(verified.accessKeyId, KEY.accessKeyId);
      }),
      { numRuns: 150 },
    );
  });

  it('refuses the request once any signed part changes', async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, fc.constantFrom('method', 'path', 'query', 'body', 'host'), async (r, part) => {
        const path = `/things/${esc(r.thingName)}`;
        const body = r.body ?? 'x';
        const req = await signed({ method: 'POST', path, query: r.query, body });
        const tampered: SigV4Request = { ...req };
        if (part === 'method') tampered.method = 'PUT';
        if (part === 'path') tampered.url = req.url.replace('/things/', '/thing/');
        if (part === 'query') tampered.url = `${req.url}${req.url.includes('?') ? '&' : '?'}extra=1`;
        if (part === 'body') tampered.body = Buffer.from(`${body} `, 'utf8');
        if (part === 'host') tampered.rawHeaders = req.rawHeaders.map((v) => (v === 'iot.example:8443' ? 'evil.example:8443' : v));
        const err = await rejection(verifySigV4(tampered, opts));
        assert.equal(err.errorType, 'InvalidSignatureException');
        assert.equal(err.statusCode, 403);
      }),
      { numRuns: 100 },
    );
  });

  it('joins repeated headers with commas and collapses inner whitespace, like the signer', async () => {
    const req = await signed({ method: 'GET', path: '/endpoint', headers: { 'x-custom': 'a,b', 'x-spaced': 'p   q' } });
    const raw = [...req.rawHeaders];
    const i = raw.indexOf('a,b');
    raw.splice(i - 1, 2, 'X-Custom', 'a', 'x-custom', 'b');
    await verifySigV4({ ...req, rawHeaders: raw }, opts);
  });

  it('accepts clock skew up to 5 minutes either way (AWS), and says how stale or early a request is', async () => {
    const at = (offsetMs: number) => signed({ method: 'GET', path: '/endpoint' }, { at: T0 + offsetMs });
    await verifySigV4(await at(-5 * 60_000), opts);
    await verifySigV4(await at(5 * 60_000), opts);
    const old = await rejection(verifySigV4(await at(-5 * 60_000 - 1000), opts));
    assert.equal(old.errorType, 'InvalidSignatureException');
    assert.equal(old.message, 'Signature expired: 20261123T095459Z is now earlier than 20261123T095500Z (20261123T100000Z - 5 min.)');
    const early = await rejection(verifySigV4(await at(5 * 60_000 + 1000), opts));
    assert.equal(
      early.message,
      'Signature not yet current: 20261123T100501Z is still later than 20261123T100500Z (20261123T100000Z + 5 min.)',
    );
  });

  it('a configured window (maxClockSkewMs) replaces the five minutes', async () => {
    const at = (offsetMs: number) => signed({ method: 'GET', path: '/endpoint' }, { at: T0 + offsetMs });
    const wide = { ...opts, maxClockSkewMs: 15 * 60_000 };
    await verifySigV4(await at(-14 * 60_000), wide);
    const old = await rejection(verifySigV4(await at(-16 * 60_000), wide));
    assert.match(old.message, /\(20261123T100000Z - 15 min\.\)$/);
    const narrow = { ...opts, maxClockSkewMs: 90_000 };
    await verifySigV4(await at(-89_000), narrow);
    const stale = await rejection(verifySigV4(await at(-91_000), narrow));
    assert.match(
      stale.message,
      /^Signature expired: 20261123T095829Z is now earlier than 20261123T095830Z \(20261123T100000Z - 90 sec\.\)$/,
    );
  });

  it('checks the credential scope: date, region, service and terminator', async () => {
    const req = await signed({ method: 'GET', path: '/endpoint' });
    const withCredential = (fn: (c: string) => string): SigV4Request => ({
      ...req,
      rawHeaders: req.rawHeaders.map((v) =>
        v.startsWith('AWS4-HMAC-SHA256 ') ? v.replace(/Credential=([^,]+)/, (_m, c: string) => `Credential=${fn(c)}`) : v,
      ),
    });
    const cases: Array<[(c: string) => string, string, RegExp]> = [
      [
        (c) => c.replace('/20261123/', '/20261122/'),
        'InvalidSignatureException',
        /Date in Credential scope does not match YYYYMMDD .*'20261122' != '20261123'/,
      ],
      [(c) => c.replace('/eu-west-1/', '/EU_WEST/'), 'InvalidSignatureException', /valid region, not 'EU_WEST'/],
      [(c) => c.replace('/iot/', '/s3/'), 'InvalidSignatureException', /^Credential should be scoped to correct service: 'iot'\.$/],
      [
        (c) => c.replace('/aws4_request', '/aws5_request'),
        'InvalidSignatureException',
        /valid terminator: 'aws4_request', not 'aws5_request'/,
      ],
      [(c) => c.split('/').slice(0, 4).join('/'), 'IncompleteSignatureException', /exactly 5 slash-delimited elements/],
      [(c) => c.replace(/^[^/]+/, 'AKID!'), 'UnrecognizedClientException', /security token included in the request is invalid/],
    ];
    for (const [edit, type, message] of cases) {
      const err = await rejection(verifySigV4(withCredential(edit), opts));
      assert.equal(err.errorType, type, String(message));
      assert.match(err.message, message);
    }
  });

  it('accepts the execute-api scope, and only the configured services', async () => {
    const req = await signed({ method: 'GET', path: '/endpoint' }, { s: signer('execute-api') });
    assert.equal((await verifySigV4(req, opts)).service, 'execute-api');
    const err = await rejection(verifySigV4(req, { ...opts, services: ['iot'] }));
    assert.equal(err.errorType, 'InvalidSignatureException');
  });

  it('requires host among the signed headers', async () => {
    const out = await signer().sign(
      { method: 'GET', protocol: 'https:', hostname: 'iot.example', path: '/endpoint', query: {}, headers: {} },
      { signingDate: new Date(T0) },
    );
    const req = toWire('GET', '/endpoint', {}, { ...(out.headers as Record<string, string>), host: 'iot.example' }, undefined);
    const err = await rejection(verifySigV4(req, opts));
    assert.match(err.message, /'Host' must be a 'SignedHeader'/);
  });

  it('refuses unsigned or streaming payload hashes in the Authorization-header form', async () => {
    const req = await signed({ method: 'POST', path: '/x', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, body: 'abc' });
    const err = await rejection(verifySigV4(req, opts));
    assert.equal(err.errorType, 'InvalidSignatureException');
    assert.match(err.message, /UNSIGNED-PAYLOAD/);
  });

  it('reports missing and malformed signature parts as IncompleteSignatureException', async () => {
    const req = await signed({ method: 'GET', path: '/endpoint' });
    const without = (name: string): SigV4Request => {
      const raw: string[] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (req.rawHeaders[i] !== name) raw.push(req.rawHeaders[i] ?? '', req.rawHeaders[i + 1] ?? '');
      }
      return { ...req, rawHeaders: raw };
    };
    const noDate = await rejection(verifySigV4(without('x-amz-date'), opts));
    assert.equal(noDate.errorType, 'IncompleteSignatureException');
    assert.match(noDate.message, /X-Amz-Date/);

    const none = await rejection(verifySigV4(without('authorization'), opts));
    assert.equal(none.errorType, 'MissingAuthenticationTokenException');

    const auth = req.rawHeaders[req.rawHeaders.indexOf('authorization') + 1] ?? '';
    const twice = await rejection(verifySigV4({ ...req, rawHeaders: [...req.rawHeaders, 'Authorization', auth] }, opts));
    assert.equal(twice.errorType, 'IncompleteSignatureException');

    const upper = auth.replace(/Signature=([0-9a-f]+)/, (_m, s: string) => `Signature=${s.toUpperCase()}`);
    const upperErr = await rejection(
      verifySigV4({ ...without('authorization'), rawHeaders: [...without('authorization').rawHeaders, 'authorization', upper] }, opts),
    );
    assert.match(upperErr.message, /64 lower-case hexadecimal/);

    const other = await rejection(
      verifySigV4(
        { ...without('authorization'), rawHeaders: [...without('authorization').rawHeaders, 'authorization', 'Bearer abc'] },
        opts,
      ),
    );
    assert.match(other.message, /Unsupported Authorization type 'Bearer'/);

    const both = await rejection(verifySigV4({ ...req, url: '/endpoint?X-Amz-Algorithm=AWS4-HMAC-SHA256' }, opts));
    assert.match(both.message, /Only one authentication mechanism/);

    const huge = await rejection(
      verifySigV4(
        {
          ...without('authorization'),
          rawHeaders: [...without('authorization').rawHeaders, 'authorization', `AWS4-HMAC-SHA256 ${'x'.repeat(5000)}`],
        },
        opts,
      ),
    );
    assert.match(huge.message, /longer than 4096/);
  });

  it('passes the session token to the store and lets the store reject with its own error', async () => {
    const seen: Array<string | undefined> = [];
    const tokenStore: CredentialStore = (id, token) => {
      seen.push(token);
      if (token === 'expired') throw new ApiError('ExpiredTokenException', 'The security token included in the request is expired');
      return id === KEY.accessKeyId && token === 'good' ? KEY.secretAccessKey : undefined;
    };
    const good = await signed({ method: 'GET', path: '/endpoint' }, { s: signer('iot', { ...KEY, sessionToken: 'good' }) });
    assert.equal((await verifySigV4(good, { credentials: tokenStore, now: () => T0 })).sessionToken, 'good');
    const expired = await signed({ method: 'GET', path: '/endpoint' }, { s: signer('iot', { ...KEY, sessionToken: 'expired' }) });
    const err = await rejection(verifySigV4(expired, { credentials: tokenStore, now: () => T0 }));
    assert.equal(err.errorType, 'ExpiredTokenException');
    assert.deepEqual(seen, ['good', 'expired']);
  });

  it('never puts the session token into the log detail of a mismatch', async () => {
    const req = await signed({ method: 'GET', path: '/endpoint' }, { s: signer('iot', { ...KEY, sessionToken: 'very-secret-token' }) });
    const err = await rejection(verifySigV4(req, { credentials: () => 'wrong-secret', now: () => T0 }));
    assert.equal(err.errorType, 'InvalidSignatureException');
    assert.match(err.detail ?? '', /x-amz-security-token:<redacted>/);
    assert.doesNotMatch(err.detail ?? '', /very-secret-token/);
  });
});

describe('verifySigV4: presigned query-string form', () => {
  async function presigned(expiresIn: number, extra: Partial<Plain> = {}, creds = KEY): Promise<SigV4Request> {
    const out = await signer('iot', creds).presign(
      {
        method: 'GET',
        protocol: 'https:',
        hostname: 'iot.example',
        port: 8443,
        path: '/endpoint',
        query: { endpointType: 'iot:Data-ATS' },
        headers: { host: 'iot.example:8443', ...(extra.headers ?? {}) },
      },
      { signingDate: new Date(T0), expiresIn },
    );
    return toWire('GET', '/endpoint', out.query as Record<string, string>, out.headers as Record<string, string>, undefined);
  }

  it('accepts a presigned request within its validity, with an optional session token', async () => {
    const verified = await verifySigV4(await presigned(300), { ...opts, now: () => T0 + 299_000 });
    assert.equal(verified.form, 'presigned');
    const withToken = await presigned(300, {}, { ...KEY, sessionToken: 'tok' } as typeof KEY);
    const tokenStore: CredentialStore = (_id, token) => (token === 'tok' ? KEY.secretAccessKey : undefined);
    assert.equal((await verifySigV4(withToken, { credentials: tokenStore, now: () => T0 })).sessionToken, 'tok');
  });

  it('accepts UNSIGNED-PAYLOAD for a presigned request without a body', async () => {
    const req = await presigned(300, { headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    assert.match(req.url, /x-amz-content-sha256=UNSIGNED-PAYLOAD/);
    await verifySigV4(req, opts);
  });

  it('refuses an expired presigned request, and an X-Amz-Expires beyond 7 days', async () => {
    const err = await rejection(verifySigV4(await presigned(60), { ...opts, now: () => T0 + 61_000 }));
    assert.equal(err.errorType, 'InvalidSignatureException');
    assert.match(err.message, /presigned request expired at 20261123T100100Z/);
    const req = await presigned(60);
    const long = await rejection(verifySigV4({ ...req, url: req.url.replace('X-Amz-Expires=60', 'X-Amz-Expires=604801') }, opts));
    assert.equal(long.errorType, 'IncompleteSignatureException');
  });

  it('refuses a presigned request whose query was changed', async () => {
    const req = await presigned(300);
    const err = await rejection(verifySigV4({ ...req, url: req.url.replace('iot%3AData-ATS', 'iot%3AJobs') }, opts));
    assert.equal(err.errorType, 'InvalidSignatureException');
  });

  it('names the missing presigned parameters', async () => {
    const err = await rejection(
      verifySigV4({ method: 'GET', url: '/endpoint?X-Amz-Algorithm=AWS4-HMAC-SHA256', rawHeaders: ['host', 'x'], body: undefined }, opts),
    );
    assert.equal(err.errorType, 'IncompleteSignatureException');
    assert.match(err.message, /'X-Amz-Credential'.*'X-Amz-SignedHeaders'.*'X-Amz-Signature'.*'X-Amz-Expires'/);
  });
});
