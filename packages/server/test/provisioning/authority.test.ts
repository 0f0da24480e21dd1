/**
 * The registry-backed broker authority over the real broker: which certificates may connect, the
 * policies and policy variables of a connection, background refresh of policy changes, and the
 * handling of a policy that does not compile.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { issueDeviceCertificate } from '../../src/pki/index.js';
import type { OnboardingAttempt } from '../../src/provisioning/index.js';
import { closed, connackRefusal, startLab, subscribeGranted, type DeviceCredentials, type Lab } from './helpers.js';

const ALLOW_CONNECT = { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' };

function policyDoc(...statements: object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

/** Retries `fn` until it returns true (every 25 ms, up to `timeoutMs`). */
async function eventually(fn: () => Promise<boolean>, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await sleep(25);
  }
  assert.fail(`${what} did not happen within ${timeoutMs} ms`);
}

describe('registry authority', () => {
  let lab: Lab;
  const unregisteredCalls: string[] = [];

  before(async () => {
    lab = await startLab({
      authority: {
        policyRefreshIntervalMs: 100,
        justInTimeRegistration: {
          name: 'test just-in-time registration',
          authenticate: async (attempt: OnboardingAttempt) => {
            if (attempt.certificate === null) unregisteredCalls.push(attempt.certificateId);
            return null;
          },
        },
      },
    });
  });
  after(async () => {
    await lab.close();
  });

  function refusalLogged(pattern: RegExp): void {
    assert.ok(
      lab.logs.some((l) => pattern.test(l.msg)),
      `no log line matches ${pattern}:\n${lab.logs
        .map((l) => l.msg)
        .slice(-10)
        .join('\n')}`,
    );
  }

  test('an unknown certificate is refused with CONNACK 5 (after the JIT registration hook declined)', async () => {
    const issued = await issueDeviceCertificate(lab.ca, { subject: { CN: 'stranger' } });
    const stranger: DeviceCredentials = {
      certificateId: issued.certificateId,
      cert: issued.certificatePem,
      key: issued.privateKeyPem as string,
    };
    assert.equal(await connackRefusal(lab, stranger, 'stranger'), 5);
    assert.deepEqual(unregisteredCalls, [issued.certificateId]);
    refusalLogged(new RegExp(`certificate ${issued.certificateId} is not registered`));
  });

  test('INACTIVE, REVOKED and PENDING_ACTIVATION certificates are refused, naming the status', async () => {
    for (const status of ['INACTIVE', 'REVOKED', 'PENDING_ACTIVATION'] as const) {
      const creds = await lab.registerCertificate(`status-${status}`, ['full_citizen_role'], status);
      assert.equal(await connackRefusal(lab, creds, `status-${status}`), 5, status);
      refusalLogged(new RegExp(`certificate ${creds.certificateId} is ${status}`));
    }
  });

  test('an expired certificate is refused ("certificate expired at …")', async () => {
    const creds = await lab.registerCertificate('soon-expired', ['full_citizen_role']);
    const notAfter = (await lab.registry.certificates.get(creds.certificateId))?.notAfter as number;
    lab.clock.skewMs = notAfter - Date.now() + 1000;
    try {
      assert.equal(await connackRefusal(lab, creds, 'soon-expired'), 5);
    } finally {
      lab.clock.skewMs = 0;
    }
    refusalLogged(new RegExp(`certificate expired at ${new Date(notAfter).toISOString().replace(/[.]/g, '\\.')}`));
  });

  test('policy variables: thing attributes and certificate subject', async () => {
    await lab.registry.policies.create({
      name: 'variables',
      document: policyDoc(
        { Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}' },
        {
          Effect: 'Allow',
          Action: 'iot:Subscribe',
          Resource: [
            'arn:aws:iot:*:*:topicfilter/site/${iot:Connection.Thing.Attributes[site]}/*',
            'arn:aws:iot:*:*:topicfilter/cn/${iot:Certificate.Subject.CommonName}',
          ],
          Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } },
        },
      ),
    });
    const creds = await lab.registerCertificate('meter-9', ['variables']);
    await lab.registry.things.create({ name: 'meter-9', attributes: { site: 'berlin' } });
    await lab.registry.thingPrincipals.attach('meter-9', creds.certificateId);
    const client = await lab.connect(creds, 'meter-9');
    assert.deepEqual(
      await subscribeGranted(client, ['site/berlin/power', 'site/paris/power', 'cn/meter-9', 'cn/meter-8']),
      [0, 128, 0, 128],
    );
    await client.endAsync();
  });

  test('an exclusively attached thing provides the thing variables whatever the client id', async () => {
    await lab.registry.policies.create({
      name: 'exclusive_vars',
      document: policyDoc(ALLOW_CONNECT, {
        Effect: 'Allow',
        Action: 'iot:Subscribe',
        Resource: 'arn:aws:iot:*:*:topicfilter/own/${iot:Connection.Thing.ThingName}',
      }),
    });
    const creds = await lab.registerCertificate('exclusive', ['exclusive_vars']);
    await lab.registry.things.create({ name: 'excl-1' });
    await lab.registry.thingPrincipals.attach('excl-1', creds.certificateId, 'EXCLUSIVE_THING');
    const client = await lab.connect(creds, 'any-client-id');
    assert.deepEqual(await subscribeGranted(client, ['own/excl-1', 'own/any-client-id']), [0, 128]);
    await client.endAsync();
  });

  test('thing-group policies apply only when the client id is the thing name', async () => {
    await lab.registry.policies.create({ name: 'connect_only', document: policyDoc(ALLOW_CONNECT) });
    await lab.registry.policies.create({
      name: 'group_topics',
      document: policyDoc({ Effect: 'Allow', Action: 'iot:Subscribe', Resource: 'arn:aws:iot:*:*:topicfilter/group/*' }),
    });
    await lab.registry.thingGroups.create({ name: 'line-1' });
    await lab.registry.policies.attach('group_topics', { type: 'thing-group', id: 'line-1' });
    const creds = await lab.registerCertificate('grouped', ['connect_only']);
    await lab.registry.things.create({ name: 'grouped-1' });
    await lab.registry.thingGroups.addThing('line-1', 'grouped-1');
    await lab.registry.thingPrincipals.attach('grouped-1', creds.certificateId);
    const asThing = await lab.connect(creds, 'grouped-1');
    assert.deepEqual(await subscribeGranted(asThing, 'group/x'), [0]);
    await asThing.endAsync();
    const asOther = await lab.connect(creds, 'not-the-thing');
    assert.deepEqual(await subscribeGranted(asOther, 'group/x'), [128]);
    await asOther.endAsync();
  });

  test('policy changes reach live connections after the refresh interval', async () => {
    await lab.registry.policies.create({
      name: 'evolving',
      document: policyDoc(ALLOW_CONNECT, { Effect: 'Allow', Action: 'iot:Subscribe', Resource: 'arn:aws:iot:*:*:topicfilter/a/*' }),
    });
    const creds = await lab.registerCertificate('evolving', ['evolving']);
    const client: MqttClient = await lab.connect(creds, 'evolving');
    assert.deepEqual(await subscribeGranted(client, ['a/1', 'b/1']), [0, 128]);

    await lab.registry.policies.createVersion(
      'evolving',
      policyDoc(ALLOW_CONNECT, {
        Effect: 'Allow',
        Action: 'iot:Subscribe',
        Resource: ['arn:aws:iot:*:*:topicfilter/a/*', 'arn:aws:iot:*:*:topicfilter/b/*'],
      }),
      { setAsDefault: true },
    );
    await eventually(async () => (await subscribeGranted(client, 'b/2'))[0] === 0, 'the new policy version allowing b/*');

    await lab.registry.policies.detach('evolving', { type: 'certificate', id: creds.certificateId });
    await eventually(async () => (await subscribeGranted(client, 'a/3'))[0] === 128, 'the detached policy stopping a/*');

    // A certificate deactivated behind the broker's back loses everything at the next refresh.
    await lab.registry.policies.attach('evolving', { type: 'certificate', id: creds.certificateId });
    await eventually(async () => (await subscribeGranted(client, 'a/4'))[0] === 0, 'the re-attached policy');
    await lab.registry.certificates.updateStatus(creds.certificateId, 'INACTIVE');
    await eventually(async () => (await subscribeGranted(client, 'a/5'))[0] === 128, 'the INACTIVE certificate losing its rights');
    await client.endAsync(true);
  });

  test('a policy that does not compile denies everything, with a logged reason', async () => {
    await lab.registry.policies.create({ name: 'broken', document: policyDoc({ Effect: 'Maybe', Action: 'iot:*', Resource: '*' }) });
    const creds = await lab.registerCertificate('broken-policy', ['full_citizen_role', 'broken']);
    assert.equal(await connackRefusal(lab, creds, 'broken-policy'), 5);
    refusalLogged(/every request is denied because an attached policy is invalid: policy "broken": Statement\[0\]\.Effect/);

    // Fixing the document (a new default version) lets it connect.
    await lab.registry.policies.createVersion('broken', policyDoc(ALLOW_CONNECT), { setAsDefault: true });
    const client = await lab.connect(creds, 'broken-policy');
    assert.ok(client.connected);
    await client.endAsync();
  });

  test('connections share one policy cache', async () => {
    const before = lab.authority.policyCache.stats;
    const a = await lab.connect(lab.claim, 'cache-a');
    const b = await lab.connect(lab.claim, 'cache-b');
    const after = lab.authority.policyCache.stats;
    assert.ok(after.hits >= before.hits + 1, `expected a cache hit, got ${JSON.stringify({ before, after })}`);
    await Promise.all([a.endAsync(), b.endAsync()]);
    await Promise.all([closed(a), closed(b)]);
  });
});
