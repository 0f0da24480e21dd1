import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodePayload,
  encodePayload,
  MAX_NESTING_DEPTH,
  MAX_PAYLOAD_BYTES,
  ProtocolError,
  type PayloadFormat,
  type WireValue,
} from '../src/index.js';
import { array, bytes, chunkedText, FALSE, head, indefiniteMap, map, NULL, text, TRUE, uint, UNDEFINED } from './cbor-bytes.js';

/** Asserts `fn` throws a ProtocolError with the given code and a message matching `pattern`. */
function rejects(fn: () => unknown, pattern: RegExp, code = 'InvalidPayload'): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ProtocolError, `expected ProtocolError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
}

const FORMATS: PayloadFormat[] = ['json', 'cbor'];

describe('codec round trips', () => {
  const samples: WireValue[] = [
    {},
    { certificateOwnershipToken: 'tok', parameters: { SerialNumber: 'ABC-1', 'odd key': 'é😀' } },
    { statusCode: 400, errorCode: 'InvalidPayload', errorMessage: 'fix it' },
    { list: [1, -2, 3.5, true, false, null, 'x'], nested: { a: { b: {} } } },
    'just a string',
    0,
    [],
  ];
  for (const format of FORMATS) {
    it(`decode(encode(x)) is x in ${format}`, () => {
      for (const value of samples) {
        const decoded = decodePayload(format, encodePayload(format, value));
        assert.deepEqual(JSON.parse(JSON.stringify(decoded)), value);
      }
    });
  }

  it('encodes JSON as UTF-8 JSON text', () => {
    assert.equal(encodePayload('json', { a: 'é' }).toString('utf8'), '{"a":"é"}');
  });

  it('encodes CBOR maps with text keys and minimal headers', () => {
    assert.deepEqual([...encodePayload('cbor', { a: 'b' })], [0xa1, 0x61, 0x61, 0x61, 0x62]);
    assert.deepEqual([...encodePayload('cbor', {})], [0xa0]);
  });

  it('does not let a later encode overwrite an earlier result', () => {
    const first = encodePayload('cbor', { a: 'first' });
    const copy = Buffer.from(first);
    for (let i = 0; i < 50; i++) encodePayload('cbor', { b: 'x'.repeat(i * 100) });
    assert.deepEqual(first, copy);
  });

  it('decodes maps to null-prototype objects', () => {
    for (const format of FORMATS) {
      const decoded = decodePayload(format, encodePayload(format, { a: { b: 1 } })) as Record<string, Record<string, number>>;
      assert.equal(Object.getPrototypeOf(decoded), null);
      assert.equal(Object.getPrototypeOf(decoded.a), null);
      assert.equal((decoded as Record<string, unknown>).toString, undefined);
    }
  });

  it('refuses to encode oversize or unencodable values', () => {
    rejects(() => encodePayload('json', 'x'.repeat(MAX_PAYLOAD_BYTES)), /131074 bytes; the maximum is 131072/, 'InternalFailure');
    rejects(() => encodePayload('cbor', 'x'.repeat(MAX_PAYLOAD_BYTES)), /the maximum is 131072/, 'InternalFailure');
    rejects(() => encodePayload('json', undefined as unknown as WireValue), /cannot encode/, 'InternalFailure');
    rejects(() => encodePayload('yaml' as PayloadFormat, {}), /format/, 'InternalFailure');
  });
});

describe('hand-built CBOR', () => {
  it('accepts an indefinite-length (chunked) text string', () => {
    assert.equal(decodePayload('cbor', bytes(chunkedText('ab', 'c', '', 'dé'))), 'abcdé');
    assert.equal(decodePayload('cbor', bytes([0x7f, 0xff])), '');
  });

  it('accepts an indefinite-length map with chunked keys and values', () => {
    const payload = bytes(
      indefiniteMap(
        [chunkedText('certificateOwner', 'shipToken'), chunkedText('tok', 'en')],
        [text('parameters'), indefiniteMap([text('SerialNumber'), chunkedText('SN-', '42')])],
      ),
    );
    assert.deepEqual(JSON.parse(JSON.stringify(decodePayload('cbor', payload))), {
      certificateOwnershipToken: 'token',
      parameters: { SerialNumber: 'SN-42' },
    });
  });

  it('accepts indefinite arrays, two-byte lengths and all scalar kinds', () => {
    const long = 'L'.repeat(300);
    const payload = bytes(
      map(
        [text('arr'), [0x9f, ...uint(1), ...TRUE, ...FALSE, ...NULL, 0xff]],
        [text('long'), text(long)],
        [text('neg'), [0x38, 0x63]], // -100
        [text('big'), [0x1b, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]], // 2^53-1
        [text('half'), [0xf9, 0x3e, 0x00]], // 1.5
        [text('single'), [0xfa, 0x47, 0xc3, 0x50, 0x00]], // 100000
        [text('double'), [0xfb, 0x3f, 0xf1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a]], // 1.1
      ),
    );
    const decoded = decodePayload('cbor', payload) as Record<string, unknown>;
    assert.deepEqual(decoded.arr, [1, true, false, null]);
    assert.equal(decoded.long, long);
    assert.equal(decoded.neg, -100);
    assert.equal(decoded.big, Number.MAX_SAFE_INTEGER);
    assert.equal(decoded.half, 1.5);
    assert.equal(decoded.single, 100000);
    assert.equal(decoded.double, 1.1);
  });

  it('decodes what the embedded C demo (tinyCBOR) sends', () => {
    const payload = bytes(
      map([text('certificateOwnershipToken'), text('abc')], [text('parameters'), map([text('SerialNumber'), text('123')])]),
    );
    assert.deepEqual(JSON.parse(JSON.stringify(decodePayload('cbor', payload))), {
      certificateOwnershipToken: 'abc',
      parameters: { SerialNumber: '123' },
    });
  });

  it('decodes the RFC 8949 bytes another encoder writes', () => {
    const value = { a: ['x', 1, null], b: { c: 'd' } };
    const bytes = Buffer.from('a2616183617801f66162a161636164', 'hex');
    assert.deepEqual(JSON.parse(JSON.stringify(decodePayload('cbor', bytes))), value);
  });

  const rejections: Array<[string, number[], RegExp]> = [
    ['a tag', [0xc0, ...text('2020-01-01')], /tags are not allowed/],
    ['a tag inside a map', map([text('a'), [0xc1, 0x00]]), /at a: CBOR tags are not allowed/],
    ['undefined', map([text('a'), UNDEFINED]), /at a: undefined is not allowed/],
    ['a byte string', map([text('token'), [0x43, 1, 2, 3]]), /at token: byte strings are not allowed/],
    ['an indefinite byte string', [0x5f, 0x41, 0x00, 0xff], /byte strings are not allowed/],
    ['a byte-string chunk in a text string', [0x7f, 0x41, 0x61, 0xff], /chunks .* must be definite-length text strings/],
    ['a nested indefinite chunk', [0x7f, 0x7f, 0xff, 0xff], /must be definite-length text strings/],
    ['an integer map key', map([uint(1), text('x')]), /map keys must be text strings/],
    ['a byte-string map key', [0xa1, 0x41, 0x61, 0x00], /map keys must be text strings/],
    ['invalid UTF-8', [0x62, 0xc3, 0x28], /not valid UTF-8/],
    ['a UTF-8 sequence split across chunks', [0x7f, 0x61, 0xc3, 0x61, 0xa9, 0xff], /not valid UTF-8/],
    ['a simple value', [0xe0], /simple value 0 is not allowed/],
    ['a one-byte simple value', [0xf8, 0x20], /simple value .* is not allowed/],
    ['a stray break', [0xff], /unexpected break/],
    ['reserved additional info', [0x1c], /reserved additional information/],
    ['an indefinite integer', [0x1f], /indefinite length/],
    ['a huge unsigned integer', [0x1b, 0, 0x20, 0, 0, 0, 0, 0, 0], /safe range/],
    ['a huge negative integer', [0x3b, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], /safe range/],
    ['trailing bytes', [...map(), 0x00], /1 trailing byte/],
    ['two items', [...text('a'), ...text('b')], /trailing byte/],
    ['a truncated string', [0x65, 0x61, 0x62], /unexpected end of data/],
    ['a truncated map', [0xa2, ...text('a'), 0x01], /unexpected end of data/],
    ['an unterminated indefinite map', [0xbf, ...text('a'), 0x01], /unexpected end of data/],
    ['an unterminated chunked string', [0x7f, ...text('a')], /unexpected end of data/],
    ['a huge declared array', [0x9b, 0, 0, 0, 1, 0, 0, 0, 0], /unexpected end of data/],
    ['a huge declared map', [0xba, 0xff, 0xff, 0xff, 0xff], /unexpected end of data/],
    ['a huge declared string', [0x7a, 0xff, 0xff, 0xff, 0xff], /unexpected end of data/],
    ['a truncated float', [0xfb, 0x00], /unexpected end of data/],
  ];
  for (const [label, input, pattern] of rejections) {
    it(`rejects ${label}`, () => rejects(() => decodePayload('cbor', Buffer.from(input)), pattern));
  }

  it('reports the path of a bad value', () => {
    const payload = bytes(map([text('parameters'), map([text('k'), array(uint(1), [0xf7])])]));
    assert.throws(
      () => decodePayload('cbor', payload),
      (err: unknown) => err instanceof ProtocolError && err.path === 'parameters.k[1]',
    );
  });

  it('rejects an empty CBOR payload', () => {
    rejects(() => decodePayload('cbor', Buffer.alloc(0)), /payload is empty/);
  });
});

describe('JSON decoding', () => {
  it('accepts a leading BOM and surrounding whitespace', () => {
    assert.deepEqual({ ...(decodePayload('json', Buffer.from('\uFEFF {"a":1}\n')) as object) }, { a: 1 });
  });

  it('rejects non-UTF-8 bytes', () => {
    rejects(() => decodePayload('json', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])), /not valid UTF-8/);
    rejects(() => decodePayload('json', Buffer.from('"\u00e9"', 'latin1')), /not valid UTF-8/);
  });

  it('rejects trailing garbage and syntax errors', () => {
    rejects(() => decodePayload('json', Buffer.from('{"a":1} x')), /not valid JSON/);
    rejects(() => decodePayload('json', Buffer.from('{"a":1}{}')), /not valid JSON/);
    rejects(() => decodePayload('json', Buffer.from("{'a':1}")), /not valid JSON/);
    rejects(() => decodePayload('json', Buffer.from('{"a":1,}')), /not valid JSON/);
  });

  it('rejects empty and blank payloads', () => {
    rejects(() => decodePayload('json', Buffer.alloc(0)), /payload is empty/);
    rejects(() => decodePayload('json', Buffer.from(' \r\n\t')), /payload is empty/);
  });

  it('rejects unpaired surrogate escapes', () => {
    rejects(() => decodePayload('json', Buffer.from('{"a":"\\ud800"}')), /unpaired UTF-16 surrogate escape at a/);
    rejects(() => decodePayload('json', Buffer.from('{"\\udc00":"x"}')), /unpaired/);
    assert.equal(decodePayload('json', Buffer.from('"\\ud83d\\ude00"')), '😀');
  });

  it('ignores brackets inside strings when measuring depth', () => {
    const value = { a: '[{'.repeat(100), b: 'x\\"[[[' };
    assert.deepEqual({ ...(decodePayload('json', Buffer.from(JSON.stringify(value))) as object) }, value);
  });

  it('rejects a payload that is not bytes', () => {
    rejects(() => decodePayload('json', '{}' as unknown as Buffer), /must be bytes/);
  });
});

describe('size and depth bounds', () => {
  for (const format of FORMATS) {
    it(`accepts exactly ${MAX_PAYLOAD_BYTES} bytes and rejects one more (${format})`, () => {
      const fits = encodePayload(format, { a: 'x'.repeat(MAX_PAYLOAD_BYTES - 8 /* {"a":""} or a1 61 61 7a + 4-byte length */) });
      assert.equal(fits.length, MAX_PAYLOAD_BYTES);
      assert.ok(decodePayload(format, fits));
      const over = Buffer.concat([fits, Buffer.from(' ')]);
      rejects(() => decodePayload(format, over), /131073 bytes; the maximum is 131072/);
    });

    it(`accepts ${MAX_NESTING_DEPTH} levels of nesting and rejects ${MAX_NESTING_DEPTH + 1} (${format})`, () => {
      let value: WireValue = 1;
      for (let i = 0; i < MAX_NESTING_DEPTH; i++) value = i % 2 === 0 ? [value] : { k: value };
      assert.ok(decodePayload(format, encodePayload(format, value)));
      rejects(() => decodePayload(format, encodePayload(format, [value])), /deeper than 32 levels/);
    });
  }

  it('rejects very deep JSON without overflowing the stack', () => {
    rejects(() => decodePayload('json', Buffer.from('['.repeat(60_000) + ']'.repeat(60_000))), /deeper than 32/);
    rejects(() => decodePayload('json', Buffer.from('{"a":'.repeat(25_000))), /deeper than 32/);
  });

  it('rejects very deep CBOR without overflowing the stack', () => {
    rejects(() => decodePayload('cbor', Buffer.from([...new Array(100_000).fill(0x81), 0x00])), /deeper than 32/);
    rejects(() => decodePayload('cbor', Buffer.from(new Array(100_000).fill(0x9f))), /deeper than 32/);
    const deepMaps = [...new Array(1000).fill(0).flatMap(() => [0xa1, 0x61, 0x6b]), 0x00];
    rejects(() => decodePayload('cbor', Buffer.from(deepMaps)), /deeper than 32/);
  });
});

describe('prototype-pollution keys', () => {
  const keys = ['__proto__', 'constructor', 'prototype'];
  for (const key of keys) {
    it(`rejects "${key}" at any depth in JSON`, () => {
      rejects(() => decodePayload('json', Buffer.from(`{"${key}":{"polluted":true}}`)), new RegExp(`the key "${key}" is not allowed`));
      rejects(
        () => decodePayload('json', Buffer.from(`{"parameters":{"${key}":"x"}}`)),
        new RegExp(`the key "${key}" is not allowed at parameters`),
      );
      rejects(() => decodePayload('json', Buffer.from(`[{"${key}":1}]`)), /not allowed at \[0\]/);
    });

    it(`rejects "${key}" at any depth in CBOR (also when chunked)`, () => {
      rejects(() => decodePayload('cbor', bytes(map([text(key), map()]))), new RegExp(`the key "${key}" is not allowed`));
      rejects(
        () =>
          decodePayload('cbor', bytes(map([text('parameters'), indefiniteMap([chunkedText(key.slice(0, 3), key.slice(3)), text('x')])]))),
        /not allowed/,
      );
    });
  }

  it('never pollutes Object.prototype', () => {
    for (const format of FORMATS) {
      const payload =
        format === 'json' ? Buffer.from('{"__proto__":{"polluted":1}}') : bytes(map([text('__proto__'), map([text('polluted'), uint(1)])]));
      try {
        decodePayload(format, payload);
      } catch {
        // expected
      }
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    }
  });

  it('allows keys that merely contain the words', () => {
    const decoded = decodePayload('json', Buffer.from('{"myconstructor":"a","__proto":"b","Prototype":"c"}'));
    assert.deepEqual({ ...(decoded as object) }, { myconstructor: 'a', __proto: 'b', Prototype: 'c' });
  });
});

describe('head helper sanity', () => {
  it('builds the CBOR heads the tests rely on', () => {
    assert.deepEqual(head(3, 23), [0x77]);
    assert.deepEqual(head(3, 24), [0x78, 24]);
    assert.deepEqual(head(4, 300), [0x99, 0x01, 0x2c]);
  });
});

describe('CBOR encoder (own, no native addon)', () => {
  it('writes the canonical bytes for each kind of value', () => {
    const hex = (v: WireValue) => encodePayload('cbor', v).toString('hex');
    assert.equal(hex({ a: 'b' }), 'a161616162');
    assert.equal(hex(0), '00');
    assert.equal(hex(23), '17');
    assert.equal(hex(24), '1818');
    assert.equal(hex(256), '190100');
    assert.equal(hex(65536), '1a00010000');
    assert.equal(hex(2 ** 32), '1b0000000100000000');
    assert.equal(hex(-1), '20');
    assert.equal(hex(-500), '3901f3');
    assert.equal(hex(1.5), 'fb3ff8000000000000');
    assert.equal(hex(true), 'f5');
    assert.equal(hex(false), 'f4');
    assert.equal(hex(null), 'f6');
    assert.equal(hex('ü'), '62c3bc');
    assert.equal(hex([1, 'a']), '82016161');
    assert.equal(hex({ statusCode: 400 }), 'a16a737461747573436f6465190190');
  });

  it('round-trips every kind of value through the decoder', () => {
    const value: WireValue = { certificateId: 'a'.repeat(64), n: -7, f: 0.25, ok: true, none: null, list: ['x', 1], nested: { k: 'v' } };
    assert.deepEqual(JSON.parse(JSON.stringify(decodePayload('cbor', encodePayload('cbor', value)))), value);
  });
});
