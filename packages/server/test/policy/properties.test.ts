import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  compilePolicies,
  evaluatePolicies,
  parsePolicy,
  PolicyError,
  type NamedParsedPolicy,
  type PolicyContext,
} from '../../src/policy/index.js';

/** Calls parsePolicy and requires that it either returns or throws a PolicyError. */
function parseOrPolicyError(input: unknown): void {
  try {
    parsePolicy(input as object);
  } catch (err) {
    if (!(err instanceof PolicyError)) throw new Error(`non-PolicyError thrown: ${String(err)}`, { cause: err });
    assert.equal(err.code, 'MalformedPolicy');
    assert.equal(typeof err.path, 'string');
  }
}

const nameChars = [
  'a',
  'b',
  '/',
  '*',
  '?',
  '+',
  '#',
  '$',
  '${*}',
  '${?}',
  '${iot:ClientId}',
  '${iot:Connection.Thing.ThingName}',
  '${iot:Certificate.Subject.Organization.1}',
  '${iot:Connection.Thing.Attributes[k]}',
  '${iot:Nope}',
  '${aws:SourceIp}',
];
const arbName = fc.array(fc.constantFrom(...nameChars), { maxLength: 6 }).map((a) => a.join(''));
const arbResource = fc.oneof(
  fc.constant('*'),
  fc
    .tuple(
      fc.constantFrom('topic/', 'topicfilter/', 'client/', 'top*', '*', 'topic/a/'),
      arbName,
      fc.constantFrom('iot', 'io?', 'greengrass'),
    )
    .map(([type, name, svc]) => `arn:aws:${svc}:us-east-1:123456789012:${type}${name}`),
);
const arbAction = fc.constantFrom(
  'iot:Publish',
  'iot:Subscribe',
  'iot:Receive',
  'iot:Connect',
  'iot:*',
  '*',
  'iot:P*',
  'iot:?eceive',
  'greengrass:*',
  'IOT:publish',
);
const keys = [
  'iot:ClientId',
  'iot:Connection.Thing.ThingName',
  'iot:Connection.Thing.Attributes[k]',
  'iot:Certificate.Subject.Organization.List',
  'iot:Certificate.Subject.CommonName',
  'aws:SourceIp',
  'iot:Connection.Thing.IsAttached',
  'iot:Unknown',
];
const strValue = fc.constantFrom(
  'a',
  'b',
  '+',
  'a*',
  '?',
  '${iot:ClientId}',
  '${iot:Connection.Thing.ThingName}',
  'Acme',
  'arn:aws:iot:*:*:thing/a',
);
const arbCondition = fc.oneof(
  fc.record({
    op: fc
      .tuple(
        fc.constantFrom('', 'ForAnyValue:', 'ForAllValues:'),
        fc.constantFrom(
          'StringEquals',
          'StringNotEquals',
          'StringEqualsIgnoreCase',
          'StringNotEqualsIgnoreCase',
          'StringLike',
          'StringNotLike',
          'ArnLike',
          'ArnNotEquals',
        ),
        fc.constantFrom('', 'IfExists'),
      )
      .map((p) => p.join('')),
    key: fc.constantFrom(...keys),
    values: fc.array(strValue, { minLength: 1, maxLength: 3 }),
  }),
  fc.record({ op: fc.constantFrom('Bool', 'BoolIfExists'), key: fc.constantFrom(...keys), values: fc.constantFrom(['true'], ['false']) }),
  fc.record({ op: fc.constantFrom('Null'), key: fc.constantFrom(...keys), values: fc.constantFrom(['true'], ['false']) }),
  fc.record({
    op: fc.constantFrom('NumericLessThan', 'NumericEquals', 'NumericNotEquals', 'NumericGreaterThanEquals'),
    key: fc.constantFrom(...keys),
    values: fc.array(fc.constantFrom('1', '2.5', '-3'), { minLength: 1, maxLength: 2 }),
  }),
  fc.record({
    op: fc.constantFrom('IpAddress', 'NotIpAddress', 'IpAddressIfExists'),
    key: fc.constantFrom('aws:SourceIp', 'iot:ClientId'),
    values: fc.array(fc.constantFrom('10.0.0.0/8', '192.0.2.1', '::/0'), { minLength: 1, maxLength: 2 }),
  }),
);
const arbStatement = fc
  .record({
    Effect: fc.constantFrom('Allow', 'Deny'),
    actions: fc.array(arbAction, { minLength: 1, maxLength: 3 }),
    notAction: fc.boolean(),
    resources: fc.array(arbResource, { minLength: 1, maxLength: 3 }),
    notResource: fc.boolean(),
    conditions: fc.array(arbCondition, { maxLength: 2 }),
  })
  .map((s) => {
    const st: Record<string, unknown> = { Effect: s.Effect };
    st[s.notAction ? 'NotAction' : 'Action'] = s.actions;
    st[s.notResource ? 'NotResource' : 'Resource'] = s.resources;
    if (s.conditions.length > 0) {
      const cond: Record<string, Record<string, string[]>> = {};
      for (const c of s.conditions) (cond[c.op] ??= {})[c.key] = [...c.values];
      st['Condition'] = cond;
    }
    return st;
  });
const arbPolicies = fc
  .array(fc.record({ policyName: fc.constantFrom('a', 'b', 'c'), statements: fc.array(arbStatement, { minLength: 1, maxLength: 4 }) }), {
    minLength: 0,
    maxLength: 3,
  })
  .map((ps): NamedParsedPolicy[] =>
    ps.map((p, i) => ({
      policyName: p.policyName,
      version: String(i),
      policy: parsePolicy({ Version: '2012-10-17', Statement: p.statements }),
    })),
  );
const arbContext: fc.Arbitrary<PolicyContext> = fc.record(
  {
    clientId: fc.option(fc.constantFrom('a', 'b', '+', 'a*'), { nil: undefined }),
    sourceIp: fc.option(fc.constantFrom('10.1.2.3', '192.0.2.1', '2001:db8::1'), { nil: undefined }),
    thing: fc.option(
      fc.record({
        thingName: fc.constantFrom('a', 'b'),
        thingTypeName: fc.constantFrom(null, 'T'),
        attributes: fc.constantFrom<Record<string, string>>({}, { k: 'a' }, { k: '2' }),
        isAttached: fc.boolean(),
      }),
      { nil: undefined },
    ),
    certificate: fc.option(
      fc.record({
        subject: fc.constantFrom<Record<string, readonly string[]>>(
          {},
          { Organization: ['Acme'] },
          { Organization: ['Acme', 'a', 'b*'], CommonName: ['a'] },
        ),
        issuer: fc.constant<Record<string, readonly string[]>>({}),
      }),
      { nil: undefined },
    ),
  },
  { requiredKeys: [] },
);
const arbRequest = fc.tuple(
  fc.constantFrom('iot:Publish', 'iot:Subscribe', 'iot:Receive', 'iot:Connect', 'iot:publish', 'greengrass:Discover'),
  fc
    .tuple(
      fc.constantFrom('topic/', 'topicfilter/', 'client/', 'topic/a/'),
      fc.array(fc.constantFrom('a', 'b', '/', '+', '#', '*', '?', '$', '10.1.2.3'), { maxLength: 5 }),
    )
    .map(([t, n]) => t + n.join('')),
);

test('property: parsePolicy on arbitrary JSON throws nothing but PolicyError', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => parseOrPolicyError(v)),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.json(), (v) => parseOrPolicyError(v)),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.string(), (v) => parseOrPolicyError(v)),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.anything(), (v) => parseOrPolicyError(v)),
    { numRuns: 500 },
  );
});

test('property: policy-shaped documents with arbitrary leaves throw nothing but PolicyError', () => {
  const leaf = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom('Allow', 'Deny', 'iot:*', '*', 'arn:aws:iot:r:a:topic/x', '2012-10-17', '__proto__'),
  );
  const statement = fc.dictionary(
    fc.constantFrom(
      'Sid',
      'Effect',
      'Action',
      'NotAction',
      'Resource',
      'NotResource',
      'Condition',
      '__proto__',
      'constructor',
      'Principal',
    ),
    fc.oneof(
      leaf,
      fc.dictionary(
        fc.constantFrom('StringLike', 'Bool', 'ForAnyValue:StringEquals', 'NumericLessThan', 'IpAddress', 'Null', '__proto__', 'x'),
        fc.dictionary(fc.constantFrom('iot:ClientId', 'aws:SourceIp', '__proto__'), leaf),
      ),
    ),
  );
  const document = fc.record(
    {
      Version: fc.oneof(fc.constantFrom('2012-10-17', '2008-10-17'), leaf),
      Statement: fc.oneof(fc.array(fc.oneof(statement, leaf), { maxLength: 3 }), statement, leaf),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(document, fc.boolean(), (d, asText) => parseOrPolicyError(asText ? JSON.stringify(d) : d)),
    { numRuns: 2000 },
  );
});

test('property: the compiled path and evaluatePolicies always agree', () => {
  fc.assert(
    fc.property(arbPolicies, fc.array(arbRequest, { minLength: 1, maxLength: 8 }), arbContext, (policies, requests, ctx) => {
      const set = compilePolicies(policies);
      for (const [action, resource] of requests) {
        const c = set.authorize(action, resource, ctx);
        const e = evaluatePolicies(policies, action, resource, ctx);
        assert.equal(c.allowed, e.allowed, `${action} ${resource}`);
        assert.deepEqual(c.decidingStatement, e.decidingStatement);
        assert.equal(c.reason, e.reason);
      }
    }),
    { numRuns: 1500 },
  );
});

test('property: a statement never allows what an identical Deny covers', () => {
  fc.assert(
    fc.property(
      arbPolicies,
      arbStatement,
      fc.array(arbRequest, { minLength: 1, maxLength: 6 }),
      arbContext,
      (policies, st, requests, ctx) => {
        const allow = parsePolicy({ Version: '2012-10-17', Statement: [{ ...st, Effect: 'Allow' }] });
        const deny = parsePolicy({ Version: '2012-10-17', Statement: [{ ...st, Effect: 'Deny' }] });
        const withDeny = [...policies, { policyName: 'x-allow', policy: allow }, { policyName: 'y-deny', policy: deny }];
        const set = compilePolicies(withDeny);
        for (const [action, resource] of requests) {
          const alone = evaluatePolicies([{ policyName: 'x-allow', policy: allow }], action, resource, ctx);
          const both = evaluatePolicies(withDeny, action, resource, ctx);
          if (alone.allowed) {
            assert.equal(both.allowed, false);
            assert.equal(both.decidingStatement?.effect, 'Deny');
          }
          assert.equal(set.authorize(action, resource, ctx).allowed, both.allowed);
        }
      },
    ),
    { numRuns: 1000 },
  );
});
