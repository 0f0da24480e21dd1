import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DefaultDenyDecision,
  evaluatePolicies,
  explainDecision,
  type NamedParsedPolicy,
  type ParsedPolicy,
} from '../../src/policy/index.js';
import { deviceContext, doc, fixtureText, named } from './helpers.js';

const claim = named('claim', fixtureText('claim-policy'));
const device = named('device', fixtureText('device-policy'));
const citizen = named('full_citizen_role', fixtureText('full-citizen-policy'));

/** AWS's example claim policy (fleet-provision-api.html), which only covers the CreateKeysAndCertificate flow. */
const keysOnlyClaim = named('claim-keys-only', {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: ['iot:Connect'], Resource: '*' },
    {
      Effect: 'Allow',
      Action: ['iot:Publish', 'iot:Receive'],
      Resource: [
        'arn:aws:iot:REGION:ACCT:topic/$aws/certificates/create/*',
        'arn:aws:iot:REGION:ACCT:topic/$aws/provisioning-templates/TEMPLATE/provision/*',
      ],
    },
    {
      Effect: 'Allow',
      Action: 'iot:Subscribe',
      Resource: [
        'arn:aws:iot:REGION:ACCT:topicfilter/$aws/certificates/create/*',
        'arn:aws:iot:REGION:ACCT:topicfilter/$aws/provisioning-templates/TEMPLATE/provision/*',
      ],
    },
  ],
});

const allowed = (ps: NamedParsedPolicy[], action: string, resource: string, ctx = {}): boolean =>
  evaluatePolicies(ps, action, resource, ctx).allowed;

test('claim policy: the provisioning topics of both flows and nothing else', () => {
  const ps = [claim];
  const ctx = { clientId: 'claim-123' };
  assert.equal(allowed(ps, 'iot:Connect', 'client/anything', ctx), true);
  assert.equal(allowed(ps, 'iot:Publish', 'topic/$aws/certificates/create/json', ctx), true);
  assert.equal(allowed(ps, 'iot:Publish', 'topic/$aws/certificates/create/cbor', ctx), true);
  assert.equal(allowed(ps, 'iot:Receive', 'topic/$aws/certificates/create/json/accepted', ctx), true);
  assert.equal(allowed(ps, 'iot:Subscribe', 'topicfilter/$aws/certificates/create/json/accepted', ctx), true);
  assert.equal(allowed(ps, 'iot:Subscribe', 'topicfilter/$aws/certificates/create/json/+', ctx), true);
  assert.equal(allowed(ps, 'iot:Publish', 'topic/$aws/certificates/create-from-csr/json', ctx), true);
  assert.equal(allowed(ps, 'iot:Publish', 'topic/$aws/provisioning-templates/birthing_template/provision/json', ctx), true);
  assert.equal(allowed(ps, 'iot:Publish', 'topic/$aws/provisioning-templates/other_template/provision/json', ctx), false);
  // Subscribe permissions are topicfilter/, publish ones topic/ (python-v2 #80).
  assert.equal(allowed(ps, 'iot:Subscribe', 'topic/$aws/certificates/create/json/accepted', ctx), false);
  assert.equal(allowed(ps, 'iot:Publish', 'topicfilter/$aws/certificates/create/json', ctx), false);
  assert.equal(allowed(ps, 'iot:Publish', 'topic/$aws/things/claim-123/shadow/update', ctx), false);
  assert.equal(allowed(ps, 'iot:RetainPublish', 'topic/$aws/certificates/create/json', ctx), false);
});

test("AWS's keys-only claim policy denies create-from-csr (the gotcha of the AWS example), with a hint", () => {
  const ps = [keysOnlyClaim];
  assert.equal(allowed(ps, 'iot:Publish', 'topic/$aws/certificates/create/json'), true);
  const d = evaluatePolicies(ps, 'iot:Publish', 'topic/$aws/certificates/create-from-csr/json');
  assert.equal(d.allowed, false);
  assert.equal(d.decidingStatement, undefined);
  assert.equal(d.reason, 'denied: no statement allowed iot:Publish on topic/$aws/certificates/create-from-csr/json');
  assert.match(explainDecision(d), /create-from-csr/);
  assert.equal(allowed(ps, 'iot:Subscribe', 'topicfilter/$aws/certificates/create-from-csr/json/accepted'), false);
  assert.equal(allowed(ps, 'iot:Subscribe', 'topicfilter/$aws/certificates/create/json/accepted'), true);
});

test('device policy: connect only as its thing name, topics only under its thing', () => {
  const ps = [device];
  const ctx = deviceContext('born_ABC123');
  assert.equal(allowed(ps, 'iot:Connect', 'client/born_ABC123', ctx), true);
  assert.equal(allowed(ps, 'iot:Connect', 'client/someone_else', ctx), false);
  assert.equal(
    allowed(ps, 'iot:Connect', 'client/born_ABC123', { clientId: 'born_ABC123' }),
    false,
    'no thing attached: variables do not resolve',
  );
  assert.equal(allowed(ps, 'iot:Publish', 'topic/$aws/things/born_ABC123/shadow/update', ctx), true);
  assert.equal(allowed(ps, 'iot:Receive', 'topic/$aws/things/born_ABC123/shadow/update/accepted', ctx), true);
  assert.equal(allowed(ps, 'iot:Subscribe', 'topicfilter/$aws/things/born_ABC123/shadow/#', ctx), true);
  assert.equal(allowed(ps, 'iot:Publish', 'topic/$aws/things/other/shadow/update', ctx), false);
  assert.equal(allowed(ps, 'iot:Publish', 'topic/$aws/things/born_ABC123', ctx), false, 'needs the trailing /');
  assert.equal(allowed(ps, 'iot:Subscribe', 'topicfilter/$aws/things/+/shadow/#', ctx), false, '+ is literal');
});

test('full-citizen policy allows IoT data and shadow actions; greengrass entries never match iot requests', () => {
  const ps = [citizen];
  for (const a of [
    'iot:Publish',
    'iot:Subscribe',
    'iot:Connect',
    'iot:Receive',
    'iot:GetThingShadow',
    'iot:UpdateThingShadow',
    'iot:DeleteThingShadow',
  ]) {
    assert.equal(allowed(ps, a, 'topic/x'), true, a);
  }
  assert.equal(allowed(ps, 'iot:RetainPublish', 'topic/x'), false);
  assert.equal(allowed(ps, 'iot:ListNamedShadowsForThing', 'thing/x'), false);
  assert.equal(evaluatePolicies(ps, 'greengrass:Discover', 'thing/x').reason, 'allowed by policy "full_citizen_role" statement 2');
});

test('action matching is case-insensitive with wildcards', () => {
  const p = named('a', doc({ Effect: 'Allow', Action: ['IOT:publish', 'iot:Get*', 'iot:?eceive'], Resource: '*' }));
  assert.equal(allowed([p], 'iot:Publish', 'topic/a'), true);
  assert.equal(allowed([p], 'iot:PUBLISH', 'topic/a'), true);
  assert.equal(allowed([p], 'iot:GetRetainedMessage', 'topic/a'), true);
  assert.equal(allowed([p], 'iot:Receive', 'topic/a'), true);
  assert.equal(allowed([p], 'iot:Subscribe', 'topicfilter/a'), false);
  const star = named('s', doc({ Effect: 'Allow', Action: '*', Resource: '*' }));
  assert.equal(allowed([star], 'iot:AssumeRoleWithCertificate', 'rolealias/r'), true);
});

test('ARNs: any partition, region and account; only service iot', () => {
  const entries = [
    'arn:aws-cn:iot:cn-north-1:000000000000:topic/a',
    'arn:aws:iot:*:*:topic/b',
    'arn:aws-us-gov:iot:::topic/c',
    'arn:aws:i?t:x:y:topic/d',
    'arn:aws:iot:${iot:ClientId}:acct:topic/e/${iot:ClientId}',
  ];
  const p = named('arn', doc({ Effect: 'Allow', Action: 'iot:Publish', Resource: entries }));
  for (const t of ['a', 'b', 'c', 'd']) assert.equal(allowed([p], 'iot:Publish', `topic/${t}`), true, t);
  assert.equal(allowed([p], 'iot:Publish', 'topic/e/dev1', { clientId: 'dev1' }), true);
  const other = named('other', doc({ Effect: 'Allow', Action: '*', Resource: ['arn:aws:greengrass:r:a:topic/a', 'arn:aws:s3:::*'] }));
  assert.equal(allowed([other], 'iot:Publish', 'topic/a'), false);
  const wholeType = named('all', doc({ Effect: 'Allow', Action: 'iot:*', Resource: 'arn:aws:iot:r:a:*' }));
  assert.equal(allowed([wholeType], 'iot:Connect', 'client/x'), true);
  const typePrefix = named('tp', doc({ Effect: 'Allow', Action: 'iot:*', Resource: 'arn:aws:iot:r:a:topic*' }));
  assert.equal(allowed([typePrefix], 'iot:Subscribe', 'topicfilter/x'), true, '* crosses the type boundary too');
});

test('explicit Deny wins over every Allow, in any policy and any order', () => {
  const allowAll = named('a-allow', doc({ Effect: 'Allow', Action: 'iot:*', Resource: '*' }));
  const deny = named(
    'z-deny',
    doc(
      { Effect: 'Allow', Action: 'iot:Publish', Resource: 'arn:aws:iot:r:a:topic/secret/*' },
      { Sid: 'NoSecrets', Effect: 'Deny', Action: 'iot:Publish', Resource: 'arn:aws:iot:r:a:topic/secret/*' },
    ),
  );
  for (const ps of [
    [allowAll, deny],
    [deny, allowAll],
  ]) {
    const d = evaluatePolicies(ps, 'iot:Publish', 'topic/secret/x');
    assert.equal(d.allowed, false);
    assert.deepEqual(d.decidingStatement, { policyName: 'z-deny', statementIndex: 1, sid: 'NoSecrets', effect: 'Deny' });
    assert.equal(d.reason, 'denied by policy "z-deny" statement 1 (Sid "NoSecrets", explicit Deny)');
    assert.match(explainDecision(d), /explicit Deny overrides every Allow/);
    assert.equal(evaluatePolicies(ps, 'iot:Publish', 'topic/public').reason, 'allowed by policy "a-allow" statement 0');
  }
  const plainDeny = named('x', doc({ Effect: 'Deny', Action: 'iot:Connect', Resource: '*' }));
  assert.equal(evaluatePolicies([plainDeny], 'iot:Connect', 'client/a').reason, 'denied by policy "x" statement 0 (explicit Deny)');
});

test('the first matching Allow (by policy name, then statement) decides', () => {
  const b = named('b', doc({ Effect: 'Allow', Action: 'iot:*', Resource: '*' }));
  const a = named(
    'a',
    doc(
      { Sid: 'Second', Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:r:a:client/z' },
      { Sid: 'First', Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
    ),
  );
  for (const ps of [
    [a, b],
    [b, a],
  ]) {
    const d = evaluatePolicies(ps, 'iot:Connect', 'client/y');
    assert.deepEqual(d.decidingStatement, { policyName: 'a', statementIndex: 1, sid: 'First', effect: 'Allow' });
    assert.equal(d.reason, 'allowed by policy "a" statement 1 (Sid "First")');
  }
});

test('NotAction and NotResource behave as in IAM', () => {
  const notAction = named('na', doc({ Effect: 'Allow', NotAction: ['iot:Publish', 'iot:Subscribe'], Resource: '*' }));
  assert.equal(allowed([notAction], 'iot:Connect', 'client/a'), true);
  assert.equal(allowed([notAction], 'iot:Publish', 'topic/a'), false);
  const notResource = named(
    'nr',
    doc({ Effect: 'Allow', Action: 'iot:Publish', NotResource: ['arn:aws:iot:r:a:topic/admin/*', 'arn:aws:iot:r:a:topic/$aws/*'] }),
  );
  assert.equal(allowed([notResource], 'iot:Publish', 'topic/app/x'), true);
  assert.equal(allowed([notResource], 'iot:Publish', 'topic/admin/x'), false);
  assert.equal(allowed([notResource], 'iot:Receive', 'topic/app/x'), false);
  // Deny everything except own topics.
  const guard = named(
    'guard',
    doc(
      { Effect: 'Allow', Action: 'iot:*', Resource: '*' },
      { Effect: 'Deny', Action: 'iot:Publish', NotResource: 'arn:aws:iot:r:a:topic/d/${iot:ClientId}/*' },
    ),
  );
  assert.equal(allowed([guard], 'iot:Publish', 'topic/d/c1/x', { clientId: 'c1' }), true);
  assert.equal(allowed([guard], 'iot:Publish', 'topic/d/c2/x', { clientId: 'c1' }), false);
  assert.equal(allowed([guard], 'iot:Publish', 'topic/d/c1/x', {}), false, 'unresolved NotResource entry excludes nothing');
  const notStar = named('ns', doc({ Effect: 'Allow', Action: 'iot:*', NotResource: '*' }));
  assert.equal(allowed([notStar], 'iot:Connect', 'client/a'), false);
});

test('no policies: default deny with a lazy reason', () => {
  const d = evaluatePolicies([], 'iot:Subscribe', 'topicfilter/a/b');
  assert.ok(d instanceof DefaultDenyDecision);
  assert.equal(d.allowed, false);
  assert.equal(d.reason, 'denied: no statement allowed iot:Subscribe on topicfilter/a/b');
  assert.deepEqual(JSON.parse(JSON.stringify(d)), { allowed: false, reason: d.reason });
  const long = evaluatePolicies([], 'iot:Publish', `topic/${'x'.repeat(5000)}`);
  assert.ok(long.reason.length < 400);
});

test('explainDecision describes each kind of decision', () => {
  const allow = evaluatePolicies([claim], 'iot:Connect', 'client/x');
  assert.equal(
    explainDecision(allow),
    'ALLOWED: allowed by policy "claim" statement 0\n  deciding statement: policy "claim", Statement[0], Effect Allow',
  );
  const sub = explainDecision(evaluatePolicies([claim], 'iot:Subscribe', 'topicfilter/a/+/b'));
  assert.match(sub, /^DENIED: denied: no statement allowed iot:Subscribe on topicfilter\/a\/\+\/b/);
  assert.match(sub, /default deny/);
  assert.match(sub, /"\+" and "#" are literal/);
});

test('a hand-built ParsedPolicy is validated before use', () => {
  const good: ParsedPolicy = {
    version: '2012-10-17',
    size: 0,
    warnings: [],
    statements: [
      { index: 0, effect: 'Allow', actions: ['iot:Connect'], notAction: false, resources: ['*'], notResource: false, conditions: [] },
    ],
  };
  assert.equal(allowed([{ policyName: 'h', policy: good }], 'iot:Connect', 'client/a'), true);
  const bad = { ...good, statements: [{ ...good.statements[0]!, resources: ['topic/a'] }] };
  assert.throws(() => evaluatePolicies([{ policyName: 'h', policy: bad }], 'iot:Connect', 'client/a'), {
    code: 'MalformedPolicy',
    path: 'Statement[0].Resource[0]',
  });
});
