/**
 * Request-body JSON parsing and query-string parsing: the untrusted-input edges.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ApiError } from '../../src/api/errors.js';
import { parseJsonBody } from '../../src/api/json-body.js';
import { MAX_QUERY_PARAMETERS, parseQueryPairs, parseQueryString } from '../../src/api/querystring.js';

// Fixed seed: property tests explore many inputs but run the same way every time.
fc.configureGlobal({ seed: 0x5167_4a11 });

const utf8 = (s: string) => Buffer.from(s, 'utf8');

function invalid(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApiError);
    assert.equal(err.errorType, 'InvalidRequestException');
    return err;
  }
  assert.fail('expected InvalidRequestException');
}

describe('parseJsonBody', () => {
  it('parses JSON, including a plain "constructor" attribute and brackets inside strings', () => {
    assert.deepEqual(parseJsonBody(utf8('{"attributes":{"constructor":"x"},"s":"[[[{{{\\"]]]"}')), {
      attributes: { constructor: 'x' },
      s: '[[[{{{"]]]',
    });
  });

  it('allows exactly the depth limit and refuses one more', () => {
    const nested = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    assert.deepEqual(parseJsonBody(utf8(nested(3)), 3), [[[]]]);
    assert.match(invalid(() => parseJsonBody(utf8(nested(4)), 3)).message, /deeper than 3 levels/);
  });

  it('refuses __proto__ anywhere and constructor.prototype', () => {
    invalid(() => parseJsonBody(utf8('{"a":[{"__proto__":{"polluted":1}}]}')));
    invalid(() => parseJsonBody(utf8('{"constructor":{"prototype":{}}}')));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('never throws anything but InvalidRequestException on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          parseJsonBody(bytes);
        } catch (err) {
          assert.ok(err instanceof ApiError && err.errorType === 'InvalidRequestException');
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseQueryString', () => {
  it('decodes %XX but keeps + as +, groups repeated names, keeps malformed escapes verbatim', () => {
    const q = parseQueryString('a=x%2By+z&b=%20&a=2&bad=%E0%A4%A&flag&&=v');
    assert.equal(Object.getPrototypeOf(q), null);
    assert.deepEqual({ ...q }, { a: ['x+y+z', '2'], b: ' ', bad: '%E0%A4%A', flag: '', '': 'v' });
  });

  it('treats __proto__ as an ordinary name', () => {
    const q = parseQueryString('__proto__=x&constructor=y');
    assert.equal(q.__proto__, 'x');
    assert.equal(q.constructor, 'y');
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });

  it(`keeps at most ${MAX_QUERY_PARAMETERS} parameters`, () => {
    const raw = Array.from({ length: MAX_QUERY_PARAMETERS + 50 }, (_, i) => `p${i}=${i}`).join('&');
    const pairs = parseQueryPairs(raw);
    assert.equal(pairs.length, MAX_QUERY_PARAMETERS);
    assert.deepEqual(pairs.at(-1), { name: `p${MAX_QUERY_PARAMETERS - 1}`, value: String(MAX_QUERY_PARAMETERS - 1) });
  });

  it('round-trips values encoded the way the AWS SDK encodes them', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (name, value) => {
        fc.pre(name !== '');
        const q = parseQueryString(`${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
        assert.equal(q[name], value);
      }),
      { numRuns: 300 },
    );
  });
});
