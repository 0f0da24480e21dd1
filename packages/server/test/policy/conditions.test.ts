import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONDITION_OPERATORS, evaluatePolicies, parseConditionOperator, type PolicyContext } from '../../src/policy/index.js';
import { deviceContext, doc, named } from './helpers.js';

/** Whether an Allow-everything statement with this Condition applies in `ctx`. */
function holds(condition: Record<string, unknown>, ctx: PolicyContext): boolean {
  const p = named('c', doc({ Effect: 'Allow', Action: 'iot:Connect', Resource: '*', Condition: condition }));
  return evaluatePolicies([p], 'iot:Connect', 'client/x', ctx).allowed;
}

const THING = deviceContext('pump-7', {
  sourceIp: '192.0.2.10',
  thing: {
    thingName: 'pump-7',
    thingTypeName: 'Pump',
    attributes: { floor: '3', site: 'Plant-A', ratio: '0.75', arn: 'arn:aws:iot:eu-west-1:111122223333:thing/pump-7' },
    isAttached: true,
  },
  certificate: { subject: { Organization: ['Acme', 'Globex'], CommonName: ['pump-7'] }, issuer: {} },
});
const NONE: PolicyContext = { clientId: 'pump-7' };

test('parseConditionOperator splits qualifiers and IfExists, case-insensitively', () => {
  assert.deepEqual(parseConditionOperator('ForAnyValue:StringLikeIfExists'), {
    base: 'StringLike',
    qualifier: 'ForAnyValue',
    ifExists: true,
  });
  assert.deepEqual(parseConditionOperator('forallvalues:stringequals'), {
    base: 'StringEquals',
    qualifier: 'ForAllValues',
    ifExists: false,
  });
  assert.equal(parseConditionOperator('StringMatches'), null);
  assert.equal(parseConditionOperator('NullIfExists'), null);
  assert.equal(CONDITION_OPERATORS.length, 20);
  for (const op of CONDITION_OPERATORS) assert.equal(parseConditionOperator(op)?.base, op);
});

test('StringEquals / StringNotEquals, with variables in values', () => {
  assert.equal(holds({ StringEquals: { 'iot:ClientId': 'pump-7' } }, THING), true);
  assert.equal(holds({ StringEquals: { 'iot:ClientId': ['a', 'pump-7'] } }, THING), true, 'values OR');
  assert.equal(holds({ StringEquals: { 'iot:ClientId': 'PUMP-7' } }, THING), false);
  assert.equal(holds({ StringEquals: { 'iot:ClientId': 'pump-*' } }, THING), false, '* is literal in StringEquals');
  assert.equal(holds({ StringEquals: { 'iot:ClientId': '${iot:Connection.Thing.ThingName}' } }, THING), true);
  assert.equal(
    holds({ StringEquals: { 'iot:ClientId': '${iot:Connection.Thing.ThingName}' } }, NONE),
    false,
    'unresolved value matches nothing',
  );
  assert.equal(holds({ StringNotEquals: { 'iot:ClientId': ['a', 'b'] } }, THING), true, 'negated values NOR');
  assert.equal(holds({ StringNotEquals: { 'iot:ClientId': ['a', 'pump-7'] } }, THING), false);
  assert.equal(holds({ StringNotEquals: { 'iot:ClientId': '${iot:Connection.Thing.ThingName}' } }, NONE), true);
});

test('StringEqualsIgnoreCase / StringNotEqualsIgnoreCase', () => {
  assert.equal(holds({ StringEqualsIgnoreCase: { 'iot:Connection.Thing.Attributes[site]': 'plant-a' } }, THING), true);
  assert.equal(
    holds({ StringEqualsIgnoreCase: { 'iot:ClientId': '${iot:Connection.Thing.Attributes[site]}' } }, { ...THING, clientId: 'PLANT-a' }),
    true,
  );
  assert.equal(holds({ StringNotEqualsIgnoreCase: { 'iot:Connection.Thing.Attributes[site]': 'PLANT-A' } }, THING), false);
  assert.equal(holds({ StringNotEqualsIgnoreCase: { 'iot:Connection.Thing.Attributes[site]': 'plant-b' } }, THING), true);
});

test('StringLike / StringNotLike use * and ? wildcards', () => {
  assert.equal(holds({ StringLike: { 'iot:ClientId': 'pump-?' } }, THING), true);
  assert.equal(holds({ StringLike: { 'iot:ClientId': 'pu*' } }, THING), true);
  assert.equal(holds({ StringLike: { 'iot:ClientId': 'valve-*' } }, THING), false);
  assert.equal(holds({ StringLike: { 'iot:ClientId': '${iot:Connection.Thing.ThingTypeName}*' } }, { ...THING, clientId: 'Pump-1' }), true);
  assert.equal(holds({ StringNotLike: { 'iot:ClientId': ['valve-*', 'fan-*'] } }, THING), true);
  assert.equal(holds({ StringNotLike: { 'iot:ClientId': ['valve-*', 'pump-*'] } }, THING), false);
});

test('Bool', () => {
  assert.equal(holds({ Bool: { 'iot:Connection.Thing.IsAttached': 'true' } }, THING), true);
  assert.equal(holds({ Bool: { 'iot:Connection.Thing.IsAttached': true } }, THING), true);
  assert.equal(holds({ Bool: { 'iot:Connection.Thing.IsAttached': 'TRUE' } }, THING), true);
  assert.equal(holds({ Bool: { 'iot:Connection.Thing.IsAttached': 'false' } }, THING), false);
  const detached: PolicyContext = { ...THING, thing: { thingName: 'pump-7', attributes: {}, isAttached: false } };
  assert.equal(holds({ Bool: { 'iot:Connection.Thing.IsAttached': 'false' } }, detached), true);
  assert.equal(holds({ Bool: { 'iot:Connection.Thing.IsAttached': 'true' } }, NONE), false, 'absent key');
});

test('ArnEquals / ArnLike / ArnNotEquals / ArnNotLike compare the six ARN parts', () => {
  const key = 'iot:Connection.Thing.Attributes[arn]';
  assert.equal(holds({ ArnEquals: { [key]: 'arn:aws:iot:eu-west-1:111122223333:thing/pump-7' } }, THING), true);
  assert.equal(holds({ ArnLike: { [key]: 'arn:aws:iot:*:111122223333:thing/*' } }, THING), true);
  assert.equal(holds({ ArnLike: { [key]: 'arn:aws:iot:*:111122223333:thing/${iot:ClientId}' } }, THING), true);
  assert.equal(holds({ ArnLike: { [key]: 'arn:aws:iot:*:999999999999:thing/*' } }, THING), false);
  assert.equal(holds({ ArnLike: { [key]: 'arn:aws:iot:*' } }, THING), false, 'a value that is not a 6-part ARN matches nothing');
  assert.equal(holds({ ArnLike: { 'iot:ClientId': 'arn:*:*:*:*:*' } }, THING), false, 'a request value that is not an ARN matches nothing');
  assert.equal(holds({ ArnNotEquals: { [key]: 'arn:aws:iot:eu-west-1:111122223333:thing/other' } }, THING), true);
  assert.equal(holds({ ArnNotLike: { [key]: 'arn:aws:iot:*:*:thing/pump-*' } }, THING), false);
  assert.equal(holds({ ArnNotLike: { [key]: 'arn:aws:iot:*:*:thing/valve-*' } }, THING), true);
});

test('Numeric operators', () => {
  const key = 'iot:Connection.Thing.Attributes[floor]';
  const cases: [string, unknown, boolean][] = [
    ['NumericEquals', 3, true],
    ['NumericEquals', '3.0', true],
    ['NumericEquals', 4, false],
    ['NumericNotEquals', 4, true],
    ['NumericNotEquals', '3', false],
    ['NumericLessThan', 4, true],
    ['NumericLessThan', 3, false],
    ['NumericLessThanEquals', 3, true],
    ['NumericLessThanEquals', 2, false],
    ['NumericGreaterThan', 2, true],
    ['NumericGreaterThan', 3, false],
    ['NumericGreaterThanEquals', '3', true],
    ['NumericGreaterThanEquals', '3.5', false],
  ];
  for (const [op, v, expected] of cases) assert.equal(holds({ [op]: { [key]: v } }, THING), expected, `${op} ${String(v)}`);
  assert.equal(holds({ NumericLessThan: { 'iot:Connection.Thing.Attributes[ratio]': '1e0' } }, THING), true);
  assert.equal(holds({ NumericEquals: { 'iot:Connection.Thing.Attributes[site]': 1 } }, THING), false, 'non-numeric request value');
});

test('IpAddress / NotIpAddress with CIDR blocks, IPv4 and IPv6', () => {
  assert.equal(holds({ IpAddress: { 'aws:SourceIp': '192.0.2.0/24' } }, THING), true);
  assert.equal(holds({ IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '192.0.2.10'] } }, THING), true);
  assert.equal(holds({ IpAddress: { 'aws:SourceIp': '198.51.100.0/24' } }, THING), false);
  assert.equal(holds({ IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } }, THING), true);
  assert.equal(holds({ IpAddress: { 'aws:SourceIp': '192.0.2.0/24' } }, { sourceIp: '::ffff:192.0.2.99' }), true, 'IPv4-mapped IPv6');
  assert.equal(holds({ IpAddress: { 'aws:SourceIp': '2001:db8::/32' } }, { sourceIp: '2001:db8:0:1::5' }), true);
  assert.equal(holds({ IpAddress: { 'aws:SourceIp': '2001:db8::/32' } }, { sourceIp: '2001:db9::5' }), false);
  assert.equal(holds({ IpAddress: { 'aws:SourceIp': '192.0.2.0/24' } }, { sourceIp: 'not-an-ip' }), false);
  assert.equal(holds({ NotIpAddress: { 'aws:SourceIp': '198.51.100.0/24' } }, THING), true);
  assert.equal(holds({ NotIpAddress: { 'aws:SourceIp': '192.0.2.0/25' } }, THING), false);
});

test('Null tests presence', () => {
  assert.equal(holds({ Null: { 'iot:Connection.Thing.ThingName': 'false' } }, THING), true);
  assert.equal(holds({ Null: { 'iot:Connection.Thing.ThingName': 'true' } }, THING), false);
  assert.equal(holds({ Null: { 'iot:Connection.Thing.ThingName': 'true' } }, NONE), true);
  assert.equal(holds({ Null: { 'iot:Certificate.Subject.Organization.List': false } }, THING), true);
  assert.equal(holds({ Null: { 'iot:Unknown': 'true' } }, THING), true, 'unknown keys are absent');
});

test('absent keys: false, except negated operators, IfExists and ForAllValues', () => {
  const key = 'iot:Connection.Thing.ThingName';
  assert.equal(holds({ StringEquals: { [key]: 'pump-7' } }, NONE), false);
  assert.equal(holds({ StringLike: { [key]: '*' } }, NONE), false);
  assert.equal(holds({ StringNotEquals: { [key]: 'x' } }, NONE), true);
  assert.equal(holds({ StringNotLike: { [key]: 'x' } }, NONE), true);
  assert.equal(holds({ StringEqualsIfExists: { [key]: 'pump-7' } }, NONE), true);
  assert.equal(holds({ StringEqualsIfExists: { [key]: 'pump-7' } }, THING), true);
  assert.equal(holds({ StringEqualsIfExists: { [key]: 'other' } }, THING), false, 'IfExists still checks a present key');
  assert.equal(holds({ BoolIfExists: { 'iot:Connection.Thing.IsAttached': 'true' } }, NONE), true);
  assert.equal(holds({ NumericLessThanIfExists: { 'iot:Connection.Thing.Attributes[floor]': 2 } }, THING), false);
  assert.equal(holds({ 'ForAllValues:StringEquals': { 'iot:Certificate.Subject.Organization.List': 'Acme' } }, NONE), true, 'vacuous');
  assert.equal(holds({ 'ForAnyValue:StringEquals': { 'iot:Certificate.Subject.Organization.List': 'Acme' } }, NONE), false);
  assert.equal(holds({ 'ForAnyValue:StringEqualsIfExists': { 'iot:Certificate.Subject.Organization.List': 'Acme' } }, NONE), true);
});

test('ForAnyValue / ForAllValues over multi-valued certificate keys', () => {
  const key = 'iot:Certificate.Subject.Organization.List'; // ['Acme', 'Globex']
  assert.equal(holds({ 'ForAnyValue:StringEquals': { [key]: 'Globex' } }, THING), true);
  assert.equal(holds({ 'ForAnyValue:StringEquals': { [key]: ['Initech', 'Hooli'] } }, THING), false);
  assert.equal(holds({ 'ForAllValues:StringEquals': { [key]: ['Acme', 'Globex', 'Initech'] } }, THING), true);
  assert.equal(holds({ 'ForAllValues:StringEquals': { [key]: ['Acme'] } }, THING), false);
  assert.equal(holds({ 'ForAnyValue:StringLike': { [key]: 'Glo*' } }, THING), true);
  assert.equal(holds({ 'ForAllValues:StringLike': { [key]: ['A*', 'G*'] } }, THING), true);
  assert.equal(holds({ 'ForAnyValue:StringNotEquals': { [key]: 'Acme' } }, THING), true, 'Globex is not Acme');
  assert.equal(holds({ 'ForAllValues:StringNotEquals': { [key]: 'Acme' } }, THING), false);
  assert.equal(holds({ 'ForAllValues:StringNotEquals': { [key]: 'Hooli' } }, THING), true);
  // Without a qualifier: positive operators match when any value does; negated when none does.
  assert.equal(holds({ StringEquals: { [key]: 'Globex' } }, THING), true);
  assert.equal(holds({ StringNotEquals: { [key]: 'Globex' } }, THING), false);
  assert.equal(holds({ StringNotEquals: { [key]: 'Hooli' } }, THING), true);
  // A single-valued key under a qualifier is a list of one.
  assert.equal(holds({ 'ForAllValues:StringEquals': { 'iot:ClientId': ['pump-7', 'x'] } }, THING), true);
  assert.equal(
    holds({ 'ForAnyValue:StringEquals': { 'iot:Certificate.AvailableKeys': 'iot:Certificate.Subject.CommonName' } }, THING),
    true,
  );
  assert.equal(holds({ 'ForAnyValue:StringEquals': { 'iot:Certificate.AvailableKeys': 'iot:Certificate.Subject.Title' } }, THING), false);
});

test('all operators and all keys of a Condition must hold (AND)', () => {
  const both = {
    StringEquals: { 'iot:ClientId': 'pump-7', 'iot:Connection.Thing.ThingTypeName': 'Pump' },
    Bool: { 'iot:Connection.Thing.IsAttached': 'true' },
  };
  assert.equal(holds(both, THING), true);
  assert.equal(holds({ ...both, StringEquals: { 'iot:ClientId': 'pump-7', 'iot:Connection.Thing.ThingTypeName': 'Valve' } }, THING), false);
  assert.equal(holds({ ...both, Bool: { 'iot:Connection.Thing.IsAttached': 'false' } }, THING), false);
});

test('condition keys are case-insensitive', () => {
  assert.equal(holds({ StringEquals: { 'IOT:clientid': 'pump-7' } }, THING), true);
});
