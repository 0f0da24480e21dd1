/**
 * Engine benchmark: template evaluations/s for a realistic template and cached policy decisions/s
 * for a principal with 3 policies and 20 statements.
 *
 *   npm run bench            (from the repository root)
 *   node packages/server/dist/bench/engines.js [--seconds N]
 */
import { parseTemplate, evaluateTemplate } from '../src/templates/index.js';
import { PolicyCache } from '../src/policy/index.js';
import type { NamedPolicy, PolicyContext } from '../src/policy/types.js';
import { measure, printTable, type Measurement } from './measure.js';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1] || 2) || 2;

// The reference client's template (thing born_<serial>, MERGE attributes), plus a device configuration.
const birthing = parseTemplate({
  Parameters: {
    SerialNumber: { Type: 'String' },
    Location: { Type: 'String', Default: 'factory-1' },
    'AWS::IoT::Certificate::Id': { Type: 'String' },
  },
  Mappings: { Regions: { 'factory-1': { Group: 'emea' }, 'factory-2': { Group: 'amer' } } },
  Resources: {
    certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'Active' } },
    policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'full_citizen_role' } },
    thing: {
      Type: 'AWS::IoT::Thing',
      OverrideSettings: { AttributePayload: 'MERGE', ThingGroups: 'DO_NOTHING', ThingTypeName: 'REPLACE' },
      Properties: {
        ThingName: { 'Fn::Join': ['', ['born_', { Ref: 'SerialNumber' }]] },
        AttributePayload: { location: { Ref: 'Location' }, region: { 'Fn::FindInMap': ['Regions', { Ref: 'Location' }, 'Group'] } },
        ThingGroups: [],
      },
    },
  },
  DeviceConfiguration: { Fallback: 'false', Topic: { 'Fn::Sub': 'devices/${SerialNumber}/telemetry' } },
});
const certificateId = 'a'.repeat(64);
const existingThing = { thingName: 'born_123', attributes: { firmware: '1.0' }, thingGroups: [], thingTypeName: null };
let i = 0;

const templateNew = measure('template: evaluate (new thing)', seconds, () => {
  evaluateTemplate(birthing, { parameters: { SerialNumber: String(i++) }, certificate: { certificateId } });
});
const templateExisting = measure('template: evaluate (existing thing, MERGE)', seconds, () => {
  evaluateTemplate(birthing, { parameters: { SerialNumber: '123' }, certificate: { certificateId }, existingThing });
});

// 3 policies, 20 statements: a claim-like policy, a device policy with thing variables, and a shared policy.
const arn = 'arn:aws:iot:us-east-1:123456789012';
function stmt(effect: string, action: string | string[], resource: string | string[]) {
  return { Effect: effect, Action: action, Resource: resource };
}
const devicePolicy = {
  Version: '2012-10-17',
  Statement: [
    stmt('Allow', 'iot:Connect', `${arn}:client/\${iot:Connection.Thing.ThingName}`),
    stmt('Allow', ['iot:Publish', 'iot:Receive'], `${arn}:topic/$aws/things/\${iot:Connection.Thing.ThingName}/*`),
    stmt('Allow', 'iot:Subscribe', `${arn}:topicfilter/$aws/things/\${iot:Connection.Thing.ThingName}/*`),
    stmt('Allow', ['iot:Publish', 'iot:Receive'], `${arn}:topic/devices/\${iot:ClientId}/telemetry`),
    stmt('Allow', 'iot:Subscribe', `${arn}:topicfilter/devices/\${iot:ClientId}/commands/*`),
    stmt('Allow', 'iot:Receive', `${arn}:topic/devices/\${iot:ClientId}/commands/*`),
    stmt('Deny', 'iot:Publish', `${arn}:topic/devices/\${iot:ClientId}/commands/*`),
  ],
};
const sharedPolicy = {
  Version: '2012-10-17',
  Statement: [
    stmt('Allow', 'iot:Subscribe', [`${arn}:topicfilter/broadcast/+`, `${arn}:topicfilter/broadcast/#`]),
    stmt('Allow', 'iot:Receive', `${arn}:topic/broadcast/*`),
    stmt('Allow', 'iot:Publish', `${arn}:topic/fleet/metrics/\${iot:ClientId}`),
    stmt('Deny', 'iot:*', `${arn}:topic/fleet/admin/*`),
    stmt('Allow', 'iot:GetThingShadow', `${arn}:thing/\${iot:Connection.Thing.ThingName}`),
    stmt('Allow', 'iot:UpdateThingShadow', `${arn}:thing/\${iot:Connection.Thing.ThingName}`),
    stmt('Deny', 'iot:Connect', `${arn}:client/admin-*`),
  ],
};
const extraPolicy = {
  Version: '2012-10-17',
  Statement: [
    stmt('Allow', 'iot:Publish', `${arn}:topic/logs/?/\${iot:ClientId}`),
    stmt('Allow', 'iot:Subscribe', `${arn}:topicfilter/logs/+/\${iot:ClientId}`),
    stmt('Allow', 'iot:Receive', `${arn}:topic/logs/*`),
    stmt('Deny', 'iot:Publish', `${arn}:topic/logs/x/*`),
    {
      Effect: 'Allow',
      Action: 'iot:Publish',
      Resource: `${arn}:topic/attr/*`,
      Condition: { StringEquals: { 'iot:Connection.Thing.Attributes[tier]': 'gold' } },
    },
    stmt('Allow', 'iot:RetainPublish', `${arn}:topic/state/\${iot:ClientId}`),
  ],
};
const policies: NamedPolicy[] = [
  { policyName: 'device', version: '1', document: JSON.stringify(devicePolicy) },
  { policyName: 'shared', version: '3', document: JSON.stringify(sharedPolicy) },
  { policyName: 'extra', version: '2', document: JSON.stringify(extraPolicy) },
];
const statementCount = [devicePolicy, sharedPolicy, extraPolicy].reduce((n, p) => n + p.Statement.length, 0);
const ctx: PolicyContext = { clientId: 'born_123', thing: { thingName: 'born_123', attributes: { tier: 'gold' }, isAttached: true } };
const cache = new PolicyCache();
const requests: Array<[string, string]> = [
  ['iot:Publish', 'topic/$aws/things/born_123/shadow/update'],
  ['iot:Receive', 'topic/broadcast/all'],
  ['iot:Subscribe', 'topicfilter/devices/born_123/commands/#'],
  ['iot:Publish', 'topic/fleet/admin/reboot'],
  ['iot:Connect', 'client/born_123'],
  ['iot:Publish', 'topic/somewhere/else'],
];
let r = 0;
// The broker's hot path: a connection holds its compiled set (from the cache) and calls authorize.
const compiled = cache.compile(policies);
const policyCached = measure(`policy: authorize, compiled set (3 policies, ${statementCount} statements)`, seconds, () => {
  const req = requests[r++ % requests.length]!;
  compiled.authorize(req[0], req[1], ctx);
});
const policyLookup = measure('policy: cache lookup + authorize', seconds, () => {
  const req = requests[r++ % requests.length]!;
  cache.compile(policies).authorize(req[0], req[1], ctx);
});
const uncached = measure('policy: compile + authorize (no cache, baseline)', seconds, () => {
  const req = requests[r++ % requests.length]!;
  new PolicyCache().compile(policies).authorize(req[0], req[1], ctx);
});

const rows: Measurement[] = [templateNew, templateExisting, policyCached, policyLookup, uncached];
printTable(rows);
console.log(`cached/uncached policy ratio: ${(policyCached.opsPerSec / uncached.opsPerSec).toFixed(1)}x`);
console.log(
  `goals: template >= 100000/s (${templateNew.opsPerSec >= 100_000 ? 'met' : 'NOT met'}), cached policy >= 2000000/s (${policyCached.opsPerSec >= 2_000_000 ? 'met' : 'NOT met'})`,
);
