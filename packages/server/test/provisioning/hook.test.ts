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
  let answer: (event: PreProvisioningHookEvent) => Promise<PreProvisioningHookResult>;

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
    const [event0] = await lab.registry.listEvents({ certificateId: keys.certificateId, types: ['fleet-provisioning'], newestFirst: true, limit: 1 });
    assert.deepEqual(event0?.details?.parameterOverrides, ['SerialNumber']);
  });

  test('allowProvisioning "true" (a string) is accepted too', async () => {
    answer = async () => ({ allowProvisioning: 'true' });
    const keys = await createKeys(claim);
    assert.equal(accepted(await registerThing(claim, keys.token, { SerialNumber: 'string-true' })).thingName, 'born_string-true');
  });

  const denials: Array<[string, () => Promise<PreProvisioningHookResult>, RegExp]> = [
    ['allowProvisioning false', async () => ({ allowProvisioning: false }), /allowProvisioning=false/],
    ['allowProvisioning "yes"', async () => ({ allowProvisioning: 'yes' }), /allowProvisioning="yes"/],
    ['a throwing hook', async () => Promise.reject(new Error('lambda crashed')), /lambda crashed/],
    ['a hook that never answers', () => new Promise<PreProvisioningHookResult>(() => undefined), /no answer within 200 ms/],
    ['a malformed answer', async () => null as unknown as PreProvisioningHookResult, /returned no object/],
    ['nested overrides', async () => ({ allowProvisioning: true, parameterOverrides: { SerialNumber: { x: 1 } } }), /unusable value/],
  ];
  for (const [name, hook, logged] of denials) {
    test(`${name}: 403 AccessDenied and nothing is created`, async () => {
      answer = hook;
      const keys = await createKeys(claim);
      const before = await snapshot(lab);
      const reply = await registerThing(claim, keys.token, { SerialNumber: `denied-${name.replace(/\W+/g, '-')}` });
      rejectedWith(reply, 403, 'AccessDenied', /^provisioning with template birthing_template was denied by its pre-provisioning hook$/);
      assert.deepEqual(await snapshot(lab), before);
      const line = lab.logs.findLast((l) => /rejected \(AccessDenied\)/.test(l.msg));
      assert.ok(line);
      assert.match(String((line.err as { message?: unknown } | undefined)?.message), logged);
      // The token is still usable once the hook allows it.
      answer = async () => ({ allowProvisioning: true });
      accepted(await registerThing(claim, keys.token, { SerialNumber: `later-${name.replace(/\W+/g, '-')}` }));
    });
  }
});
