import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compilePolicies,
  DefaultDenyDecision,
  evaluatePolicies,
  PolicyCache,
  PolicyError,
  policySetKey,
  type NamedPolicy,
} from '../../src/policy/index.js';
import { deviceContext, doc, fixtureText, named } from './helpers.js';

const claimDoc = fixtureText('claim-policy');
const deviceDoc = fixtureText('device-policy');
const policies: NamedPolicy[] = [
  { policyName: 'device', version: '1', document: deviceDoc },
  { policyName: 'claim', version: '2', document: claimDoc },
];

test('policySetKey is the sorted, de-duplicated name@version list', () => {
  assert.equal(policySetKey(policies), 'claim@2\ndevice@1');
  assert.equal(policySetKey([...policies].reverse()), 'claim@2\ndevice@1');
  assert.equal(policySetKey([...policies, policies[0]!]), 'claim@2\ndevice@1');
  assert.equal(policySetKey([]), '');
});

test('compiled sets decide like evaluatePolicies on the example policies', () => {
  const set = compilePolicies(policies);
  const parsed = [named('device', deviceDoc), named('claim', claimDoc, '2')];
  const ctx = deviceContext('born_1');
  const requests: [string, string][] = [
    ['iot:Connect', 'client/born_1'],
    ['iot:Connect', 'client/x'],
    ['iot:Publish', 'topic/$aws/things/born_1/shadow/update'],
    ['iot:Publish', 'topic/$aws/certificates/create/json'],
    ['iot:Subscribe', 'topicfilter/$aws/things/born_1/#'],
    ['iot:Subscribe', 'topicfilter/$aws/certificates/create/json/accepted'],
    ['iot:Receive', 'topic/other'],
    ['iot:GetThingShadow', 'thing/born_1'],
    ['IOT:CONNECT', 'client/q'],
  ];
  for (const [a, r] of requests) {
    const c = set.authorize(a, r, ctx);
    const e = evaluatePolicies(parsed, a, r, ctx);
    assert.equal(c.allowed, e.allowed, `${a} ${r}`);
    assert.deepEqual(c.decidingStatement, e.decidingStatement);
    assert.equal(c.reason, e.reason);
  }
  assert.deepEqual(
    set.members.map((m) => m.policyName),
    ['claim', 'device'],
  );
});

test('statement decisions are shared frozen objects; default deny is fresh', () => {
  const set = compilePolicies(policies);
  const a = set.authorize('iot:Connect', 'client/a');
  const b = set.authorize('iot:Connect', 'client/b');
  assert.equal(a, b);
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a.decidingStatement));
  const d = set.authorize('iot:Publish', 'topic/nope');
  assert.ok(d instanceof DefaultDenyDecision);
  assert.equal(d.reason, 'denied: no statement allowed iot:Publish on topic/nope');
});

test('the resource index never hides a statement', () => {
  const p = named(
    'idx',
    doc(
      { Sid: 'Exact', Effect: 'Allow', Action: 'iot:Publish', Resource: 'arn:aws:iot:r:a:topic/a' },
      { Sid: 'Deep', Effect: 'Allow', Action: 'iot:Publish', Resource: 'arn:aws:iot:r:a:topic/a/b/*' },
      { Sid: 'Var', Effect: 'Allow', Action: 'iot:Publish', Resource: 'arn:aws:iot:r:a:topic/${iot:ClientId}/x' },
      { Sid: 'Short', Effect: 'Allow', Action: 'iot:Publish', Resource: 'arn:aws:iot:r:a:top*' },
      { Sid: 'DenyQ', Effect: 'Deny', Action: 'iot:Publish', Resource: 'arn:aws:iot:r:a:topic/a/?/q' },
    ),
  );
  const set = compilePolicies([p]);
  const ctx = { clientId: 'c9' };
  const cases: [string, string][] = [
    ['topic/a', 'Exact'],
    ['topic/a/b/c', 'Deep'],
    ['topic/c9/x', 'Var'],
    ['topic/zzz', 'Short'],
    ['topicfilter', 'Short'],
    ['topic/a/z/q', 'DenyQ'],
    ['topic/a/b/q', 'DenyQ'],
  ];
  for (const [resource, sid] of cases) {
    assert.equal(set.authorize('iot:Publish', resource, ctx).decidingStatement?.sid, sid, resource);
    assert.equal(evaluatePolicies([p], 'iot:Publish', resource, ctx).decidingStatement?.sid, sid, resource);
  }
});

test('PolicyCache returns the cached set for the same name@version list in any order', () => {
  const cache = new PolicyCache();
  const first = cache.compile(policies);
  const again = cache.compile([...policies].reverse());
  assert.equal(again, first);
  assert.deepEqual(cache.stats, { hits: 1, misses: 1, evictions: 0 });
  assert.equal(cache.size, 1);
});

test('PolicyCache: a new version invalidates, and the new document decides', () => {
  const cache = new PolicyCache();
  const v1 = {
    policyName: 'p',
    version: '1',
    document: JSON.stringify(doc({ Effect: 'Allow', Action: 'iot:Publish', Resource: 'arn:aws:iot:r:a:topic/a' })),
  };
  const v2 = {
    policyName: 'p',
    version: '2',
    document: JSON.stringify(doc({ Effect: 'Allow', Action: 'iot:Publish', Resource: 'arn:aws:iot:r:a:topic/b' })),
  };
  assert.equal(cache.compile([v1]).authorize('iot:Publish', 'topic/a').allowed, true);
  const set2 = cache.compile([v2]);
  assert.equal(set2.authorize('iot:Publish', 'topic/a').allowed, false);
  assert.equal(set2.authorize('iot:Publish', 'topic/b').allowed, true);
  assert.equal(cache.stats.misses, 2);
  // Switching back to v1 (SetDefaultPolicyVersion) hits the old entry.
  assert.equal(cache.compile([v1]).authorize('iot:Publish', 'topic/a').allowed, true);
  assert.equal(cache.stats.hits, 1);
});

test('PolicyCache recompiles when a document changes under the same version', () => {
  const cache = new PolicyCache();
  const a = { policyName: 'p', version: '1', document: JSON.stringify(doc({ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' })) };
  const b = { ...a, document: JSON.stringify(doc({ Effect: 'Deny', Action: 'iot:Connect', Resource: '*' })) };
  assert.equal(cache.compile([a]).authorize('iot:Connect', 'client/x').allowed, true);
  assert.equal(cache.compile([b]).authorize('iot:Connect', 'client/x').allowed, false);
  assert.equal(cache.stats.misses, 2);
});

test('PolicyCache is a bounded LRU', () => {
  const cache = new PolicyCache({ maxEntries: 2 });
  const mk = (name: string): NamedPolicy[] => [{ policyName: name, version: '1', document: claimDoc }];
  const a = cache.compile(mk('a'));
  cache.compile(mk('b'));
  assert.equal(cache.compile(mk('a')), a, 'a is now most recent');
  cache.compile(mk('c')); // evicts b
  assert.equal(cache.size, 2);
  assert.equal(cache.stats.evictions, 1);
  assert.equal(cache.compile(mk('a')), a);
  const missesBefore = cache.stats.misses;
  cache.compile(mk('b'));
  assert.equal(cache.stats.misses, missesBefore + 1);
});

test('PolicyCache.invalidate and clear drop entries', () => {
  const cache = new PolicyCache();
  const set = cache.compile(policies);
  cache.compile([policies[1]!]);
  cache.invalidate('device');
  assert.equal(cache.size, 1);
  assert.notEqual(cache.compile(policies), set);
  cache.clear();
  assert.equal(cache.size, 0);
});

test('a malformed document fails compile with the policy named', () => {
  const cache = new PolicyCache();
  const bad: NamedPolicy = {
    policyName: 'broken',
    version: '3',
    document: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*"}]}',
  };
  assert.throws(
    () => cache.compile([policies[0]!, bad]),
    (err: unknown) => {
      assert.ok(err instanceof PolicyError);
      assert.equal(err.policyName, 'broken');
      assert.equal(err.path, 'Statement[0]');
      assert.equal(err.message, 'policy "broken": Statement[0]: needs "Resource" (or "NotResource")');
      return true;
    },
  );
  assert.throws(() => compilePolicies([bad]), { policyName: 'broken' });
  const strict = new PolicyCache({ parse: { maxChars: 100 } });
  assert.throws(() => strict.compile(policies), { path: '', code: 'MalformedPolicy' });
});

test('actions beyond the per-set plan limit are still decided correctly', () => {
  const set = compilePolicies([named('all', doc({ Effect: 'Allow', Action: 'iot:*', Resource: '*' }))]);
  for (let i = 0; i < 1000; i++) assert.equal(set.authorize(`iot:X${i}`, 'topic/a').allowed, true);
  assert.equal(set.authorize('other:X', 'topic/a').allowed, false);
});
