import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTemplate, resolveTemplate } from '../../src/templates/index.js';
import { CERT_ID, expectTemplateError } from './fixtures.js';

const PARAMS = { Env: { Type: 'String', Default: 'dev' }, Tier: { Type: 'String', Default: 'basic' }, Absent: { Type: 'String' } };

const CONDITIONS = {
  IsProd: { 'Fn::Equals': [{ Ref: 'Env' }, 'prod'] },
  IsPremium: { 'Fn::Equals': [{ Ref: 'Tier' }, 'premium'] },
  ProdAndPremium: { 'Fn::And': [{ Condition: 'IsProd' }, { Condition: 'IsPremium' }] },
  ProdOrPremium: { 'Fn::Or': [{ Condition: 'IsProd' }, { Condition: 'IsPremium' }] },
  NotProd: { 'Fn::Not': [{ Condition: 'IsProd' }] },
};

function evaluate(parameters: Record<string, string>) {
  const t = parseTemplate({
    Parameters: PARAMS,
    Conditions: CONDITIONS,
    Resources: {
      thing: {
        Type: 'AWS::IoT::Thing',
        Properties: {
          ThingName: { 'Fn::If': ['IsProd', 'prod-device', 'dev-device'] },
          ThingGroups: { 'Fn::If': ['IsPremium', ['premium', 'all'], ['all']] },
          AttributePayload: { 'Fn::If': ['NotProd', { debug: 'on' }, { debug: 'off', audited: 'yes' }] },
        },
      },
      prodPolicy: { Type: 'AWS::IoT::Policy', Condition: 'ProdAndPremium', Properties: { PolicyName: 'prod-premium' } },
      anyPolicy: { Type: 'AWS::IoT::Policy', Condition: 'ProdOrPremium', Properties: { PolicyName: 'prod-or-premium' } },
    },
    DeviceConfiguration: { mode: { 'Fn::If': ['IsProd', 'strict', { Ref: 'Absent' }] } },
  });
  return { t, resolved: resolveTemplate(t, { parameters, certificate: { certificateId: CERT_ID } }) };
}

describe('Conditions extension', () => {
  test('reports itself as an extension', () => {
    const { t } = evaluate({ Env: 'prod' });
    assert.deepEqual([...t.extensionsUsed].sort(), ['Condition', 'Conditions', 'Fn::And', 'Fn::Equals', 'Fn::If', 'Fn::Not', 'Fn::Or']);
    assert.ok(t.warnings.includes('uses fleetprov extension Fn::If: will not run on AWS IoT'));
    assert.ok(t.warnings.includes('uses fleetprov extension Conditions: will not run on AWS IoT'));
  });

  test('prod + premium', () => {
    const { resolved } = evaluate({ Env: 'prod', Tier: 'premium' });
    assert.equal(resolved.thing?.thingName, 'prod-device');
    assert.deepEqual(resolved.thing?.thingGroups, ['premium', 'all']);
    assert.deepEqual(resolved.thing?.attributes, { debug: 'off', audited: 'yes' });
    assert.deepEqual(
      resolved.policies.map((p) => p.policyName),
      ['prod-premium', 'prod-or-premium'],
    );
    assert.deepEqual(resolved.deviceConfiguration, { mode: 'strict' });
  });

  test('dev + premium: false resource conditions skip the resource', () => {
    const { resolved } = evaluate({ Env: 'dev', Tier: 'premium', Absent: 'lenient' });
    assert.equal(resolved.thing?.thingName, 'dev-device');
    assert.deepEqual(resolved.thing?.attributes, { debug: 'on' });
    assert.deepEqual(
      resolved.policies.map((p) => p.policyName),
      ['prod-or-premium'],
    );
    assert.deepEqual(resolved.deviceConfiguration, { mode: 'lenient' });
  });

  test('the untaken Fn::If branch is not evaluated; the taken one reports missing parameters', () => {
    assert.doesNotThrow(() => evaluate({ Env: 'prod' }));
    expectTemplateError(() => evaluate({ Env: 'dev' }), {
      code: 'MissingParameter',
      path: 'DeviceConfiguration.mode.Fn::If[2]',
      message: /"Absent"/,
    });
  });

  test('a thing resource whose condition is false leaves no thing', () => {
    const t = parseTemplate({
      Parameters: PARAMS,
      Conditions: { IsProd: CONDITIONS.IsProd },
      Resources: { thing: { Type: 'AWS::IoT::Thing', Condition: 'IsProd', Properties: { ThingName: 'x' } } },
    });
    assert.equal(resolveTemplate(t, { parameters: {}, certificate: { certificateId: CERT_ID } }).thing, undefined);
    assert.equal(resolveTemplate(t, { parameters: { Env: 'prod' }, certificate: { certificateId: CERT_ID } }).thing?.thingName, 'x');
  });

  test('a shared condition is evaluated once per evaluation (memoised)', () => {
    // 5 levels of 10-way fan-out: 10^5 Fn::Equals evaluations without memoisation, over the step budget.
    const conditions: Record<string, unknown> = { L0: { 'Fn::Equals': [{ Ref: 'Env' }, 'prod'] } };
    for (let level = 1; level <= 5; level++) {
      conditions[`L${level}`] = { 'Fn::Or': Array.from({ length: 10 }, () => ({ Condition: `L${level - 1}` })) };
    }
    const t = parseTemplate({
      Parameters: PARAMS,
      Conditions: conditions,
      Resources: {},
      DeviceConfiguration: { v: { 'Fn::If': ['L5', 'yes', 'no'] } },
    });
    assert.equal(resolveTemplate(t, { parameters: {}, certificate: { certificateId: CERT_ID } }).deviceConfiguration.v, 'no');
    assert.equal(resolveTemplate(t, { parameters: { Env: 'prod' }, certificate: { certificateId: CERT_ID } }).deviceConfiguration.v, 'yes');
  });
});

describe('Conditions validation', () => {
  const parse = (conditions: unknown, value: unknown = 'x') =>
    parseTemplate({ Parameters: PARAMS, Conditions: conditions, Resources: {}, DeviceConfiguration: { v: value } });

  test('unknown condition in Fn::If', () =>
    expectTemplateError(() => parse({}, { 'Fn::If': ['Nope', 'a', 'b'] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v.Fn::If[0]',
      message: /unknown condition "Nope"/,
    }));
  test('unknown condition referenced by a condition', () =>
    expectTemplateError(() => parse({ A: { 'Fn::Not': [{ Condition: 'B' }] } }), {
      code: 'InvalidTemplate',
      path: 'Conditions.A.Fn::Not[0].Condition',
      message: /unknown condition "B"/,
    }));
  test('unknown resource Condition', () =>
    expectTemplateError(
      () => parseTemplate({ Resources: { p: { Type: 'AWS::IoT::Policy', Condition: 'Nope', Properties: { PolicyName: 'x' } } } }),
      {
        code: 'InvalidTemplate',
        path: 'Resources.p.Condition',
        message: /unknown condition "Nope"/,
      },
    ));
  test('self reference is a cycle', () =>
    expectTemplateError(() => parse({ A: { 'Fn::Not': [{ Condition: 'A' }] } }), {
      code: 'InvalidTemplate',
      path: 'Conditions.A',
      message: /cycle: A → A/,
    }));
  test('indirect cycle through Fn::If inside Fn::Equals', () =>
    expectTemplateError(
      () =>
        parse({
          A: { 'Fn::Equals': [{ 'Fn::If': ['B', 'x', 'y'] }, 'x'] },
          B: { 'Fn::Not': [{ Condition: 'C' }] },
          C: { 'Fn::And': [{ Condition: 'A' }, { 'Fn::Equals': ['a', 'a'] }] },
        }),
      { code: 'InvalidTemplate', path: 'Conditions.A', message: /cycle: A → B → C → A/ },
    ));
  test('arity of And / Or / Not / Equals', () => {
    expectTemplateError(() => parse({ A: { 'Fn::And': [{ 'Fn::Equals': ['a', 'a'] }] } }), {
      code: 'InvalidTemplate',
      path: 'Conditions.A',
      message: /Fn::And expects a list of 2 to 10 conditions/,
    });
    expectTemplateError(() => parse({ A: { 'Fn::Or': Array.from({ length: 11 }, () => ({ 'Fn::Equals': ['a', 'a'] })) } }), {
      code: 'InvalidTemplate',
      path: 'Conditions.A',
      message: /Fn::Or expects/,
    });
    expectTemplateError(() => parse({ A: { 'Fn::Not': [] } }), {
      code: 'InvalidTemplate',
      path: 'Conditions.A',
      message: /Fn::Not expects \[condition\]/,
    });
    expectTemplateError(() => parse({ A: { 'Fn::Equals': ['a'] } }), {
      code: 'InvalidTemplate',
      path: 'Conditions.A',
      message: /Fn::Equals expects \[value1, value2\]/,
    });
    expectTemplateError(() => parse({ A: { 'Fn::If': ['A', 'a', 'b'] } }), {
      code: 'InvalidTemplate',
      path: 'Conditions.A',
      message: /a condition must be/,
    });
    expectTemplateError(() => parse({ A: true }), { code: 'InvalidTemplate', path: 'Conditions.A', message: /a condition must be/ });
  });
  test('Fn::If shape', () =>
    expectTemplateError(() => parse({ A: { 'Fn::Equals': ['a', 'a'] } }, { 'Fn::If': ['A', 'x'] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v',
      message: /Fn::If expects \[conditionName, valueIfTrue, valueIfFalse\]/,
    }));
  test('Fn::If branches must fit the slot', () =>
    expectTemplateError(() => parse({ A: { 'Fn::Equals': ['a', 'a'] } }, { 'Fn::If': ['A', 'x', ['list']] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v.Fn::If[2]',
      message: /expected a string/,
    }));
});
