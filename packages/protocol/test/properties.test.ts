import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeCbor } from '../src/cbor-encoder.js';
import type { WireValue } from '../src/payloads.js';
import {
  decodePayload,
  encodeCreateCertificateFromCsrResponse,
  encodeCreateKeysAndCertificateResponse,
  encodeErrorResponse,
  encodePayload,
  encodeRegisterThingRequest,
  encodeRegisterThingResponse,
  isForbiddenKey,
  parseCreateCertificateFromCsrRequest,
  parseCreateCertificateFromCsrResponse,
  parseCreateKeysAndCertificateRequest,
  parseCreateKeysAndCertificateResponse,
  parseErrorResponse,
  parseRegisterThingRequest,
  parseRegisterThingResponse,
  ProtocolError,
  type PayloadFormat,
} from '../src/index.js';

const FORMATS: PayloadFormat[] = ['json', 'cbor'];
const SEED = 20240611; // fixed so the suite is deterministic

const parsers: Array<(format: PayloadFormat, buf: Uint8Array) => unknown> = [
  parseCreateKeysAndCertificateRequest,
  parseCreateCertificateFromCsrRequest,
  parseRegisterThingRequest,
  parseCreateKeysAndCertificateResponse,
  parseCreateCertificateFromCsrResponse,
  parseRegisterThingResponse,
];

/** Runs every parser on `buf`; any exception other than ProtocolError fails the property. */
function onlyProtocolErrors(format: PayloadFormat, buf: Uint8Array): void {
  for (const parse of parsers) {
    try {
      parse(format, buf);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      assert.ok(err.message.length > 0 && err.message.length < 600, 'error message should be short and present');
      assert.ok(err.statusCode === 400, `parse errors are 400s, got ${err.statusCode}`);
    }
  }
  const res = parseErrorResponse(format, buf);
  assert.equal(typeof res.errorMessage, 'string');
}

/** Encodes an arbitrary JS value as JSON or CBOR bytes without going through our own validation. */
function rawEncode(format: PayloadFormat, value: unknown): Buffer {
  return format === 'json' ? Buffer.from(JSON.stringify(value) ?? 'null') : encodeCbor(value as WireValue);
}

const text = fc.string({ unit: 'binary', maxLength: 40 });
const nonEmptyText = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 });
const safeKey = fc.string({ unit: 'binary', maxLength: 20 }).filter((k) => !isForbiddenKey(k));
const stringMap = fc.dictionary(safeKey, text, { maxKeys: 8 });
const format = fc.constantFrom<PayloadFormat>('json', 'cbor');

describe('parsers never throw anything but ProtocolError', () => {
  it('on arbitrary bytes', () => {
    fc.assert(
      fc.property(format, fc.uint8Array({ maxLength: 300 }), (f, buf) => onlyProtocolErrors(f, buf)),
      { numRuns: 1500, seed: SEED },
    );
  });

  it('on arbitrary JSON values, encoded as JSON and as CBOR', () => {
    fc.assert(
      fc.property(format, fc.jsonValue({ maxDepth: 5 }), (f, value) => onlyProtocolErrors(f, rawEncode(f, value))),
      { numRuns: 500, seed: SEED },
    );
  });

  it('on request-shaped objects with arbitrary field values', () => {
    const anyValue = fc.jsonValue({ maxDepth: 3 });
    const shaped = fc.record(
      {
        certificateOwnershipToken: fc.oneof(text, anyValue),
        certificateSigningRequest: fc.oneof(text, anyValue),
        parameters: fc.oneof(fc.dictionary(text, anyValue, { maxKeys: 6 }), anyValue),
        deviceConfiguration: fc.oneof(fc.dictionary(text, anyValue, { maxKeys: 6 }), anyValue),
        thingName: fc.oneof(text, anyValue),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(format, shaped, (f, value) => {
        onlyProtocolErrors(f, rawEncode(f, value));
        try {
          const req = parseRegisterThingRequest(f, rawEncode(f, value));
          assert.equal(typeof req.certificateOwnershipToken, 'string');
          for (const v of Object.values(req.parameters ?? {})) assert.equal(typeof v, 'string');
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
        }
      }),
      { numRuns: 500, seed: SEED },
    );
  });

  it('on corrupted and truncated valid payloads', () => {
    fc.assert(
      fc.property(
        format,
        nonEmptyText,
        stringMap,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        (f, token, parameters, flips, cut) => {
          const valid = Buffer.from(encodeRegisterThingRequest(f, { certificateOwnershipToken: token, parameters }));
          for (const [at, byte] of flips) valid[at % valid.length] = byte;
          onlyProtocolErrors(f, valid);
          onlyProtocolErrors(f, valid.subarray(0, cut % (valid.length + 1)));
        },
      ),
      { numRuns: 800, seed: SEED },
    );
  });
});

describe('encode then decode is the identity', () => {
  it('for CreateKeysAndCertificate responses', () => {
    fc.assert(
      fc.property(
        format,
        nonEmptyText,
        nonEmptyText,
        nonEmptyText,
        nonEmptyText,
        (f, certificateId, certificatePem, privateKey, certificateOwnershipToken) => {
          const value = { certificateId, certificatePem, privateKey, certificateOwnershipToken };
          assert.deepEqual(parseCreateKeysAndCertificateResponse(f, encodeCreateKeysAndCertificateResponse(f, value)), value);
        },
      ),
      { numRuns: 300, seed: SEED },
    );
  });

  it('for CreateCertificateFromCsr responses', () => {
    fc.assert(
      fc.property(format, nonEmptyText, nonEmptyText, nonEmptyText, (f, certificateOwnershipToken, certificateId, certificatePem) => {
        const value = { certificateOwnershipToken, certificateId, certificatePem };
        assert.deepEqual(parseCreateCertificateFromCsrResponse(f, encodeCreateCertificateFromCsrResponse(f, value)), value);
      }),
      { numRuns: 300, seed: SEED },
    );
  });

  it('for RegisterThing responses', () => {
    fc.assert(
      fc.property(format, stringMap, fc.option(nonEmptyText, { nil: undefined }), (f, deviceConfiguration, thingName) => {
        const value = thingName === undefined ? { deviceConfiguration } : { deviceConfiguration, thingName };
        const parsed = parseRegisterThingResponse(f, encodeRegisterThingResponse(f, value));
        // fc.dictionary may build null-prototype objects, as our parsers do: compare entries.
        assert.deepEqual(
          { ...parsed, deviceConfiguration: { ...parsed.deviceConfiguration } },
          { ...value, deviceConfiguration: { ...deviceConfiguration } },
        );
      }),
      { numRuns: 300, seed: SEED },
    );
  });

  it('for error responses', () => {
    fc.assert(
      fc.property(format, fc.integer({ min: 100, max: 599 }), nonEmptyText, text, (f, statusCode, errorCode, errorMessage) => {
        const value = { statusCode, errorCode, errorMessage };
        assert.deepEqual(parseErrorResponse(f, encodeErrorResponse(f, value)), value);
      }),
      { numRuns: 300, seed: SEED },
    );
  });

  it('for RegisterThing requests', () => {
    fc.assert(
      fc.property(format, nonEmptyText, fc.dictionary(safeKey, text, { maxKeys: 8 }), (f, certificateOwnershipToken, parameters) => {
        const parsed = parseRegisterThingRequest(f, encodeRegisterThingRequest(f, { certificateOwnershipToken, parameters }));
        assert.equal(parsed.certificateOwnershipToken, certificateOwnershipToken);
        assert.deepEqual({ ...parsed.parameters }, { ...parameters });
      }),
      { numRuns: 300, seed: SEED },
    );
  });

  it('for arbitrary JSON data through the generic codec', () => {
    fc.assert(
      fc.property(format, fc.jsonValue({ maxDepth: 4 }), (f, value) => {
        let decoded: unknown;
        try {
          decoded = decodePayload(f, encodePayload(f, value as never));
        } catch (err) {
          // Only prototype keys may be refused, and only with a ProtocolError.
          assert.ok(err instanceof ProtocolError && /is not allowed/.test(err.message), String(err));
          return;
        }
        // JSON has no -0; CBOR keeps it. Compare through JSON text.
        assert.equal(JSON.stringify(decoded), JSON.stringify(value));
      }),
      { numRuns: 400, seed: SEED },
    );
  });
});

describe('formats stay independent', () => {
  it('a JSON payload is not valid CBOR for request parsers and vice versa', () => {
    const jsonBuf = encodePayload('json', { certificateOwnershipToken: 't' });
    assert.throws(() => parseRegisterThingRequest('cbor', jsonBuf), ProtocolError);
    const cborBuf = encodePayload('cbor', { certificateOwnershipToken: 't' });
    assert.throws(() => parseRegisterThingRequest('json', cborBuf), ProtocolError);
    for (const f of FORMATS)
      assert.equal(parseRegisterThingRequest(f, encodePayload(f, { certificateOwnershipToken: 't' })).certificateOwnershipToken, 't');
  });
});
