import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateTemplate, parseTemplate, planProvisioning, type ExistingThing, type ResolvedTemplate } from '../../src/templates/index.js';
import { CERT_ID, expectTemplateError } from './fixtures.js';

/** A template setting all four thing properties, with the given OverrideSettings. */
function thingTemplate(
  overrides: Record<string, string> | undefined,
  properties: Record<string, unknown> = {},
): ReturnType<typeof parseTemplate> {
  return parseTemplate({
    Resources: {
      dev: {
        Type: 'AWS::IoT::Thing',
        Properties: {
          ThingName: 'dev1',
          AttributePayload: { color: 'blue', model: 'm2' },
          ThingTypeName: 'sensor-v2',
          ThingGroups: ['new-group', 'shared'],
          BillingGroup: 'bill-b',
          ...properties,
        },
        ...(overrides === undefined ? {} : { OverrideSettings: overrides }),
      },
    },
  });
}

const existing: ExistingThing = {
  thingName: 'dev1',
  thingTypeName: 'sensor-v1',
  attributes: { color: 'red', site: 'berlin' },
  thingGroups: ['old-group', 'shared'],
  billingGroup: 'bill-a',
};

function plan(
  overrides: Record<string, string> | undefined,
  existingThing: ExistingThing | null = existing,
  properties?: Record<string, unknown>,
) {
  const result = evaluateTemplate(thingTemplate(overrides, properties), {
    parameters: {},
    certificate: { certificateId: CERT_ID },
    existingThing,
  });
  assert.ok(result.thing);
  return result.thing;
}

describe('thing absent', () => {
  test('is created with the template values whatever the overrides say', () => {
    const variants: Array<Record<string, string> | undefined> = [
      undefined,
      { AttributePayload: 'FAIL', ThingTypeName: 'FAIL' },
      { ThingGroups: 'MERGE' },
    ];
    for (const overrides of variants) {
      assert.deepEqual(plan(overrides, null), {
        logicalId: 'dev',
        thingName: 'dev1',
        action: 'create',
        attributes: { color: 'blue', model: 'm2' },
        thingTypeName: 'sensor-v2',
        thingGroups: ['new-group', 'shared'],
        billingGroup: 'bill-b',
      });
    }
  });
  test('unset properties become empty / null', () => {
    const t = parseTemplate({ Resources: { dev: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'dev1' } } } });
    const result = evaluateTemplate(t, { parameters: {}, certificate: { certificateId: CERT_ID } });
    assert.deepEqual(result.thing, {
      logicalId: 'dev',
      thingName: 'dev1',
      action: 'create',
      attributes: {},
      thingTypeName: null,
      thingGroups: [],
      billingGroup: null,
    });
  });
});

describe('thing exists', () => {
  test('no OverrideSettings means DO_NOTHING for every property (fleetprov decision)', () => {
    const thing = plan(undefined);
    assert.equal(thing.action, 'unchanged');
    assert.deepEqual(thing.attributes, existing.attributes);
    assert.equal(thing.thingTypeName, 'sensor-v1');
    assert.deepEqual(thing.thingGroups, ['old-group', 'shared']);
    assert.equal(thing.billingGroup, 'bill-a');
  });

  test('DO_NOTHING keeps existing values', () => {
    const thing = plan({
      AttributePayload: 'DO_NOTHING',
      ThingTypeName: 'DO_NOTHING',
      ThingGroups: 'DO_NOTHING',
      BillingGroup: 'DO_NOTHING',
    });
    assert.equal(thing.action, 'unchanged');
    assert.deepEqual(thing.attributes, { color: 'red', site: 'berlin' });
  });

  test('REPLACE sets the template values', () => {
    const thing = plan({ AttributePayload: 'REPLACE', ThingTypeName: 'REPLACE', ThingGroups: 'REPLACE', BillingGroup: 'REPLACE' });
    assert.deepEqual(thing, {
      logicalId: 'dev',
      thingName: 'dev1',
      action: 'update',
      attributes: { color: 'blue', model: 'm2' },
      thingTypeName: 'sensor-v2',
      thingGroups: ['new-group', 'shared'],
      billingGroup: 'bill-b',
    });
  });

  test('REPLACE of a property the template does not set keeps the existing value', () => {
    const t = parseTemplate({
      Resources: {
        dev: {
          Type: 'AWS::IoT::Thing',
          Properties: { ThingName: 'dev1' },
          OverrideSettings: { ThingTypeName: 'REPLACE', AttributePayload: 'REPLACE' },
        },
      },
    });
    const result = evaluateTemplate(t, { parameters: {}, certificate: { certificateId: CERT_ID }, existingThing: existing });
    assert.equal(result.thing?.action, 'unchanged');
    assert.equal(result.thing?.thingTypeName, 'sensor-v1');
    assert.deepEqual(result.thing?.attributes, existing.attributes);
  });

  test('MERGE unions attributes (template wins) and groups (existing order first)', () => {
    const thing = plan({ AttributePayload: 'MERGE', ThingGroups: 'MERGE' });
    assert.equal(thing.action, 'update');
    assert.deepEqual(thing.attributes, { color: 'blue', site: 'berlin', model: 'm2' });
    assert.deepEqual(thing.thingGroups, ['old-group', 'shared', 'new-group']);
  });

  test('MERGE that adds nothing is unchanged', () => {
    const thing = plan({ AttributePayload: 'MERGE', ThingGroups: 'MERGE' }, existing, {
      AttributePayload: { color: 'red' },
      ThingGroups: ['shared'],
    });
    assert.equal(thing.action, 'unchanged');
  });

  test('REPLACE with the same group set in another order is unchanged and keeps the existing order', () => {
    const thing = plan({ ThingGroups: 'REPLACE' }, existing, { ThingGroups: ['shared', 'old-group'] });
    assert.equal(thing.action, 'unchanged');
    assert.deepEqual(thing.thingGroups, ['old-group', 'shared']);
  });

  test('FAIL with a different value is a ResourceConflict naming thing and property', () => {
    for (const [key, property] of [
      ['AttributePayload', 'AttributePayload'],
      ['ThingTypeName', 'ThingTypeName'],
      ['ThingGroups', 'ThingGroups'],
      ['BillingGroup', 'BillingGroup'],
    ] as const) {
      expectTemplateError(() => plan({ [key]: 'FAIL' }), {
        code: 'ResourceConflict',
        path: 'Resources.dev.OverrideSettings',
        message: new RegExp(`thing "dev1" already exists with a different ${property}`),
      });
    }
  });

  test('FAIL with an equal value, or a property the template does not set, passes', () => {
    const same = plan({ ThingTypeName: 'FAIL', AttributePayload: 'FAIL', ThingGroups: 'FAIL', BillingGroup: 'FAIL' }, existing, {
      ThingTypeName: 'sensor-v1',
      AttributePayload: { site: 'berlin', color: 'red' },
      ThingGroups: ['shared', 'old-group'],
      BillingGroup: 'bill-a',
    });
    assert.equal(same.action, 'unchanged');
    const t = parseTemplate({
      Resources: { dev: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'dev1' }, OverrideSettings: { ThingTypeName: 'FAIL' } } },
    });
    const result = evaluateTemplate(t, { parameters: {}, certificate: { certificateId: CERT_ID }, existingThing: existing });
    assert.equal(result.thing?.thingTypeName, 'sensor-v1');
  });

  test('FAIL against a thing without a type', () => {
    expectTemplateError(() => plan({ ThingTypeName: 'FAIL' }, { thingName: 'dev1', attributes: {}, thingGroups: [] }), {
      code: 'ResourceConflict',
      path: 'Resources.dev.OverrideSettings',
      message: /ThingTypeName \(none vs "sensor-v2"\)/,
    });
  });

  test('the upper-case spellings behave like the camel-case ones', () => {
    const upper = plan({ ATTRIBUTE_PAYLOAD: 'MERGE', THING_TYPE_NAME: 'REPLACE', THING_GROUPS: 'MERGE', BILLING_GROUP: 'REPLACE' });
    const camel = plan({ AttributePayload: 'MERGE', ThingTypeName: 'REPLACE', ThingGroups: 'MERGE', BillingGroup: 'REPLACE' });
    assert.deepEqual(upper, camel);
    assert.equal(upper.thingTypeName, 'sensor-v2');
    assert.deepEqual(upper.attributes, { color: 'blue', site: 'berlin', model: 'm2' });
  });

  test('an existing thing with another name is refused', () => {
    expectTemplateError(() => plan(undefined, { ...existing, thingName: 'other' }), {
      code: 'EvaluationError',
      path: 'Resources.dev',
      message: /"other" is not the thing the template names/,
    });
  });
});

describe('override validation', () => {
  test('MERGE is only for AttributePayload and ThingGroups', () => {
    expectTemplateError(() => thingTemplate({ ThingTypeName: 'MERGE' }), {
      code: 'InvalidTemplate',
      path: 'Resources.dev.OverrideSettings.ThingTypeName',
      message: /MERGE is only allowed/,
    });
    expectTemplateError(() => thingTemplate({ BILLING_GROUP: 'MERGE' }), {
      code: 'InvalidTemplate',
      path: 'Resources.dev.OverrideSettings.BILLING_GROUP',
      message: /MERGE is only allowed/,
    });
  });
  test('unknown actions and keys are rejected', () => {
    expectTemplateError(() => thingTemplate({ ThingTypeName: 'replace' }), {
      code: 'InvalidTemplate',
      path: 'Resources.dev.OverrideSettings.ThingTypeName',
      message: /DO_NOTHING, REPLACE, FAIL or MERGE, got "replace"/,
    });
    expectTemplateError(() => thingTemplate({ ThingName: 'REPLACE' }), {
      code: 'InvalidTemplate',
      path: 'Resources.dev.OverrideSettings.ThingName',
      message: /unknown override key "ThingName"/,
    });
  });
  test('both spellings of one key are rejected', () =>
    expectTemplateError(() => thingTemplate({ ThingGroups: 'MERGE', THING_GROUPS: 'REPLACE' }), {
      code: 'InvalidTemplate',
      path: 'Resources.dev.OverrideSettings.THING_GROUPS',
      message: /given twice/,
    }));
  test('certificates allow an override on Status only; policies none', () => {
    const cert = (OverrideSettings: unknown) =>
      parseTemplate({
        Parameters: { 'AWS::IoT::Certificate::Id': { Type: 'String' } },
        Resources: {
          c: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' } }, OverrideSettings },
        },
      });
    const ok = cert({ Status: 'REPLACE' });
    const resolved = evaluateTemplate(ok, { parameters: {}, certificate: { certificateId: CERT_ID } });
    assert.deepEqual(resolved.certificate, { logicalId: 'c', certificateId: CERT_ID, status: 'ACTIVE' });
    expectTemplateError(() => cert({ AttributePayload: 'REPLACE' }), {
      code: 'InvalidTemplate',
      path: 'Resources.c.OverrideSettings.AttributePayload',
      message: /Status only/,
    });
    expectTemplateError(() => cert({ Status: 'MERGE' }), { code: 'InvalidTemplate', path: 'Resources.c.OverrideSettings.Status' });
    expectTemplateError(
      () => parseTemplate({ Resources: { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'x' }, OverrideSettings: {} } } }),
      { code: 'InvalidTemplate', path: 'Resources.p.OverrideSettings', message: /take no OverrideSettings/ },
    );
  });
});

describe('planProvisioning on plain data', () => {
  const resolved: ResolvedTemplate = {
    parameters: { A: '1' },
    thing: { logicalId: 't', thingName: 'n', attributes: { ['__proto__']: 'x' }, overrides: { AttributePayload: 'MERGE' } },
    policies: [{ logicalId: 'p', kind: 'named', policyName: 'pol' }],
    deviceConfiguration: { k: 'v' },
  };
  test('does not mutate its inputs and maps logical ids to resource ids', () => {
    const before = JSON.stringify(resolved);
    const existingThing: ExistingThing = { thingName: 'n', attributes: { a: 'b' }, thingGroups: [] };
    const result = planProvisioning(resolved, existingThing);
    assert.equal(JSON.stringify(resolved), before);
    assert.deepEqual(existingThing.attributes, { a: 'b' });
    assert.deepEqual(result.resources, { t: 'n', p: 'pol' });
    assert.equal(Object.getPrototypeOf(result.thing?.attributes), Object.prototype, 'a __proto__ attribute must not change the prototype');
    assert.deepEqual(Object.keys(result.thing?.attributes ?? {}).sort(), ['__proto__', 'a']);
  });
  test('without a thing resource the plan has no thing', () => {
    const result = planProvisioning({ parameters: {}, policies: [], deviceConfiguration: {} }, undefined);
    assert.equal(result.thing, undefined);
    assert.deepEqual(result.resources, {});
  });
});
