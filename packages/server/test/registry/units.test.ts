/**
 * Pure parts of the registry: cursors, page sizes, input checks, ARNs, error classification.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { ArnBuilder, parseIotArn } from '../../src/registry/arn.js';
import { insertUnique } from '../../src/registry/context.js';
import { cutPage, decodeCursor, encodeCursor, MAX_CURSOR_LENGTH, pageSize } from '../../src/registry/cursor.js';
import {
  alreadyExists,
  isForeignKeyViolation,
  isRegistryError,
  isRetryableTransactionError,
  isUniqueViolation,
  RegistryError,
} from '../../src/registry/errors.js';
import { dialectOf } from '../../src/registry/open.js';
import * as v from '../../src/registry/validate.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof RegistryError ? err.code : `not a RegistryError: ${String(err)}`;
  }
  return undefined;
}

describe('registry cursor', () => {
  test('round-trips keys and rejects anything else', () => {
    const token = encodeCursor('things', ['a"b', 42]);
    assert.match(token, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodeCursor('things', token, 'sn'), ['a"b', 42]);
    assert.equal(decodeCursor('things', undefined, 's'), null);
    assert.equal(decodeCursor('things', '', 's'), null);
    const bad = [
      () => decodeCursor('certs', token, 'sn'), // another list
      () => decodeCursor('things', token, 'ss'), // another shape
      () => decodeCursor('things', token, 's'), // another length
      () => decodeCursor('things', 'not base64!', 's'),
      () => decodeCursor('things', Buffer.from('not json').toString('base64url'), 's'),
      () => decodeCursor('things', Buffer.from('{"k":"things","v":[1.5]}').toString('base64url'), 'n'),
      () => decodeCursor('things', Buffer.from('{"k":"things","v":{"0":"a"}}').toString('base64url'), 's'),
      () => decodeCursor('things', 'A'.repeat(MAX_CURSOR_LENGTH + 1), 's'),
      () => decodeCursor('things', 42, 's'),
    ];
    for (const fn of bad) assert.equal(code(fn), 'InvalidRequest');
  });

  test('page sizes are bounded and pages cut at size + 1', () => {
    assert.equal(pageSize(undefined, 'n'), 25);
    assert.equal(pageSize(250, 'n'), 250);
    for (const bad of [0, 251, 1.5, '10', Number.POSITIVE_INFINITY])
      assert.equal(
        code(() => pageSize(bad, 'n')),
        'InvalidRequest',
      );
    assert.deepEqual(
      cutPage([1, 2, 3], 3, (x) => [x]),
      { items: [1, 2, 3] },
    );
    assert.deepEqual(
      cutPage([1, 2, 3, 4], 3, (x) => [x]),
      { items: [1, 2, 3], nextKey: [3] },
    );
  });
});

describe('registry input checks', () => {
  test('text refuses NUL, lone surrogates, non-strings and oversize values', () => {
    assert.equal(v.text('ok 🎉 \u00e9', 'f'), 'ok 🎉 \u00e9');
    for (const bad of ['a\u0000b', '\uD800', 'x\uDFFFy', 42, null, 'abcd']) {
      assert.equal(
        code(() => v.text(bad, 'f', 3)),
        'InvalidRequest',
        JSON.stringify(bad),
      );
    }
    assert.equal(
      code(() => v.name('', 'f')),
      'InvalidRequest',
    );
    assert.equal(v.certificateId('a'.repeat(64)), 'a'.repeat(64));
    assert.equal(
      code(() => v.certificateId('A'.repeat(64))),
      'InvalidRequest',
    );
    assert.equal(v.serialHex('0A'), '0a');
    assert.equal(
      code(() => v.epochMs(8.64e15 + 1, 'f')),
      'InvalidRequest',
    );
  });

  test('attributes keep __proto__ as data and drop empty values on request', () => {
    const input = JSON.parse('{"__proto__":"x","a":"","b":"1"}') as unknown;
    const out = v.attributes(input, 'attrs', true);
    assert.ok(Object.hasOwn(out, '__proto__'));
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.keys(out).sort(), ['__proto__', 'b']);
    assert.equal(Object.hasOwn(v.attributes({ a: '' }, 'attrs', false), 'a'), true);
    for (const bad of [null, [], 'x', { a: 1 }, { a: null }])
      assert.equal(
        code(() => v.attributes(bad, 'attrs', true)),
        'InvalidRequest',
      );
    assert.deepEqual(v.parseAttributes('{"a":"1","n":2}'), { a: '1' });
  });

  test('jsonText refuses what JSON cannot hold', () => {
    assert.equal(v.jsonText({ a: [1] }, 'd'), '{"a":[1]}');
    const cyclic: Record<string, unknown> = {};
    cyclic.me = cyclic;
    for (const bad of [cyclic, { n: 10n }, undefined, () => 1])
      assert.equal(
        code(() => v.jsonText(bad, 'd')),
        'InvalidRequest',
      );
  });
});

describe('registry ARNs and options', () => {
  test('builds and parses IoT ARNs', () => {
    const arns = new ArnBuilder('eu-central-1', '123456789012');
    assert.equal(arns.certificate('ab'), 'arn:aws:iot:eu-central-1:123456789012:cert/ab');
    assert.equal(arns.provisioningTemplate('t'), 'arn:aws:iot:eu-central-1:123456789012:provisioningtemplate/t');
    assert.equal(arns.thingGroup('g'), 'arn:aws:iot:eu-central-1:123456789012:thinggroup/g');
    assert.equal(arns.caCertificate('c'), 'arn:aws:iot:eu-central-1:123456789012:cacert/c');
    assert.deepEqual(parseIotArn('arn:aws:iot:us-east-1:000000000000:thing/a/b'), {
      region: 'us-east-1',
      accountId: '000000000000',
      resourceType: 'thing',
      resourceName: 'a/b',
    });
    assert.equal(parseIotArn('arn:aws:s3:::bucket'), null);
    assert.equal(parseIotArn('x'.repeat(5000)), null);
    assert.throws(() => new ArnBuilder('us-east-1', '123'), TypeError);
  });

  test('the location picks the dialect', () => {
    assert.equal(dialectOf('postgres://u@h/db'), 'postgres');
    assert.equal(dialectOf('POSTGRESQL://u@h/db'), 'postgres');
    assert.equal(dialectOf('/var/lib/fleetprov/registry.db'), 'sqlite');
    assert.equal(dialectOf(':memory:'), 'sqlite');
    assert.equal(dialectOf('postgres.db'), 'sqlite');
  });
});

describe('registry errors', () => {
  test('classifies real better-sqlite3 constraint errors and pg error codes', async () => {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    db.exec("create table p (id text primary key); create table c (pid text references p(id)); insert into p values ('x')");
    let unique: unknown;
    let foreign: unknown;
    try {
      db.exec("insert into p values ('x')");
    } catch (err) {
      unique = err;
    }
    try {
      db.exec("insert into c values ('nope')");
    } catch (err) {
      foreign = err;
    }
    db.close();
    assert.ok(isUniqueViolation(unique));
    assert.ok(!isForeignKeyViolation(unique));
    assert.ok(isForeignKeyViolation(foreign));
    assert.ok(isUniqueViolation({ code: '23505' }));
    assert.ok(isForeignKeyViolation({ code: '23503' }));
    assert.ok(isRetryableTransactionError({ code: '40001' }));
    assert.ok(isRetryableTransactionError({ code: '40P01' }));
    assert.ok(!isRetryableTransactionError({ code: '23505' }));
    for (const junk of [null, undefined, 'x', 42, { code: 5 }]) assert.ok(!isUniqueViolation(junk));

    const mapped = await insertUnique(
      () => Promise.reject(unique),
      (cause) => alreadyExists('thing', 'x', 'arn:x', cause),
    ).catch((err: unknown) => err);
    assert.ok(isRegistryError(mapped, 'ResourceAlreadyExists'));
    assert.equal(mapped.resourceId, 'x');
    assert.equal(mapped.resourceArn, 'arn:x');
    assert.equal(mapped.cause, unique);
    const passed = await insertUnique(
      () => Promise.reject(new Error('other')),
      () => new Error('should not map'),
    ).catch((err: unknown) => err);
    assert.equal((passed as Error).message, 'other');
  });
});
