import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { evaluateTemplate, parseTemplate, resolveTemplate, TemplateError } from '../../src/templates/index.js';
import { CERT_ID, templateFixture } from './fixtures.js';

const noSubject = { certificateId: CERT_ID };

test('birthing-template: new device gets thing born_<serial>, full_citizen_role, active certificate', () => {
  const t = parseTemplate(templateFixture('birthing-template.json'));
  assert.deepEqual(t.parameterNames, ['SerialNumber', 'AWS::IoT::Certificate::Id']);
  assert.deepEqual(t.extensionsUsed, []);
  assert.deepEqual(t.warnings, []);
  assert.equal(t.templateType, 'FLEET_PROVISIONING');
  const plan = evaluateTemplate(t, { parameters: { SerialNumber: 'SN-0001' }, certificate: noSubject });
  assert.deepEqual(plan, {
    parameters: { SerialNumber: 'SN-0001', 'AWS::IoT::Certificate::Id': CERT_ID },
    thing: {
      logicalId: 'thing',
      thingName: 'born_SN-0001',
      action: 'create',
      attributes: {},
      thingTypeName: null,
      thingGroups: [],
      billingGroup: null,
    },
    certificate: { logicalId: 'certificate', certificateId: CERT_ID, status: 'ACTIVE' },
    policies: [{ logicalId: 'policy', kind: 'named', policyName: 'full_citizen_role' }],
    deviceConfiguration: {},
    resources: { thing: 'born_SN-0001', certificate: CERT_ID, policy: 'full_citizen_role' },
  });
});

test('birthing-template: re-provisioning an existing thing keeps its data (MERGE of {} / DO_NOTHING)', () => {
  const t = parseTemplate(templateFixture('birthing-template.json'));
  const existingThing = {
    thingName: 'born_SN-0001',
    thingTypeName: 'sensor',
    attributes: { site: 'berlin' },
    thingGroups: ['fleet-a'],
    billingGroup: null,
  };
  const plan = evaluateTemplate(t, { parameters: { SerialNumber: 'SN-0001' }, certificate: noSubject, existingThing });
  assert.deepEqual(plan.thing, {
    logicalId: 'thing',
    thingName: 'born_SN-0001',
    action: 'unchanged',
    attributes: { site: 'berlin' },
    thingTypeName: 'sensor',
    thingGroups: ['fleet-a'],
    billingGroup: null,
  });
});

test('birthing-template: missing SerialNumber is a MissingParameter error naming it', () => {
  const t = parseTemplate(templateFixture('birthing-template.json'));
  assert.throws(
    () => evaluateTemplate(t, { parameters: {}, certificate: noSubject }),
    (err: unknown) =>
      err instanceof TemplateError &&
      err.code === 'MissingParameter' &&
      err.parameter === 'SerialNumber' &&
      err.path === 'Resources.thing.Properties.ThingName.Fn::Join[1][1]' &&
      err.message.includes('"SerialNumber"') &&
      err.message.includes('send it'),
  );
});

test('certificate-id-template: thing named after the certificate id', () => {
  const t = parseTemplate(templateFixture('certificate-id-template.json'));
  assert.deepEqual(t.parameterNames, ['AWS::IoT::Certificate::Id']);
  const plan = evaluateTemplate(t, { parameters: { SerialNumber: 'ignored' }, certificate: noSubject });
  assert.equal(plan.thing?.thingName, `FPTemplateName-${CERT_ID}`);
  assert.deepEqual(plan.resources, { thing: `FPTemplateName-${CERT_ID}`, certificate: CERT_ID, policy: 'FPCertPolicy' });
  assert.deepEqual(plan.parameters, { 'AWS::IoT::Certificate::Id': CERT_ID }, 'undeclared device parameters are not part of the result');
});

test('rotation-template: stamps cert_issuance by MERGE, keeps other attributes, returns DeviceConfiguration', () => {
  const t = parseTemplate(templateFixture('rotation-template.json'));
  const existingThing = { thingName: 'born_SN-7', attributes: { cert_issuance: '2023-01-01', site: 'x' }, thingGroups: ['g1'] };
  const plan = evaluateTemplate(t, { parameters: { SerialNumber: 'SN-7', CertDate: '2024-06-30' }, certificate: noSubject, existingThing });
  assert.deepEqual(plan.thing, {
    logicalId: 'thing',
    thingName: 'born_SN-7',
    action: 'update',
    attributes: { cert_issuance: '2024-06-30', site: 'x' },
    thingTypeName: null,
    thingGroups: ['g1'],
    billingGroup: null,
  });
  assert.deepEqual(plan.deviceConfiguration, { rotated: 'true' });
  assert.deepEqual(plan.policies, [{ logicalId: 'policy', kind: 'named', policyName: 'full_citizen_role' }]);
});

test('jitp-template: thing from subject CN, attributes from subject fields, inline policy named by SHA-1', () => {
  const t = parseTemplate(templateFixture('jitp-template.json'), { type: 'JITP' });
  assert.equal(t.templateType, 'JITP');
  const certificate = { certificateId: CERT_ID, subject: { CN: ['device-42'], serialNumber: ['SER0042'], C: ['DE'], O: ['Acme'] } };
  const resolved = resolveTemplate(t, { parameters: {}, certificate });
  const canonical =
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Publish"],"Resource":["arn:aws:iot:us-east-1:123456789012:topic/foo/bar"]}]}';
  const expectedName = createHash('sha1').update(canonical).digest('hex').toUpperCase();
  assert.match(expectedName, /^[0-9A-F]{40}$/);
  assert.deepEqual(resolved.policies, [{ logicalId: 'policy', kind: 'inline', policyName: expectedName, document: canonical }]);
  assert.deepEqual(resolved.thing, {
    logicalId: 'thing',
    thingName: 'device-42',
    attributes: { version: 'v1', serialNumber: 'SER0042' },
    overrides: { AttributePayload: 'MERGE', ThingTypeName: 'REPLACE', ThingGroups: 'DO_NOTHING' },
  });
  assert.deepEqual(resolved.certificate, { logicalId: 'certificate', certificateId: CERT_ID, status: 'ACTIVE' });
  assert.deepEqual(resolved.parameters, {
    'AWS::IoT::Certificate::CommonName': 'device-42',
    'AWS::IoT::Certificate::SerialNumber': 'SER0042',
    'AWS::IoT::Certificate::Country': 'DE',
    'AWS::IoT::Certificate::Id': CERT_ID,
  });
  const plan = evaluateTemplate(t, { parameters: {}, certificate });
  assert.deepEqual(plan.resources, { thing: 'device-42', certificate: CERT_ID, policy: expectedName });
});

test('jitp-template: a certificate without C fails (every declared subject parameter must be extractable)', () => {
  const t = parseTemplate(templateFixture('jitp-template.json'), { type: 'JITP' });
  const certificate = { certificateId: CERT_ID, subject: { CN: ['device-42'], serialNumber: ['SER0042'] } };
  assert.throws(
    () => evaluateTemplate(t, { parameters: {}, certificate }),
    (err: unknown) =>
      err instanceof TemplateError &&
      err.code === 'MissingParameter' &&
      err.parameter === 'AWS::IoT::Certificate::Country' &&
      err.path === 'Parameters.AWS::IoT::Certificate::Country' &&
      /no C attribute/.test(err.message),
  );
});

test('jitp-template is rejected as a fleet template (subject parameters are JITP-only)', () => {
  assert.throws(
    () => parseTemplate(templateFixture('jitp-template.json')),
    (err: unknown) => err instanceof TemplateError && err.code === 'InvalidTemplate' && /only provided to JITP templates/.test(err.message),
  );
});

test('fleet templates with DeviceConfiguration are rejected as JITP', () => {
  assert.throws(
    () => parseTemplate(templateFixture('birthing-template.json'), { type: 'JITP' }),
    (err: unknown) => err instanceof TemplateError && err.path === 'DeviceConfiguration',
  );
  // certificate-id-template has no fleet-only section, so it is a valid JITP template too
  assert.equal(parseTemplate(templateFixture('certificate-id-template.json'), { type: 'JITP' }).templateType, 'JITP');
});

test('a template given as an object parses like its text', () => {
  const text = templateFixture('rotation-template.json');
  const fromText = parseTemplate(text);
  const fromObject = parseTemplate(JSON.parse(text) as object);
  const input = { parameters: { SerialNumber: 'A1', CertDate: 'd1' }, certificate: noSubject };
  assert.deepEqual(evaluateTemplate(fromObject, input), evaluateTemplate(fromText, input));
  assert.deepEqual(fromObject.body, fromText.body);
});

test('a ParsedTemplate rebuilt from storage (not from parseTemplate) is compiled from its body', () => {
  const original = parseTemplate(templateFixture('birthing-template.json'));
  const rebuilt = JSON.parse(JSON.stringify(original)) as typeof original;
  const input = { parameters: { SerialNumber: 'Z9' }, certificate: noSubject };
  assert.deepEqual(evaluateTemplate(rebuilt, input), evaluateTemplate(original, input));
});
