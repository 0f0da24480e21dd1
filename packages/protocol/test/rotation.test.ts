import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isRotationRequestTopic,
  isRotationServerTopic,
  parseRotationNotice,
  parseRotationTopic,
  rotationAckReplyTopic,
  rotationAckTopic,
  rotationNotifyTopic,
  rotationTopics,
} from '../src/index.js';

describe('rotation topics', () => {
  it('builds the four topics of a thing', () => {
    assert.deepEqual(rotationTopics('dev_1'), {
      request: 'fleetprov/things/dev_1/rotation/ack',
      accepted: 'fleetprov/things/dev_1/rotation/ack/accepted',
      rejected: 'fleetprov/things/dev_1/rotation/ack/rejected',
      notify: 'fleetprov/things/dev_1/rotation/notify',
    });
    assert.equal(rotationAckTopic('dev_1'), rotationTopics('dev_1').request);
    assert.equal(rotationAckReplyTopic('dev_1', 'rejected'), rotationTopics('dev_1').rejected);
    assert.equal(rotationNotifyTopic('dev_1'), rotationTopics('dev_1').notify);
  });

  it('parses each topic it builds, and nothing else', () => {
    const t = rotationTopics('dev_1');
    assert.deepEqual(parseRotationTopic(t.request), { thingName: 'dev_1', kind: 'ack' });
    assert.deepEqual(parseRotationTopic(t.accepted), { thingName: 'dev_1', kind: 'ack-accepted' });
    assert.deepEqual(parseRotationTopic(t.rejected), { thingName: 'dev_1', kind: 'ack-rejected' });
    assert.deepEqual(parseRotationTopic(t.notify), { thingName: 'dev_1', kind: 'notify' });
    for (const other of [
      'fleetprov/things/dev_1/rotation',
      'fleetprov/things/dev_1/rotation/ack/other',
      'fleetprov/things/dev_1/rotation/notify/x',
      'fleetprov/things/dev_1/shadow/ack',
      'fleetprov/things/bad thing/rotation/ack',
      '$aws/things/dev_1/rotation/ack',
    ]) {
      assert.equal(parseRotationTopic(other), null, other);
    }
  });

  it('tells device requests from server-only topics', () => {
    const t = rotationTopics('dev_1');
    assert.equal(isRotationRequestTopic(t.request), true);
    assert.equal(isRotationServerTopic(t.request), false);
    for (const topic of [t.accepted, t.rejected, t.notify]) {
      assert.equal(isRotationServerTopic(topic), true, topic);
      assert.equal(isRotationRequestTopic(topic), false, topic);
    }
  });
});

describe('parseRotationNotice', () => {
  it('reads the notice from bytes or text, ignoring unknown fields', () => {
    const doc = {
      rotationId: 'r1',
      thingName: 'dev_1',
      certificateId: 'a'.repeat(64),
      reason: 'age',
      state: 'requested',
      templateName: 'rot',
      requestedAt: '2026-01-01T00:00:00.000Z',
      extra: 1,
    };
    const expected = {
      rotationId: 'r1',
      thingName: 'dev_1',
      certificateId: 'a'.repeat(64),
      reason: 'age',
      templateName: 'rot',
      requestedAt: '2026-01-01T00:00:00.000Z',
    };
    assert.deepEqual(parseRotationNotice(JSON.stringify(doc)), expected);
    assert.deepEqual(parseRotationNotice(new TextEncoder().encode(JSON.stringify(doc))), expected);
  });

  it('returns null for anything that is not a notice', () => {
    for (const bad of [
      '',
      'nope',
      '[]',
      'null',
      '{"rotationId":"r1","thingName":"t"}',
      '{"rotationId":1,"thingName":"t","certificateId":"c"}',
    ]) {
      assert.equal(parseRotationNotice(bad), null, bad);
    }
  });
});
