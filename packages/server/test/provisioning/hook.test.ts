/**
 * The pre-provisioning hook extension point, with an in-process hook: it sees AWS's event shape,
 * can override parameters, and a denial, failure, malformed answer or timeout refuses RegisterThing
 * with 403 AccessDenied and creates nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { PreProvisioningHookEvent, PreProvisioningHookResult } from '../../src/provisioning/index.js';
import { accepted, createKeys, registerThing, rejectedWith, snapshot, startLab, type Lab } from './helpers.js';

describe('pre-provisioning hook', () => {
  let lab: Lab;
  let claim: MqttClient;
  const seen: Array<{ event: PreProvisioningHookEvent; template: string }> = [];
  let answer: (event: PreProvisioningHookEvent) => Promise<PreProvisioningHookResult | unknown>;

  before(async () => {
    lab = await startLab({
      handler: {
        hookTimeoutMs: 200,
        preProvisioningHook: async (event, context) => {
          seen.push({ event, template: context.template.name });
          return answer(event);
        },
      },
    });
    claim = await lab.connect(lab.claim, 'hooked-client');
  });
  after(async () => {
    await lab.close();
  });

  test('the hook receives the AWS event and its parameterOverrides win over device parameters', async () => {
    answer = async () => ({ allowProvisioning: true, parameterOverrides: { SerialNumber: 'from-hook' } });
    const keys = await createKeys(claim);
    seen.length = 0;
    const reply = accepted(await registerThing(claim, keys.token, { SerialNumber: 'from-device', Extra: 'x' }));
    assert.equal(reply.thingName, 'born_from-hook');
    assert.equal(seen.length, 1);
    const { event, template } = seen[0] as (typeof seen)[number];
    assert.equal(template, 'birthing_template');
    assert.deepEqual(
      { ...event, parameters: { ...event.parameters } },
      {
        claimCertificateId: lab.claim.certificateId,
        certificateId: keys.certificateId,
        certificatePem: keys.certificatePem,
        templateArn: 'arn:aws:iot:us-east-1:000000000000:provisioningtemplate/birthing_template',
        clientId: 'hooked-client',
        parameters: { SerialNumber: 'from-device', Extra: 'x' },
      },
    );
    const [event0] = await lab.registry.events.list({
      certificateId: keys.certificateId,
      types: ['fleet-provisioning'],
      newestFirst: true,
      limit: 1,
    });
    assert.deepEqual(event0?.details?.parameterOverrides, ['SerialNumber']);
  });

  const denials: Array<[string, () => Promise<unknown>, RegExp]> = [
    ['allowProvisioning false', async () => ({ allowProvisioning: false }), /the hook denied provisioning \(allowProvisioning is false\)/],
    [
      'allowProvisioning "true" (a string)',
      async () => ({ allowProvisioning: 'true' }),
      /malformed reply: allowProvisioning must be the boolean true or false, got the string "true"/,
    ],
    [
      'allowProvisioning "yes"',
      async () => ({ allowProvisioning: 'yes' }),
      /malformed reply: allowProvisioning must be the boolean true or false, got the string "yes"/,
    ],
    ['a throwing hook', async () => Promise.reject(new Error('lambda crashed')), /the hook failed with an error/],
    ['a hook that never answers', () => new Promise<unknown>(() => undefined), /the hook did not answer within 200 ms \(timeout\)/],
    ['a malformed answer', async () => null, /malformed reply \(null instead of a JSON object\)/],
    [
      'nested overrides',
      async () => ({ allowProvisioning: true, parameterOverrides: { SerialNumber: { x: 1 } } }),
      /parameterOverrides.SerialNumber must be a string, got an object/,
    ],
    [
      'a number override',
      async () => ({ allowProvisioning: true, parameterOverrides: { SerialNumber: 42 } }),
      /parameterOverrides.SerialNumber must be a string, got the number 42/,
    ],
  ];
  for (const [name, hook, logged] of denials) {
    test(`${name}: 403 AccessDenied and nothing is created`, async () => {
      answer = hook;
      const keys = await createKeys(claim);
      const before = await snapshot(lab);
      const reply = await registerThing(claim, keys.token, { SerialNumber: `denied-${name.replace(/\W+/g, '-')}` });
      rejectedWith(
        reply,
        403,
        'AccessDenied',
        new RegExp(`^provisioning with template birthing_template was denied by its pre-provisioning hook: .*${logged.source}`),
      );
      assert.deepEqual(await snapshot(lab), before);
      const line = lab.logs.findLast((l) => /rejected \(AccessDenied\)/.test(l.msg));
      assert.ok(line);
      assert.match(String((line.err as { message?: unknown } | undefined)?.message), logged);
      // The reason is in the event log too.
      const [event] = await lab.registry.events.list({
        certificateId: keys.certificateId,
        outcome: 'rejected',
        newestFirst: true,
        limit: 1,
      });
      assert.match(String(event?.message), logged);
      // The token is still usable once the hook allows it.
      answer = async () => ({ allowProvisioning: true });
      accepted(await registerThing(claim, keys.token, { SerialNumber: `later-${name.replace(/\W+/g, '-')}` }));
    });
  }
});
