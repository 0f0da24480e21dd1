import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkClientId,
  checkTopicName,
  HOOK_TIMEOUT_MS,
  isValidCertificateId,
  isValidThingName,
  KEEPALIVE_DEFAULT_SECONDS,
  KEEPALIVE_MAX_SECONDS,
  KEEPALIVE_MIN_SECONDS,
  MAX_CLIENT_ID_BYTES,
  MAX_CSR_CHARS,
  MAX_PAYLOAD_BYTES,
  MAX_TEMPLATE_BODY_CHARS,
  MAX_TOPIC_BYTES,
  MAX_TOPIC_FILTERS_PER_SUBSCRIBE,
  MAX_TOPIC_LEVELS,
  normalizeKeepAlive,
  TEMPORARY_CLAIM_LIFETIME_MS,
  TOKEN_LIFETIME_MS,
} from '../src/index.js';

describe('limit constants', () => {
  it('match AWS IoT Core quotas', () => {
    assert.equal(MAX_PAYLOAD_BYTES, 131072);
    assert.equal(MAX_CLIENT_ID_BYTES, 128);
    assert.equal(MAX_TOPIC_BYTES, 256);
    assert.equal(MAX_TOPIC_LEVELS, 8);
    assert.equal(KEEPALIVE_MIN_SECONDS, 30);
    assert.equal(KEEPALIVE_MAX_SECONDS, 1200);
    assert.equal(KEEPALIVE_DEFAULT_SECONDS, 1200);
    assert.equal(MAX_TOPIC_FILTERS_PER_SUBSCRIBE, 8);
    assert.equal(MAX_TEMPLATE_BODY_CHARS, 10240);
    assert.equal(MAX_CSR_CHARS, 4096);
    assert.equal(TOKEN_LIFETIME_MS, 3_600_000);
    assert.equal(HOOK_TIMEOUT_MS, 5000);
    assert.equal(TEMPORARY_CLAIM_LIFETIME_MS, 300_000);
  });
});

describe('checkTopicName', () => {
  it('accepts ordinary and provisioning topics', () => {
    assert.equal(checkTopicName('$aws/provisioning-templates/T/provision/json/accepted'), null);
    assert.equal(checkTopicName('a/b/c/d/e/f/g/h'), null); // 8 levels
    assert.equal(checkTopicName('x'.repeat(256)), null);
  });

  it('rejects too many levels', () => {
    const reason = checkTopicName('a/b/c/d/e/f/g/h/i');
    assert.match(reason ?? '', /9 levels .*maximum is 8/);
  });

  it('does not count the $aws/rules/<rule>/ prefix', () => {
    assert.equal(checkTopicName('$aws/rules/myRule/a/b/c/d/e/f/g/h'), null);
    assert.notEqual(checkTopicName('$aws/rules/myRule/a/b/c/d/e/f/g/h/i'), null);
  });

  it('counts UTF-8 bytes, not characters', () => {
    assert.equal(checkTopicName('é'.repeat(128)), null); // 256 bytes
    assert.match(checkTopicName('é'.repeat(129)) ?? '', /258 bytes; the maximum is 256/);
    assert.match(checkTopicName('x'.repeat(257)) ?? '', /257 bytes/);
  });

  it('rejects empty names, wildcards, NUL and lone surrogates', () => {
    assert.notEqual(checkTopicName(''), null);
    assert.match(checkTopicName('a/+/b') ?? '', /wildcard/);
    assert.match(checkTopicName('a/#') ?? '', /wildcard/);
    assert.match(checkTopicName('a\u0000b') ?? '', /U\+0000/);
    assert.match(checkTopicName('a\uD800b') ?? '', /UTF-8/);
  });
});

describe('checkClientId', () => {
  it('accepts ids up to 128 bytes', () => {
    assert.equal(checkClientId('fleet-provisioning-1a2b3c4d'), null);
    assert.equal(checkClientId('x'.repeat(128)), null);
  });

  it('rejects long, empty, $-prefixed and malformed ids', () => {
    assert.match(checkClientId('x'.repeat(129)) ?? '', /129 bytes; the maximum is 128/);
    assert.match(checkClientId('€'.repeat(43)) ?? '', /129 bytes/);
    assert.notEqual(checkClientId(''), null);
    assert.match(checkClientId('$reserved') ?? '', /reserved/);
    assert.notEqual(checkClientId('a\u0000'), null);
    assert.notEqual(checkClientId('\uDC00'), null);
  });
});

describe('normalizeKeepAlive', () => {
  it('follows the AWS rules', () => {
    assert.equal(normalizeKeepAlive(0), 1200);
    assert.equal(normalizeKeepAlive(1), 30);
    assert.equal(normalizeKeepAlive(29), 30);
    assert.equal(normalizeKeepAlive(30), 30);
    assert.equal(normalizeKeepAlive(60), 60);
    assert.equal(normalizeKeepAlive(1200), 1200);
    assert.equal(normalizeKeepAlive(1201), 1200);
    assert.equal(normalizeKeepAlive(65535), 1200);
  });

  it('handles odd inputs without throwing', () => {
    assert.equal(normalizeKeepAlive(-5), 1200);
    assert.equal(normalizeKeepAlive(Number.NaN), 1200);
    assert.equal(normalizeKeepAlive(Infinity), 1200);
    assert.equal(normalizeKeepAlive(45.9), 45);
  });
});

describe('identifier helpers', () => {
  it('validate thing names', () => {
    assert.equal(isValidThingName('FPTemplateName-abc:1_2'), true);
    assert.equal(isValidThingName('x'.repeat(128)), true);
    assert.equal(isValidThingName('x'.repeat(129)), false);
    assert.equal(isValidThingName(''), false);
    assert.equal(isValidThingName('a b'), false);
    assert.equal(isValidThingName('a/b'), false);
  });

  it('validate certificate ids', () => {
    assert.equal(isValidCertificateId('a'.repeat(64)), true);
    assert.equal(isValidCertificateId('0123456789abcdefABCDEF'.padEnd(64, '0')), true);
    assert.equal(isValidCertificateId('a'.repeat(63)), false);
    assert.equal(isValidCertificateId('g'.repeat(64)), false);
    assert.equal(isValidCertificateId(42), false);
  });
});
