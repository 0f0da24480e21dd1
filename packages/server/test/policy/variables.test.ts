import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePolicies, type PolicyContext } from '../../src/policy/index.js';
import { availableCertificateKeys, parseVariableName, resolveConditionKey, substituteVariable } from '../../src/policy/variables.js';
import { deviceContext, doc, named } from './helpers.js';

/** Whether `Allow iot:Publish on topic/<pattern>` allows publishing to topic/<topic> in `ctx`. */
function allowsTopic(pattern: string, topic: string, ctx: PolicyContext): boolean {
  const p = named('v', doc({ Effect: 'Allow', Action: 'iot:Publish', Resource: `arn:aws:iot:us-east-1:123456789012:topic/${pattern}` }));
  return evaluatePolicies([p], 'iot:Publish', `topic/${topic}`, ctx).allowed;
}

const CERT_CTX: PolicyContext = {
  clientId: 'c1',
  certificate: {
    subject: {
      CommonName: ['dev-42'],
      Organization: ['Acme', 'Globex', 'Initech'],
      Country: ['US', 'C*N'],
      OrganizationalUnit: ['a', 'b', 'c', 'd', 'e', 'f'],
    },
    issuer: { CommonName: ['Fleet CA'], Organization: ['Acme'] },
    subjectAltNames: { DNSName: ['dev-42.example.com', 'alt.example.com'], IPAddress: ['10.0.0.7'] },
    serialNumber: '123456789',
  },
};

test('iot:ClientId substitutes the client id', () => {
  assert.equal(allowsTopic('devices/${iot:ClientId}/*', 'devices/c1/x', { clientId: 'c1' }), true);
  assert.equal(allowsTopic('devices/${iot:ClientId}/*', 'devices/c2/x', { clientId: 'c1' }), false);
  assert.equal(allowsTopic('devices/${iot:ClientId}/*', 'devices/c1/x', {}), false);
});

test('iot:ClientId is substituted as is: the "+" client gets the literal filter my/+/topic (AWS gotcha)', () => {
  const p = named('g', doc({ Effect: 'Allow', Action: 'iot:Subscribe', Resource: 'arn:aws:iot:r:a:topicfilter/my/${iot:ClientId}/topic' }));
  assert.equal(evaluatePolicies([p], 'iot:Subscribe', 'topicfilter/my/+/topic', { clientId: '+' }).allowed, true);
  assert.equal(evaluatePolicies([p], 'iot:Subscribe', 'topicfilter/my/+/topic', { clientId: 'dev1' }).allowed, false);
  // Substituted text is literal: a client id "*" is not a wildcard.
  assert.equal(allowsTopic('d/${iot:ClientId}', 'd/anything', { clientId: '*' }), false);
  assert.equal(allowsTopic('d/${iot:ClientId}', 'd/*', { clientId: '*' }), true);
});

test('variable names are case-insensitive', () => {
  assert.equal(allowsTopic('d/${IOT:CLIENTID}', 'd/c1', { clientId: 'c1' }), true);
  assert.equal(parseVariableName('iot:certificate.subject.commonname.LIST')?.name, 'iot:Certificate.Subject.CommonName.List');
});

test('aws:SourceIp substitutes the source address', () => {
  assert.equal(allowsTopic('ip/${aws:SourceIp}', 'ip/192.0.2.1', { sourceIp: '192.0.2.1' }), true);
  assert.equal(allowsTopic('ip/${aws:SourceIp}', 'ip/192.0.2.2', { sourceIp: '192.0.2.1' }), false);
});

test('thing variables resolve only when ctx.thing is set', () => {
  const ctx = deviceContext('pump-7', {
    thing: { thingName: 'pump-7', thingTypeName: 'Pump', attributes: { site: 'plant-3', zone: 'z#1' }, isAttached: true },
  });
  assert.equal(allowsTopic('t/${iot:Connection.Thing.ThingName}', 't/pump-7', ctx), true);
  assert.equal(allowsTopic('t/${iot:Connection.Thing.ThingTypeName}', 't/Pump', ctx), true);
  assert.equal(allowsTopic('t/${iot:Connection.Thing.Attributes[site]}/*', 't/plant-3/x', ctx), true);
  assert.equal(allowsTopic('t/${iot:Connection.Thing.Attributes[missing]}', 't/', ctx), false);
  assert.equal(allowsTopic('t/${iot:Connection.Thing.Attributes[Site]}', 't/plant-3', ctx), false, 'attribute names are case-sensitive');
  // Thing attributes are not certificate values: no character refusal.
  assert.equal(allowsTopic('t/${iot:Connection.Thing.Attributes[zone]}', 't/z#1', ctx), true);
  assert.equal(allowsTopic('t/${iot:Connection.Thing.IsAttached}', 't/true', ctx), true);
  const noThing = { clientId: 'pump-7' };
  assert.equal(allowsTopic('t/${iot:Connection.Thing.ThingName}', 't/pump-7', noThing), false);
  assert.equal(allowsTopic('t/${iot:Connection.Thing.IsAttached}', 't/false', noThing), false);
  const untyped = deviceContext('x');
  assert.equal(allowsTopic('t/${iot:Connection.Thing.ThingTypeName}', 't/', untyped), false);
  // An attribute named like an Object.prototype member is not found on a plain record.
  assert.equal(allowsTopic('t/${iot:Connection.Thing.Attributes[constructor]}', 't/function Object() { [native code] }', ctx), false);
});

test('certificate attributes: bare name is the first value, .N the (N+1)th, missing index fails', () => {
  assert.equal(allowsTopic('o/${iot:Certificate.Subject.Organization}', 'o/Acme', CERT_CTX), true);
  assert.equal(allowsTopic('o/${iot:Certificate.Subject.Organization.1}', 'o/Globex', CERT_CTX), true);
  assert.equal(allowsTopic('o/${iot:Certificate.Subject.Organization.2}', 'o/Initech', CERT_CTX), true);
  assert.equal(allowsTopic('o/${iot:Certificate.Subject.Organization.3}', 'o/', CERT_CTX), false);
  assert.equal(allowsTopic('o/${iot:Certificate.Subject.Organization.3}*', 'o/anything', CERT_CTX), false);
  assert.equal(allowsTopic('cn/${iot:Certificate.Subject.CommonName}', 'cn/dev-42', CERT_CTX), true);
  assert.equal(allowsTopic('cn/${iot:Certificate.Issuer.CommonName}', 'cn/Fleet CA', CERT_CTX), true);
  assert.equal(allowsTopic('s/${iot:Certificate.SerialNumber}', 's/123456789', CERT_CTX), true);
  assert.equal(allowsTopic('d/${iot:Certificate.Subject.AlternativeName.DNSName.1}', 'd/alt.example.com', CERT_CTX), true);
  assert.equal(allowsTopic('d/${iot:Certificate.Subject.AlternativeName.IPAddress}', 'd/10.0.0.7', CERT_CTX), true);
  assert.equal(allowsTopic('d/${iot:Certificate.Issuer.AlternativeName.DNSName}', 'd/x', CERT_CTX), false);
  assert.equal(allowsTopic('t/${iot:Certificate.Subject.Title}', 't/', CERT_CTX), false);
  assert.equal(allowsTopic('t/${iot:Certificate.Subject.CommonName}', 't/dev-42', { clientId: 'x' }), false);
});

test('certificate substitution is refused for * $ + ? #, strings over 1024 chars and items past the 5th', () => {
  assert.equal(allowsTopic('c/${iot:Certificate.Subject.Country}', 'c/US', CERT_CTX), true);
  assert.equal(allowsTopic('c/${iot:Certificate.Subject.Country.1}', 'c/C*N', CERT_CTX), false);
  assert.equal(allowsTopic('c/${iot:Certificate.Subject.Country.1}', 'c/${iot:Certificate.Subject.Country.1}', CERT_CTX), false);
  for (const bad of ['a$b', 'a+b', 'a?b', 'a#b', 'a*b']) {
    const ctx: PolicyContext = { certificate: { subject: { CommonName: [bad] }, issuer: {} } };
    assert.equal(substituteVariable(parseVariableName('iot:Certificate.Subject.CommonName')!, ctx), undefined, bad);
    assert.equal(allowsTopic('cn/${iot:Certificate.Subject.CommonName}', `cn/${bad}`, ctx), false, bad);
  }
  const long = 'x'.repeat(1025);
  const longCtx: PolicyContext = { certificate: { subject: { CommonName: [long], Surname: ['y'.repeat(1024)] }, issuer: {} } };
  assert.equal(allowsTopic('cn/${iot:Certificate.Subject.CommonName}', `cn/${long}`, longCtx), false);
  assert.equal(allowsTopic('cn/${iot:Certificate.Subject.Surname}', `cn/${'y'.repeat(1024)}`, longCtx), true);
  assert.equal(allowsTopic('ou/${iot:Certificate.Subject.OrganizationalUnit.4}', 'ou/e', CERT_CTX), true);
  assert.equal(allowsTopic('ou/${iot:Certificate.Subject.OrganizationalUnit.5}', 'ou/f', CERT_CTX), false);
});

test('.List and AvailableKeys never substitute into a Resource, but are multi-valued condition keys', () => {
  assert.equal(allowsTopic('o/${iot:Certificate.Subject.Organization.List}', 'o/Acme', CERT_CTX), false);
  const list = resolveConditionKey(parseVariableName('iot:Certificate.Subject.Organization.List')!, CERT_CTX);
  assert.deepEqual(list, ['Acme', 'Globex', 'Initech']);
  const ou = resolveConditionKey(parseVariableName('iot:Certificate.Subject.OrganizationalUnit.List')!, CERT_CTX);
  assert.deepEqual(ou, ['a', 'b', 'c', 'd', 'e'], 'items past the 5th are ignored');
  // Condition keys are compared, not substituted: no character refusal.
  assert.equal(resolveConditionKey(parseVariableName('iot:Certificate.Subject.Country.1')!, CERT_CTX), 'C*N');
  assert.deepEqual(availableCertificateKeys(CERT_CTX), [
    'iot:Certificate.Subject.CommonName',
    'iot:Certificate.Subject.Organization',
    'iot:Certificate.Subject.OrganizationalUnit',
    'iot:Certificate.Subject.Country',
    'iot:Certificate.Issuer.CommonName',
    'iot:Certificate.Issuer.Organization',
    'iot:Certificate.Subject.AlternativeName.DNSName',
    'iot:Certificate.Subject.AlternativeName.IPAddress',
    'iot:Certificate.SerialNumber',
  ]);
  assert.equal(resolveConditionKey(parseVariableName('iot:Certificate.AvailableKeys')!, {}), undefined);
});

test('unknown variable names do not parse', () => {
  for (const name of [
    'iot:Nope',
    'iot:Certificate.Subject.Email',
    'iot:Certificate.Subject.CommonName.x',
    'iot:Certificate.Subject.CommonName.1.2',
    'iot:Certificate.Other.CommonName',
    'iot:Connection.Thing.Attributes[]',
    'iot:Connection.Thing.Attributes[a]b]',
    '__proto__',
    'constructor',
  ]) {
    assert.equal(parseVariableName(name), null, name);
  }
});
