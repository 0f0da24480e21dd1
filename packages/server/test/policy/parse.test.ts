import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AWS_MAX_CHARS, DEFAULT_MAX_CHARS, evaluatePolicies, parsePolicy, policyToDocument, PolicyError } from '../../src/policy/index.js';
import { doc, fixtureText } from './helpers.js';

const ALLOW_ALL = { Effect: 'Allow', Action: 'iot:*', Resource: '*' };

/** Asserts that parsing throws a PolicyError at `path` whose message contains `text`. */
function rejects(document: unknown, path: string, text: string | RegExp, opts?: { maxChars?: number }): PolicyError {
  let caught: unknown;
  try {
    parsePolicy(document as object, opts);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof PolicyError, `expected PolicyError, got ${String(caught)}`);
  assert.equal(caught.code, 'MalformedPolicy');
  assert.equal(caught.path, path);
  if (typeof text === 'string') assert.ok(caught.message.includes(text), caught.message);
  else assert.match(caught.message, text);
  return caught;
}

test('the three example policies parse without warnings', () => {
  for (const name of ['claim-policy', 'device-policy', 'full-citizen-policy'] as const) {
    const p = parsePolicy(fixtureText(name));
    assert.equal(p.version, '2012-10-17');
    assert.ok(p.statements.length >= 3);
    assert.deepEqual(p.warnings, [], name);
  }
});

test('statement fields are exposed as parsed data', () => {
  const p = parsePolicy(
    doc(
      { Sid: 'Pub', Effect: 'Allow', Action: 'iot:Publish', Resource: ['arn:aws:iot:r:1:topic/a'] },
      {
        Effect: 'Deny',
        NotAction: ['iot:Connect'],
        NotResource: 'arn:aws:iot:r:1:client/x',
        Condition: { Bool: { 'iot:Connection.Thing.IsAttached': true } },
      },
    ),
  );
  const [a, b] = p.statements;
  assert.deepEqual(
    { ...a },
    {
      index: 0,
      sid: 'Pub',
      effect: 'Allow',
      actions: ['iot:Publish'],
      notAction: false,
      resources: ['arn:aws:iot:r:1:topic/a'],
      notResource: false,
      conditions: [],
    },
  );
  assert.equal(b?.notAction, true);
  assert.equal(b?.notResource, true);
  assert.deepEqual(
    { ...b?.conditions[0] },
    {
      operator: 'Bool',
      base: 'Bool',
      qualifier: null,
      ifExists: false,
      key: 'iot:Connection.Thing.IsAttached',
      knownKey: true,
      values: ['true'],
    },
  );
  assert.ok(p.size > 0);
});

test('a single Statement object is accepted and paths say "Statement"', () => {
  const p = parsePolicy({ Version: '2012-10-17', Statement: ALLOW_ALL });
  assert.equal(p.statements.length, 1);
  rejects({ Version: '2012-10-17', Statement: { ...ALLOW_ALL, Effect: 'allow' } }, 'Statement.Effect', 'must be "Allow" or "Deny"');
});

test('malformed documents report where and what', () => {
  rejects('{"Statement": []', '', 'is not valid JSON');
  rejects('[]', '', 'must be a JSON object');
  rejects({ Statement: [ALLOW_ALL] }, 'Version', 'is required');
  rejects({ Version: '2020-01-01', Statement: [ALLOW_ALL] }, 'Version', '"2012-10-17"');
  rejects({ Version: '2012-10-17' }, 'Statement', 'is required');
  rejects({ Version: '2012-10-17', Statement: [] }, 'Statement', 'non-empty list');
  rejects({ Version: '2012-10-17', Statement: 'x' }, 'Statement', 'non-empty list');
  rejects({ Version: '2012-10-17', Statement: [ALLOW_ALL], Extra: 1 }, 'Extra', 'unknown policy element');
  rejects({ Version: '2012-10-17', Id: 5, Statement: [ALLOW_ALL] }, 'Id', 'must be a string');
  rejects(doc(ALLOW_ALL, 7 as unknown as Record<string, unknown>), 'Statement[1]', 'must be an object');
  rejects(doc(ALLOW_ALL, { ...ALLOW_ALL, Effect: 'Permit' }), 'Statement[1].Effect', 'Statement[1].Effect: must be "Allow" or "Deny"');
  rejects(doc({ Action: 'iot:*', Resource: '*' }), 'Statement[0].Effect', 'must be');
  rejects(doc({ ...ALLOW_ALL, Sid: 3 }), 'Statement[0].Sid', 'must be a string');
  rejects(doc({ ...ALLOW_ALL, Principal: '*' }), 'Statement[0].Principal', 'not supported');
  rejects(doc({ ...ALLOW_ALL, Foo: 1 }), 'Statement[0].Foo', 'unknown statement element');
  rejects(doc({ Effect: 'Allow', Resource: '*' }), 'Statement[0]', 'needs "Action"');
  rejects(doc({ ...ALLOW_ALL, NotAction: 'iot:Connect' }), 'Statement[0]', 'both "Action" and "NotAction"');
  rejects(doc({ Effect: 'Allow', Action: 'iot:*' }), 'Statement[0]', 'needs "Resource"');
  rejects(doc({ ...ALLOW_ALL, NotResource: '*' }), 'Statement[0]', 'both "Resource" and "NotResource"');
  rejects(doc({ ...ALLOW_ALL, Action: [] }), 'Statement[0].Action', 'non-empty list');
  rejects(doc({ ...ALLOW_ALL, Action: ['iot:Connect', 5] }), 'Statement[0].Action[1]', 'must be a string');
  rejects(doc({ ...ALLOW_ALL, Action: 'Publish' }), 'Statement[0].Action', 'is not an action');
  rejects(doc({ ...ALLOW_ALL, Action: ['iot:Connect', 'iot Publish'] }), 'Statement[0].Action[1]', 'is not an action');
  rejects(doc({ ...ALLOW_ALL, Resource: 'topic/a' }), 'Statement[0].Resource', 'must be "*" or an ARN');
  rejects(doc({ ...ALLOW_ALL, Resource: ['*', 'arn:aws:iot:r:a'] }), 'Statement[0].Resource[1]', 'must be "*" or an ARN');
  rejects(doc({ ...ALLOW_ALL, Resource: { a: 1 } }), 'Statement[0].Resource', 'non-empty list');
  rejects(doc({ ...ALLOW_ALL, NotResource: null, Resource: undefined }), 'Statement[0].NotResource', 'non-empty list');
});

test('malformed conditions report operator, key and value', () => {
  const withCond = (Condition: unknown): unknown => doc({ ...ALLOW_ALL, Condition });
  rejects(withCond([]), 'Statement[0].Condition', 'must be an object');
  rejects(withCond({ StringEqualz: { 'iot:ClientId': 'a' } }), 'Statement[0].Condition.StringEqualz', 'unknown condition operator');
  rejects(
    withCond({ 'ForSomeValues:StringLike': { k: 'a' } }),
    'Statement[0].Condition["ForSomeValues:StringLike"]',
    'unknown condition operator',
  );
  rejects(withCond({ NullIfExists: { k: 'true' } }), 'Statement[0].Condition.NullIfExists', 'unknown condition operator');
  rejects(withCond({ 'ForAnyValue:Null': { k: 'true' } }), 'Statement[0].Condition["ForAnyValue:Null"]', 'unknown condition operator');
  rejects(withCond({ StringEquals: 'x' }), 'Statement[0].Condition.StringEquals', 'must be an object');
  rejects(withCond({ StringEquals: {} }), 'Statement[0].Condition.StringEquals', 'must be an object');
  rejects(withCond({ StringEquals: { 'iot:ClientId': [] } }), 'Statement[0].Condition.StringEquals["iot:ClientId"]', 'empty list');
  rejects(
    withCond({ StringEquals: { 'iot:ClientId': null } }),
    'Statement[0].Condition.StringEquals["iot:ClientId"]',
    'string, number or boolean',
  );
  rejects(
    withCond({ StringEquals: { 'iot:ClientId': ['a', { b: 1 }] } }),
    'Statement[0].Condition.StringEquals["iot:ClientId"][1]',
    'string, number or boolean',
  );
  rejects(
    withCond({ NumericLessThan: { 'iot:Connection.Thing.Attributes[n]': 'ten' } }),
    'Statement[0].Condition.NumericLessThan["iot:Connection.Thing.Attributes[n]"]',
    'is not a number',
  );
  rejects(
    withCond({ IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '10.0.0.0/33'] } }),
    'Statement[0].Condition.IpAddress["aws:SourceIp"][1]',
    'not an IP address',
  );
  rejects(
    withCond({ Bool: { 'iot:Connection.Thing.IsAttached': 'yes' } }),
    'Statement[0].Condition.Bool["iot:Connection.Thing.IsAttached"]',
    '"true" or "false"',
  );
  rejects(withCond({ Null: { 'iot:ClientId': 'maybe' } }), 'Statement[0].Condition.Null["iot:ClientId"]', '"true"');
});

test('scalar condition values are converted to strings as IAM does', () => {
  const p = parsePolicy(
    doc({
      ...ALLOW_ALL,
      Condition: {
        NumericEquals: { 'iot:Connection.Thing.Attributes[n]': [3, '4.5'] },
        Bool: { 'iot:Connection.Thing.IsAttached': false },
      },
    }),
  );
  assert.deepEqual(
    p.statements[0]?.conditions.map((c) => c.values),
    [['3', '4.5'], ['false']],
  );
});

test('warnings flag legal but suspicious content', () => {
  const p = parsePolicy(
    doc(
      {
        Effect: 'Allow',
        Action: ['iot:Publishh', 'greengrass:*', 'iot:Get*'],
        Resource: 'arn:aws:iot:r:a:topic/${iot:ClientID}/${iot:Nope}',
      },
      { Effect: 'Allow', Action: 'iot:Connect', Resource: '*', Condition: { StringEquals: { 'iot:Unknown.Key': 'x' } } },
    ),
  );
  assert.equal(p.warnings.length, 3, p.warnings.join('\n'));
  assert.match(p.warnings[0] ?? '', /Statement\[0\]\.Action\[0\].*iot:Publishh.*not an AWS IoT data-plane action/);
  assert.match(p.warnings[1] ?? '', /Statement\[0\]\.Resource: unknown policy variable \$\{iot:Nope\}/);
  assert.match(p.warnings[2] ?? '', /unknown condition key "iot:Unknown.Key"/);
  assert.equal(p.statements[1]?.conditions[0]?.knownKey, false);
});

test('Version 2008-10-17 is accepted and keeps ${...} literal', () => {
  const p = parsePolicy({
    Version: '2008-10-17',
    Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: 'arn:aws:iot:r:a:topic/${iot:ClientId}' }],
  });
  assert.equal(p.version, '2008-10-17');
  assert.match(p.warnings[0] ?? '', /literal text/);
  const ps = [{ policyName: 'old', policy: p }];
  assert.equal(evaluatePolicies(ps, 'iot:Publish', 'topic/dev1', { clientId: 'dev1' }).allowed, false);
  assert.equal(evaluatePolicies(ps, 'iot:Publish', 'topic/${iot:ClientId}', { clientId: 'dev1' }).allowed, true);
});

test('size: maxChars counts characters excluding whitespace; default 20480, AWS quota opt-in', () => {
  assert.equal(DEFAULT_MAX_CHARS, 20480);
  const resource = `arn:aws:iot:r:a:topic/${'x'.repeat(1900)}`;
  const small = JSON.stringify(doc({ Effect: 'Allow', Action: 'iot:Publish', Resource: resource }), null, 8);
  const p = parsePolicy(small, { maxChars: AWS_MAX_CHARS });
  assert.equal(p.size, JSON.stringify(JSON.parse(small)).length);
  const big = JSON.stringify(doc({ Effect: 'Allow', Action: 'iot:Publish', Resource: [resource, resource] }));
  rejects(big, '', /characters excluding whitespace; the limit is 2048/, { maxChars: AWS_MAX_CHARS });
  assert.equal(parsePolicy(big).statements.length, 1);
  const tooBigForDefault = JSON.stringify(doc({ Effect: 'Allow', Action: 'iot:Publish', Resource: Array(12).fill(resource) }));
  rejects(tooBigForDefault, '', 'the limit is 20480');
  // Whitespace does not count.
  assert.equal(parsePolicy(`  ${' '.repeat(50_000)}${small}\n\n`).statements.length, 1);
});

test('a 10 MB input is rejected immediately, whatever maxChars says', () => {
  const huge = `{"Version":"2012-10-17","Statement":[${'{},'.repeat(3_500_000)}{}]}`;
  // Rejected on its length, before any parsing: JSON.parse must not be reached.
  const parse = JSON.parse;
  let parsed = 0;
  JSON.parse = ((...args: Parameters<typeof JSON.parse>) => {
    parsed += 1;
    return parse(...args) as unknown;
  }) as typeof JSON.parse;
  try {
    rejects(huge, '', 'the input limit is 1048576', { maxChars: 50_000_000 });
  } finally {
    JSON.parse = parse;
  }
  assert.equal(parsed, 0, 'rejected without parsing');
  rejects('x'.repeat(10 * 1024 * 1024), '', 'input limit');
});

test('hostile shapes throw PolicyError, never TypeError or RangeError', () => {
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  rejects(deep, '', /JSON/, { maxChars: 1_000_000 });
  const deepObj = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}]}`;
  rejects(deepObj, 'Statement[0].Condition.a', 'unknown condition operator', { maxChars: 1_000_000 });
  const cyclic: Record<string, unknown> = { Version: '2012-10-17' };
  cyclic['Statement'] = cyclic;
  rejects(cyclic, '', 'cannot be converted to JSON');
  rejects({ Version: '2012-10-17', Statement: [{ ...ALLOW_ALL, Sid: 10n }] }, '', 'cannot be converted');
  const throwing = {
    Version: '2012-10-17',
    get Statement(): never {
      throw new Error('boom');
    },
  };
  rejects(throwing, '', 'cannot be converted');
  rejects(42, '', 'must be a JSON text or an object');
  rejects(null, '', 'must be a JSON text or an object');
});

test('huge Statement arrays are bounded by maxChars and parse in full when allowed', () => {
  // How fast they parse is measured by `npm run bench` (engines), not asserted here.
  const many = JSON.stringify(doc(...Array.from({ length: 5000 }, () => ALLOW_ALL)));
  rejects(many, '', 'the limit is 20480');
  const p = parsePolicy(many, { maxChars: 1_000_000 });
  assert.equal(p.statements.length, 5000);
});

test('__proto__ and constructor keys are plain data', () => {
  const text =
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"StringEquals":{"__proto__":"x","constructor":"y"}}}]}';
  const p = parsePolicy(text);
  const conds = p.statements[0]?.conditions ?? [];
  assert.deepEqual(
    conds.map((c) => [c.key, c.knownKey]),
    [
      ['__proto__', false],
      ['constructor', false],
    ],
  );
  assert.equal(({} as Record<string, unknown>)['x'], undefined);
  // An absent key makes StringEquals false: the statement does not apply.
  assert.equal(evaluatePolicies([{ policyName: 'p', policy: p }], 'iot:Connect', 'client/a', { clientId: 'a' }).allowed, false);
  rejects(
    '{"Version":"2012-10-17","Statement":[{"__proto__":{"Effect":"Allow"},"Action":"iot:*","Resource":"*"}]}',
    'Statement[0].__proto__',
    'unknown statement element',
  );
  rejects(
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"__proto__":{"k":"v"}}}]}',
    'Statement[0].Condition.__proto__',
    'unknown condition operator',
  );
  rejects('{"__proto__":{"Version":"2012-10-17"},"Statement":[]}', '__proto__', 'unknown policy element');
});

test('policyToDocument round-trips', () => {
  const p = parsePolicy(fixtureText('claim-policy'));
  const again = parsePolicy(policyToDocument(p));
  assert.deepEqual(
    again.statements.map((s) => ({ ...s })),
    p.statements.map((s) => ({ ...s })),
  );
});

test('PolicyError carries code, path and detail', () => {
  const err = rejects(doc({ ...ALLOW_ALL, Effect: 1 }), 'Statement[0].Effect', 'must be');
  assert.equal(err.detail, 'must be "Allow" or "Deny"');
  assert.equal(err.message, 'Statement[0].Effect: must be "Allow" or "Deny"');
  assert.equal(err.name, 'PolicyError');
  assert.ok(err instanceof Error);
});
