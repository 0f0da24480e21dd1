import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkCsrPem,
  EMPTY_TOKEN_MESSAGE,
  encodeCreateCertificateFromCsrRequest,
  encodeCreateKeysAndCertificateRequest,
  encodePayload,
  encodeRegisterThingRequest,
  MAX_PAYLOAD_BYTES,
  parseCreateCertificateFromCsrRequest,
  parseCreateKeysAndCertificateRequest,
  parseRegisterThingRequest,
  ProtocolError,
  type PayloadFormat,
} from '../src/index.js';
import { bytes, chunkedText, indefiniteMap, map, NULL, text, TRUE, uint } from './cbor-bytes.js';

const FORMATS: PayloadFormat[] = ['json', 'cbor'];

const CSR = `-----BEGIN CERTIFICATE REQUEST-----
MIHOMHUCAQAwEzERMA8GA1UEAwwIZGV2aWNlLTEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQzeHEbyUYlVNV5q4E0tVzSFhiRThkXC/ukAB9hqoeFawtbqwrWvBqm
s8+j+HlhW3IWVn/T6q7rvh6pBRM947epoAAwCgYIKoZIzj0EAwIDSQAwRgIhAJcu
/QStSA4NU3s2IsDFF/1k2D5nn/Ht+pZHqHSi4M48AiEA4frOmgz7i95eV7w4ShY1
nDj3PVOvxcQTRO+fxrZmXPg=
-----END CERTIFICATE REQUEST-----
`;

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function rejects(fn: () => unknown, code: string, pattern: RegExp, path?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ProtocolError, `expected ProtocolError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.statusCode, 400);
    assert.match(err.message, pattern);
    if (path !== undefined) assert.equal(err.path, path);
    return true;
  });
}

describe('parseCreateKeysAndCertificateRequest (lenient)', () => {
  it('accepts an empty payload in both formats', () => {
    for (const format of FORMATS) assert.deepEqual(parseCreateKeysAndCertificateRequest(format, Buffer.alloc(0)), {});
  });

  it('accepts {}, whitespace, null, an empty CBOR map and extra keys', () => {
    const accepted: Array<[PayloadFormat, Buffer]> = [
      ['json', Buffer.from('{}')],
      ['json', Buffer.from('  \n')],
      ['json', Buffer.from(' { } ')],
      ['json', Buffer.from('null')],
      ['json', json({ clientToken: 'abc', anything: [1, 2] })],
      ['cbor', Buffer.from([0xa0])],
      ['cbor', Buffer.from([0xbf, 0xff])],
      ['cbor', bytes(NULL)],
      ['cbor', bytes(map([text('extra'), uint(1)]))],
    ];
    for (const [format, buf] of accepted) assert.deepEqual(parseCreateKeysAndCertificateRequest(format, buf), {}, buf.toString('hex'));
  });

  it('rejects payloads that are not an object', () => {
    rejects(() => parseCreateKeysAndCertificateRequest('json', Buffer.from('[]')), 'InvalidPayload', /must be a JSON object; got array/);
    rejects(() => parseCreateKeysAndCertificateRequest('json', Buffer.from('"x"')), 'InvalidPayload', /got string/);
    rejects(() => parseCreateKeysAndCertificateRequest('cbor', bytes(uint(3))), 'InvalidPayload', /must be a CBOR map; got number/);
    rejects(() => parseCreateKeysAndCertificateRequest('json', Buffer.from('{')), 'InvalidPayload', /not valid JSON/);
  });
});

describe('parseCreateCertificateFromCsrRequest', () => {
  it('accepts a PEM CSR in both formats and ignores extra keys', () => {
    for (const format of FORMATS) {
      const buf = encodePayload(format, { certificateSigningRequest: CSR, extra: true });
      assert.deepEqual(parseCreateCertificateFromCsrRequest(format, buf), { certificateSigningRequest: CSR });
    }
  });

  it('accepts the NEW CERTIFICATE REQUEST label and CRLF line endings', () => {
    const legacy = CSR.replaceAll('CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST');
    assert.equal(
      parseCreateCertificateFromCsrRequest('json', json({ certificateSigningRequest: legacy })).certificateSigningRequest,
      legacy,
    );
    const crlf = CSR.replaceAll('\n', '\r\n');
    assert.equal(parseCreateCertificateFromCsrRequest('json', json({ certificateSigningRequest: crlf })).certificateSigningRequest, crlf);
  });

  it('accepts a CSR sent as a chunked CBOR string', () => {
    const buf = bytes(map([text('certificateSigningRequest'), chunkedText(CSR.slice(0, 100), CSR.slice(100))]));
    assert.equal(parseCreateCertificateFromCsrRequest('cbor', buf).certificateSigningRequest, CSR);
  });

  it('rejects a missing, empty or mistyped CSR', () => {
    const path = 'certificateSigningRequest';
    rejects(
      () => parseCreateCertificateFromCsrRequest('json', Buffer.from('{}')),
      'InvalidPayload',
      /certificateSigningRequest is required/,
      path,
    );
    rejects(() => parseCreateCertificateFromCsrRequest('json', Buffer.alloc(0)), 'InvalidPayload', /is required/);
    rejects(() => parseCreateCertificateFromCsrRequest('json', json({ certificateSigningRequest: null })), 'InvalidPayload', /is required/);
    rejects(
      () => parseCreateCertificateFromCsrRequest('json', json({ certificateSigningRequest: '' })),
      'InvalidPayload',
      /cannot be empty/,
      path,
    );
    rejects(
      () => parseCreateCertificateFromCsrRequest('json', json({ certificateSigningRequest: 42 })),
      'InvalidPayload',
      /must be a string; got number/,
      path,
    );
    rejects(
      () => parseCreateCertificateFromCsrRequest('cbor', bytes(map([text('certificateSigningRequest'), [0x41, 0x00]]))),
      'InvalidPayload',
      /byte strings are not allowed/,
    );
  });

  it('rejects a CSR over 4096 characters', () => {
    const body = 'A'.repeat(4100);
    const csr = `-----BEGIN CERTIFICATE REQUEST-----\n${body}\n-----END CERTIFICATE REQUEST-----\n`;
    rejects(
      () => parseCreateCertificateFromCsrRequest('json', json({ certificateSigningRequest: csr })),
      'InvalidPayload',
      /is 417\d characters; the maximum is 4096/,
    );
  });

  it('rejects text that is not a PEM CSR', () => {
    const notCsrs = [
      'hello',
      CSR.replaceAll('CERTIFICATE REQUEST', 'CERTIFICATE'),
      CSR.replace('-----END CERTIFICATE REQUEST-----', '-----END NEW CERTIFICATE REQUEST-----'),
      CSR.replace('MIHOMHUC', 'MIHO!HUC'),
      CSR.replaceAll('\n', '\\n'),
      '-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----',
      `junk${CSR}`,
    ];
    for (const csr of notCsrs) {
      rejects(
        () => parseCreateCertificateFromCsrRequest('json', json({ certificateSigningRequest: csr })),
        'InvalidPayload',
        /must be a PEM certificate signing request/,
      );
    }
  });

  it('checkCsrPem returns null for a good CSR', () => {
    assert.equal(checkCsrPem(CSR), null);
    assert.match(checkCsrPem('') ?? '', /cannot be empty/);
  });
});

describe('parseRegisterThingRequest', () => {
  it('parses token and parameters in both formats', () => {
    for (const format of FORMATS) {
      const buf = encodePayload(format, { certificateOwnershipToken: 'tok-1', parameters: { SerialNumber: 'SN1', Region: 'eu' } });
      const req = parseRegisterThingRequest(format, buf);
      assert.equal(req.certificateOwnershipToken, 'tok-1');
      assert.deepEqual({ ...req.parameters }, { SerialNumber: 'SN1', Region: 'eu' });
      assert.equal(Object.getPrototypeOf(req.parameters), null);
    }
  });

  it('leaves parameters out when absent or null, keeps {} when empty', () => {
    assert.equal('parameters' in parseRegisterThingRequest('json', json({ certificateOwnershipToken: 't' })), false);
    assert.equal('parameters' in parseRegisterThingRequest('json', json({ certificateOwnershipToken: 't', parameters: null })), false);
    assert.deepEqual({ ...parseRegisterThingRequest('json', json({ certificateOwnershipToken: 't', parameters: {} })).parameters }, {});
  });

  it('ignores unknown top-level keys such as the JS v1 SDK templateName', () => {
    const req = parseRegisterThingRequest(
      'json',
      json({ templateName: 'T', certificateOwnershipToken: 't', clientToken: 'x', parameters: { a: 'b' } }),
    );
    assert.deepEqual(Object.keys(req).sort(), ['certificateOwnershipToken', 'parameters']);
  });

  it('coerces booleans and numbers to strings in their JSON form', () => {
    const req = parseRegisterThingRequest(
      'json',
      Buffer.from('{"certificateOwnershipToken":"t","parameters":{"t":true,"f":false,"i":42,"n":-7,"d":1.5,"e":1e21,"z":-0,"s":"x"}}'),
    );
    assert.deepEqual({ ...req.parameters }, { t: 'true', f: 'false', i: '42', n: '-7', d: '1.5', e: '1e+21', z: '0', s: 'x' });
  });

  it('coerces CBOR booleans and integers too (indefinite maps)', () => {
    const buf = bytes(
      indefiniteMap(
        [text('certificateOwnershipToken'), text('t')],
        [text('parameters'), indefiniteMap([text('on'), TRUE], [text('n'), uint(500)])],
      ),
    );
    assert.deepEqual({ ...parseRegisterThingRequest('cbor', buf).parameters }, { on: 'true', n: '500' });
  });

  it('rejects a missing or empty token with InvalidCertificateOwnershipToken', () => {
    const cases: Buffer[] = [
      json({}),
      json({ certificateOwnershipToken: '' }),
      json({ certificateOwnershipToken: null }),
      json({ parameters: {} }),
      Buffer.alloc(0),
    ];
    for (const buf of cases) {
      rejects(
        () => parseRegisterThingRequest('json', buf),
        'InvalidCertificateOwnershipToken',
        /^Certificate ownership token cannot be empty\.$/,
        'certificateOwnershipToken',
      );
    }
    rejects(() => parseRegisterThingRequest('cbor', Buffer.from([0xa0])), 'InvalidCertificateOwnershipToken', /cannot be empty/);
    assert.equal(EMPTY_TOKEN_MESSAGE, 'Certificate ownership token cannot be empty.');
  });

  it('rejects a non-string token', () => {
    rejects(
      () => parseRegisterThingRequest('json', json({ certificateOwnershipToken: 123 })),
      'InvalidCertificateOwnershipToken',
      /must be a string; got number/,
    );
    rejects(
      () => parseRegisterThingRequest('json', json({ certificateOwnershipToken: ['a'] })),
      'InvalidCertificateOwnershipToken',
      /got array/,
    );
  });

  it('rejects nested, null and non-finite parameter values naming the key', () => {
    const base = { certificateOwnershipToken: 't' };
    rejects(
      () => parseRegisterThingRequest('json', json({ ...base, parameters: { SerialNumber: { a: 1 } } })),
      'InvalidPayload',
      /^parameters\.SerialNumber must be a string, number or boolean; got object$/,
      'parameters.SerialNumber',
    );
    rejects(
      () => parseRegisterThingRequest('json', json({ ...base, parameters: { Tags: ['a'] } })),
      'InvalidPayload',
      /parameters\.Tags .* got array/,
    );
    rejects(
      () => parseRegisterThingRequest('json', json({ ...base, parameters: { Maybe: null } })),
      'InvalidPayload',
      /parameters\.Maybe .* got null/,
    );
    rejects(
      () => parseRegisterThingRequest('json', Buffer.from('{"certificateOwnershipToken":"t","parameters":{"Big":1e999}}')),
      'InvalidPayload',
      /parameters\.Big must be a finite number; got Infinity/,
    );
    rejects(
      () =>
        parseRegisterThingRequest(
          'cbor',
          bytes(map([text('certificateOwnershipToken'), text('t')], [text('parameters'), map([text('x'), [0xf9, 0x7e, 0x00]])])),
        ),
      'InvalidPayload',
      /parameters\.x must be a finite number; got NaN/,
    );
    rejects(
      () => parseRegisterThingRequest('json', json({ ...base, parameters: { 'a key': {} } })),
      'InvalidPayload',
      /^parameters\["a key"\] must be/,
    );
  });

  it('rejects parameters that are not a map', () => {
    for (const parameters of [[], 'x', 5, true]) {
      rejects(
        () => parseRegisterThingRequest('json', json({ certificateOwnershipToken: 't', parameters })),
        'InvalidPayload',
        /parameters must be a map of string keys to string values/,
        'parameters',
      );
    }
  });

  it('enforces key length, value length and entry count', () => {
    const t = { certificateOwnershipToken: 't' };
    assert.ok(parseRegisterThingRequest('json', json({ ...t, parameters: { ['k'.repeat(2048)]: 'v'.repeat(4096) } })));
    rejects(
      () => parseRegisterThingRequest('json', json({ ...t, parameters: { ['k'.repeat(2049)]: 'v' } })),
      'InvalidPayload',
      /key is 2049 characters; the maximum is 2048/,
    );
    rejects(
      () => parseRegisterThingRequest('json', json({ ...t, parameters: { k: 'v'.repeat(4097) } })),
      'InvalidPayload',
      /parameters\.k is 4097 characters; the maximum is 4096/,
    );
    const many: Record<string, string> = {};
    for (let i = 0; i < 1000; i++) many[`p${i}`] = '';
    assert.equal(Object.keys(parseRegisterThingRequest('json', json({ ...t, parameters: many })).parameters ?? {}).length, 1000);
    many.p1000 = '';
    rejects(
      () => parseRegisterThingRequest('json', json({ ...t, parameters: many })),
      'InvalidPayload',
      /1001 entries; the maximum is 1000/,
    );
  });

  it('rejects prototype keys in parameters', () => {
    rejects(
      () => parseRegisterThingRequest('json', Buffer.from('{"certificateOwnershipToken":"t","parameters":{"__proto__":"x"}}')),
      'InvalidPayload',
      /"__proto__" is not allowed/,
    );
    rejects(
      () => parseRegisterThingRequest('json', Buffer.from('{"certificateOwnershipToken":"t","parameters":{"constructor":"x"}}')),
      'InvalidPayload',
      /"constructor" is not allowed/,
    );
  });

  it('rejects oversize and non-object payloads', () => {
    const big = Buffer.alloc(MAX_PAYLOAD_BYTES + 1, 0x20);
    rejects(() => parseRegisterThingRequest('json', big), 'InvalidPayload', /131073 bytes/);
    rejects(() => parseCreateKeysAndCertificateRequest('json', big), 'InvalidPayload', /131073 bytes/);
    const bigJson = json({ certificateOwnershipToken: 't', parameters: { a: 'x'.repeat(MAX_PAYLOAD_BYTES) } });
    rejects(() => parseRegisterThingRequest('json', bigJson), 'InvalidPayload', /the maximum is 131072/);
    const bigCbor = encodePayload('cbor', { certificateOwnershipToken: 't', parameters: { a: 'x'.repeat(MAX_PAYLOAD_BYTES - 100) } });
    rejects(
      () => parseRegisterThingRequest('cbor', Buffer.concat([bigCbor, Buffer.alloc(200)])),
      'InvalidPayload',
      /the maximum is 131072/,
    );
    rejects(
      () => parseRegisterThingRequest('json', Buffer.from('[1]')),
      'InvalidPayload',
      /RegisterThing request must be a JSON object; got array/,
    );
  });
});

describe('request encoders (device side)', () => {
  it('encode CreateKeysAndCertificate as {} / empty map', () => {
    assert.equal(encodeCreateKeysAndCertificateRequest('json').toString(), '{}');
    assert.deepEqual([...encodeCreateKeysAndCertificateRequest('cbor')], [0xa0]);
  });

  it('round-trip through the server parsers', () => {
    for (const format of FORMATS) {
      assert.deepEqual(parseCreateKeysAndCertificateRequest(format, encodeCreateKeysAndCertificateRequest(format)), {});
      const csrBuf = encodeCreateCertificateFromCsrRequest(format, { certificateSigningRequest: CSR });
      assert.deepEqual(parseCreateCertificateFromCsrRequest(format, csrBuf), { certificateSigningRequest: CSR });
      const regBuf = encodeRegisterThingRequest(format, { certificateOwnershipToken: 'tok', parameters: { SerialNumber: '1' } });
      const reg = parseRegisterThingRequest(format, regBuf);
      assert.equal(reg.certificateOwnershipToken, 'tok');
      assert.deepEqual({ ...reg.parameters }, { SerialNumber: '1' });
    }
  });

  it('write only the documented keys', () => {
    const extra = { certificateOwnershipToken: 't', templateName: 'T' } as unknown as { certificateOwnershipToken: string };
    assert.equal(encodeRegisterThingRequest('json', extra).toString(), '{"certificateOwnershipToken":"t"}');
  });

  it('refuse invalid requests with InternalFailure', () => {
    const internal = (fn: () => unknown, pattern: RegExp) =>
      assert.throws(fn, (err: unknown) => err instanceof ProtocolError && err.code === 'InternalFailure' && pattern.test(err.message));
    internal(() => encodeCreateCertificateFromCsrRequest('json', { certificateSigningRequest: 'nope' }), /PEM/);
    internal(() => encodeRegisterThingRequest('json', { certificateOwnershipToken: '' }), /must not be empty/);
    internal(
      () => encodeRegisterThingRequest('json', { certificateOwnershipToken: 't', parameters: { a: 1 as unknown as string } }),
      /parameters\.a must be a string; got number/,
    );
    internal(() => encodeRegisterThingRequest('json', null as unknown as { certificateOwnershipToken: string }), /must be an object/);
    internal(
      () => encodeRegisterThingRequest('json', { certificateOwnershipToken: 't', parameters: { k: 'v'.repeat(4097) } }),
      /maximum is 4096/,
    );
  });
});
