import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkSubscribeReserved,
  checkTopicFilter,
  classifyPublishTopic,
  isRoutableTopic,
  topicMatchesFilter,
} from '../../src/broker/index.js';

test('classifyPublishTopic: ordinary, documented $aws/things, provisioning requests, ingest', () => {
  assert.deepEqual(classifyPublishTopic('plant/7/temp'), { kind: 'routed', reserved: false });
  assert.deepEqual(classifyPublishTopic('$aws/things/pump-7/shadow/update'), { kind: 'routed', reserved: true });
  assert.deepEqual(classifyPublishTopic('$aws/things/pump-7/jobs/get'), { kind: 'routed', reserved: true });
  const request = classifyPublishTopic('$aws/provisioning-templates/birthing_template/provision/cbor');
  assert.equal(request.kind, 'provisioning-request');
  assert.equal(request.kind === 'provisioning-request' && request.parsed.operation, 'RegisterThing');
  assert.equal(classifyPublishTopic('$aws/certificates/create-from-csr/json').kind, 'provisioning-request');
  assert.deepEqual(classifyPublishTopic('$aws/rules/myRule/a/b'), { kind: 'ingest', reserved: true });
});

test('classifyPublishTopic refuses reply topics, malformed reserved topics and other $ topics', () => {
  const cases: Array<[string, RegExp]> = [
    ['$aws/certificates/create/json/accepted', /accepted topic; clients may only subscribe/],
    ['$aws/provisioning-templates/t/provision/json/rejected', /rejected topic; clients may only subscribe/],
    ['$aws/certificates/create/xml', /reserved topic but not a Fleet Provisioning request topic/],
    ['$aws/provisioning-templates/bad name/provision/json', /not a Fleet Provisioning request topic/],
    ['$aws/rules/onlyRule', /not a Basic Ingest topic/],
    ['$aws/rules/r/', /not a Basic Ingest topic/],
    ['$aws/things/pump-7/tunnels/notify', /reserved topic clients may not publish to/],
    ['$aws/things//shadow/update', /reserved topic/],
    ['$aws/events/presence/connected/x', /reserved topic/],
    ['$SYS/broker/heartbeat', /reserved topic/],
    ['$custom', /reserved topic/],
  ];
  for (const [topic, reason] of cases) {
    const result = classifyPublishTopic(topic);
    assert.equal(result.kind, 'refused', topic);
    assert.match(result.kind === 'refused' ? result.reason : '', reason, topic);
  }
});

test('checkTopicFilter enforces bytes, levels and wildcard placement', () => {
  assert.equal(checkTopicFilter('a/+/c/#'), null);
  assert.equal(checkTopicFilter('#'), null);
  assert.equal(checkTopicFilter('a/b/c/d/e/f/g/h'), null);
  assert.match(checkTopicFilter('a/b/c/d/e/f/g/h/i') ?? '', /9 levels; the maximum is 8/);
  assert.equal(checkTopicFilter('x'.repeat(256)), null);
  assert.match(checkTopicFilter('x'.repeat(257)) ?? '', /257 bytes; the maximum is 256/);
  assert.match(checkTopicFilter('é'.repeat(129)) ?? '', /258 bytes/, 'counts UTF-8 bytes, not characters');
  assert.match(checkTopicFilter('') ?? '', /empty/);
  assert.match(checkTopicFilter('a/#/b') ?? '', /# is only allowed as the last level/);
  assert.match(checkTopicFilter('a/b+/c') ?? '', /whole topic level/);
  assert.match(checkTopicFilter('a\u0000b') ?? '', /U\+0000/);
  assert.match(checkTopicFilter('a\ud800') ?? '', /UTF-8/);
  assert.match(checkTopicFilter(42 as unknown as string) ?? '', /must be a string/);
});

test('checkSubscribeReserved: reply topics and $aws/things allowed, requests, ingest and $SYS refused', () => {
  for (const allowed of [
    'plant/#',
    '$aws/things/pump-7/shadow/#',
    '$aws/things/+/jobs/notify',
    '$aws/events/presence/#',
    '$aws/certificates/create/json/accepted',
    '$aws/provisioning-templates/t/provision/cbor/rejected',
    '$aws/certificates/create/#',
    '$aws/+/x',
    '$aws/#',
  ]) {
    assert.equal(checkSubscribeReserved(allowed), null, allowed);
  }
  const refused: Array<[string, RegExp]> = [
    ['$aws/certificates/create/json', /request topic; clients may only publish/],
    ['$aws/provisioning-templates/t/provision/json', /request topic/],
    ['$aws/certificates/other', /not a Fleet Provisioning reply topic/],
    ['$aws/rules/r/t', /Basic Ingest topic; clients may only publish/],
    ['$aws/unknown/x', /reserved topic filter/],
    ['$SYS/#', /reserved topic filter/],
  ];
  for (const [filter, reason] of refused) assert.match(checkSubscribeReserved(filter) ?? '', reason, filter);
});

test('isRoutableTopic keeps request, ingest and $SYS topics away from subscribers', () => {
  assert.equal(isRoutableTopic('a/b'), true);
  assert.equal(isRoutableTopic('$aws/certificates/create/json/accepted'), true);
  assert.equal(isRoutableTopic('$aws/things/x/shadow/update'), true);
  assert.equal(isRoutableTopic('$aws/certificates/create/json'), false);
  assert.equal(isRoutableTopic('$aws/certificates/bogus'), false);
  assert.equal(isRoutableTopic('$aws/rules/r/a'), false);
  assert.equal(isRoutableTopic('$SYS/abc/heartbeat'), false);
});

test('topicMatchesFilter follows MQTT matching, including the $ rule', () => {
  const yes: Array<[string, string]> = [
    ['a/b/c', 'a/b/c'],
    ['a/b/c', 'a/+/c'],
    ['a/b/c', 'a/#'],
    ['a', 'a/#'],
    ['a/b/c', '#'],
    ['/x', '+/x'],
    ['$aws/certificates/create/json/accepted', '$aws/certificates/create/+/accepted'],
    ['$aws/certificates/create/json/accepted', '$aws/#'],
  ];
  const no: Array<[string, string]> = [
    ['a/b/c', 'a/b'],
    ['a/b', 'a/b/c'],
    ['a/b/c', 'a/+'],
    ['a/b/c', 'b/#'],
    ['$aws/x', '#'],
    ['$aws/x', '+/x'],
    ['ab', 'a'],
  ];
  for (const [topic, filter] of yes) assert.equal(topicMatchesFilter(topic, filter), true, `${filter} matches ${topic}`);
  for (const [topic, filter] of no) assert.equal(topicMatchesFilter(topic, filter), false, `${filter} does not match ${topic}`);
});
