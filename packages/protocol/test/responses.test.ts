import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  encodeCreateCertificateFromCsrResponse,
  encodeCreateKeysAndCertificateResponse,
  encodeErrorResponse,
  encodePayload,
  encodeRegisterThingResponse,
  errorResponse,
  parseCreateCertificateFromCsrResponse,
  parseCreateKeysAndCertificateResponse,
  parseErrorResponse,
  parseRegisterThingResponse,
  ProtocolError,
  UNKNOWN_ERROR_CODE,
  type CreateKeysAndCertificateResponse,
  type PayloadFormat,
  type RegisterThingResponse,
} from '../src/index.js';
import { bytes, chunkedText, map, text } from './cbor-bytes.js';

const FORMATS: PayloadFormat[] = ['json', 'cbor'];
const CERT_ID = 'ab'.repeat(32);
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n';

const keysResponse: CreateKeysAndCertificateResponse = {
  certificateId: CERT_ID,
  certificatePem: PEM,
  privateKey: KEY,
  certificateOwnershipToken: 'token-1',
};

function failsWith(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ProtocolError, `expected ProtocolError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('response encoders (server side)', () => {
  it('write exactly the documented keys, in AWS order', () => {
    const withExtras = { ...keysResponse, internalArn: 'arn:secret', status: 'PENDING_ACTIVATION' };
    const out = JSON.parse(encodeCreateKeysAndCertificateResponse('json', withExtras).toString()) as object;
    assert.deepEqual(Object.keys(out), ['certificateId', 'certificatePem', 'privateKey', 'certificateOwnershipToken']);
    const csr = JSON.parse(
      encodeCreateCertificateFromCsrResponse('json', {
        certificateOwnershipToken: 't',
        certificateId: CERT_ID,
        certificatePem: PEM,
        privateKey: 'leak',
      } as never).toString(),
    ) as object;
    assert.deepEqual(Object.keys(csr), ['certificateOwnershipToken', 'certificateId', 'certificatePem']);
    const reg = JSON.parse(
      encodeRegisterThingResponse('json', { deviceConfiguration: { a: 'b' }, thingName: 'thing-1' }).toString(),
    ) as object;
    assert.deepEqual(reg, { deviceConfiguration: { a: 'b' }, thingName: 'thing-1' });
    const err = JSON.parse(encodeErrorResponse('json', errorResponse('AccessDenied', 'no')).toString()) as object;
    assert.deepEqual(err, { statusCode: 403, errorCode: 'AccessDenied', errorMessage: 'no' });
  });

  it('omit thingName when undefined', () => {
    assert.equal(encodeRegisterThingResponse('json', { deviceConfiguration: {} }).toString(), '{"deviceConfiguration":{}}');
  });

  it('encode statusCode as a CBOR integer', () => {
    const buf = encodeErrorResponse('cbor', { statusCode: 400, errorCode: 'X', errorMessage: '' });
    const index = buf.indexOf(Buffer.from('statusCode'));
    assert.deepEqual([...buf.subarray(index + 10, index + 13)], [0x19, 0x01, 0x90]);
  });

  it('reject non-string fields and bad status codes with InternalFailure', () => {
    failsWith(
      () => encodeCreateKeysAndCertificateResponse('json', { ...keysResponse, privateKey: undefined } as never),
      'InternalFailure',
      /privateKey must be a string; got undefined/,
    );
    failsWith(
      () => encodeCreateKeysAndCertificateResponse('cbor', { ...keysResponse, certificateId: '' }),
      'InternalFailure',
      /certificateId must not be empty/,
    );
    failsWith(
      () =>
        encodeCreateCertificateFromCsrResponse('json', {
          certificateOwnershipToken: 1,
          certificateId: CERT_ID,
          certificatePem: PEM,
        } as never),
      'InternalFailure',
      /certificateOwnershipToken must be a string; got number/,
    );
    failsWith(
      () => encodeRegisterThingResponse('json', { deviceConfiguration: { port: 8883 } } as never),
      'InternalFailure',
      /deviceConfiguration\.port must be a string; got number/,
    );
    failsWith(() => encodeRegisterThingResponse('json', { deviceConfiguration: { nested: {} } } as never), 'InternalFailure', /got object/);
    failsWith(() => encodeRegisterThingResponse('json', {} as never), 'InternalFailure', /deviceConfiguration must be an object/);
    failsWith(
      () => encodeRegisterThingResponse('json', { deviceConfiguration: {}, thingName: 5 } as never),
      'InternalFailure',
      /thingName must be a string/,
    );
    failsWith(
      () => encodeRegisterThingResponse('json', { deviceConfiguration: JSON.parse('{"__proto__":"x"}') as Record<string, string> }),
      'InternalFailure',
      /must not contain the key "__proto__"/,
    );
    failsWith(() => encodeErrorResponse('json', { statusCode: 400.5, errorCode: 'X', errorMessage: '' }), 'InternalFailure', /integer/);
    failsWith(() => encodeErrorResponse('json', { statusCode: 42, errorCode: 'X', errorMessage: '' }), 'InternalFailure', /100 to 599/);
    failsWith(
      () => encodeErrorResponse('json', { statusCode: '400', errorCode: 'X', errorMessage: '' } as never),
      'InternalFailure',
      /integer/,
    );
    failsWith(
      () => encodeErrorResponse('json', { statusCode: 400, errorCode: '', errorMessage: '' }),
      'InternalFailure',
      /errorCode must not be empty/,
    );
    failsWith(
      () => encodeCreateKeysAndCertificateResponse('json', { ...keysResponse, privateKey: '\uD800' }),
      'InternalFailure',
      /surrogate/,
    );
  });
});

describe('response parsers (device side)', () => {
  for (const format of FORMATS) {
    it(`round-trip every response type (${format})`, () => {
      assert.deepEqual(
        parseCreateKeysAndCertificateResponse(format, encodeCreateKeysAndCertificateResponse(format, keysResponse)),
        keysResponse,
      );
      const csr = { certificateOwnershipToken: 'tok', certificateId: CERT_ID, certificatePem: PEM };
      assert.deepEqual(parseCreateCertificateFromCsrResponse(format, encodeCreateCertificateFromCsrResponse(format, csr)), csr);
      const reg: RegisterThingResponse = { deviceConfiguration: { Fallback: 'false', Url: 'https://x' }, thingName: 'thing_1' };
      const parsed = parseRegisterThingResponse(format, encodeRegisterThingResponse(format, reg));
      assert.deepEqual({ ...parsed, deviceConfiguration: { ...parsed.deviceConfiguration } }, reg);
      const err = errorResponse('InvalidCertificateOwnershipToken', 'Certificate ownership token cannot be empty.');
      assert.deepEqual(parseErrorResponse(format, encodeErrorResponse(format, err)), err);
    });
  }

  it('ignore extra keys', () => {
    const buf = Buffer.from(JSON.stringify({ ...keysResponse, extra: { deep: [1] } }));
    assert.deepEqual(parseCreateKeysAndCertificateResponse('json', buf), keysResponse);
  });

  it('accept chunked CBOR strings from other implementations', () => {
    const buf = bytes(
      map(
        [text('certificateOwnershipToken'), chunkedText('to', 'k')],
        [text('certificateId'), text(CERT_ID)],
        [text('certificatePem'), chunkedText(PEM.slice(0, 10), PEM.slice(10))],
      ),
    );
    assert.deepEqual(parseCreateCertificateFromCsrResponse('cbor', buf), {
      certificateOwnershipToken: 'tok',
      certificateId: CERT_ID,
      certificatePem: PEM,
    });
  });

  it('reject missing, empty or non-string required fields', () => {
    const { privateKey: _omit, ...noKey } = keysResponse;
    failsWith(
      () => parseCreateKeysAndCertificateResponse('json', Buffer.from(JSON.stringify(noKey))),
      'InvalidPayload',
      /needs privateKey as a non-empty string; it is missing/,
    );
    failsWith(
      () => parseCreateKeysAndCertificateResponse('json', Buffer.from(JSON.stringify({ ...keysResponse, certificateId: 7 }))),
      'InvalidPayload',
      /certificateId .* got number/,
    );
    failsWith(
      () =>
        parseCreateCertificateFromCsrResponse(
          'json',
          Buffer.from(JSON.stringify({ certificateOwnershipToken: '', certificateId: CERT_ID, certificatePem: PEM })),
        ),
      'InvalidPayload',
      /got string \(empty\)/,
    );
    failsWith(() => parseCreateCertificateFromCsrResponse('json', Buffer.from('[]')), 'InvalidPayload', /must be a JSON object; got array/);
    failsWith(() => parseCreateKeysAndCertificateResponse('cbor', Buffer.from([0x61])), 'InvalidPayload', /unexpected end/);
  });

  it('RegisterThing: missing deviceConfiguration becomes {} and thingName is optional', () => {
    const empty = parseRegisterThingResponse('json', Buffer.from('{}'));
    assert.deepEqual({ ...empty.deviceConfiguration }, {});
    assert.equal('thingName' in empty, false);
    assert.equal('thingName' in parseRegisterThingResponse('json', Buffer.from('{"thingName":""}')), false);
    assert.equal('thingName' in parseRegisterThingResponse('json', Buffer.from('{"thingName":null,"deviceConfiguration":null}')), false);
    assert.equal(parseRegisterThingResponse('cbor', encodePayload('cbor', { thingName: 't' })).thingName, 't');
  });

  it('RegisterThing: coerces scalar configuration values and rejects nested ones', () => {
    const parsed = parseRegisterThingResponse('json', Buffer.from('{"deviceConfiguration":{"port":8883,"tls":true}}'));
    assert.deepEqual({ ...parsed.deviceConfiguration }, { port: '8883', tls: 'true' });
    failsWith(
      () => parseRegisterThingResponse('json', Buffer.from('{"deviceConfiguration":{"a":{"b":"c"}}}')),
      'InvalidPayload',
      /deviceConfiguration\.a must be a string, number or boolean; got object/,
    );
    failsWith(
      () => parseRegisterThingResponse('json', Buffer.from('{"deviceConfiguration":"x"}')),
      'InvalidPayload',
      /deviceConfiguration must be a map/,
    );
    failsWith(
      () => parseRegisterThingResponse('json', Buffer.from('{"thingName":12}')),
      'InvalidPayload',
      /thingName must be a string; got number/,
    );
  });
});

describe('parseErrorResponse (tolerant)', () => {
  it('reads a well-formed error', () => {
    assert.deepEqual(parseErrorResponse('json', Buffer.from('{"statusCode":403,"errorCode":"AccessDenied","errorMessage":"denied"}')), {
      statusCode: 403,
      errorCode: 'AccessDenied',
      errorMessage: 'denied',
    });
  });

  it('fills in defaults for missing or mistyped fields', () => {
    assert.deepEqual(parseErrorResponse('json', Buffer.from('{}')), { statusCode: 0, errorCode: UNKNOWN_ERROR_CODE, errorMessage: '' });
    assert.deepEqual(parseErrorResponse('json', Buffer.from('{"statusCode":"429","errorCode":5,"errorMessage":["x"]}')), {
      statusCode: 429,
      errorCode: UNKNOWN_ERROR_CODE,
      errorMessage: '',
    });
    assert.equal(parseErrorResponse('json', Buffer.from('{"statusCode":1.5}')).statusCode, 0);
  });

  it('never throws on garbage', () => {
    const garbage = [
      Buffer.alloc(0),
      Buffer.from('not json'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"text error"'),
      Buffer.from('[1]'),
      Buffer.alloc(200_000),
    ];
    for (const format of FORMATS) {
      for (const buf of garbage) {
        const res = parseErrorResponse(format, buf);
        assert.equal(typeof res.statusCode, 'number');
        assert.equal(typeof res.errorCode, 'string');
        assert.equal(typeof res.errorMessage, 'string');
      }
    }
    assert.equal(parseErrorResponse('json', Buffer.from('"text error"')).errorMessage, 'text error');
    assert.match(parseErrorResponse('json', Buffer.from('nope')).errorMessage, /unreadable rejected payload \(4 bytes\)/);
  });
});
