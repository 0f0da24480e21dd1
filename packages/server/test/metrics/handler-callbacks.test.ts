/**
 * The provisioning handler's metrics callbacks (`onOutcome`, `onPreProvisioningHookDuration`) over
 * real MQTT: one report per answered request, with the right outcome and error code, and a callback
 * that throws never costs the device its reply.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ProvisioningOutcome } from '../../src/provisioning/handler.js';
import { accepted, call, createKeys, rejectedWith, startLab, type Lab } from '../provisioning/helpers.js';

describe('provisioning handler metrics callbacks', () => {
  const outcomes: ProvisioningOutcome[] = [];
  const hookDurations: number[] = [];
  let lab: Lab;

  before(async () => {
    lab = await startLab({
      handler: {
        throttle: { ratePerSecond: 0.001, burst: 2 },
        preProvisioningHook: async () => {
          await new Promise((r) => setTimeout(r, 30));
          return { allowProvisioning: true };
        },
        onOutcome: (outcome) => {
          outcomes.push(outcome);
          throw new Error('a broken metrics sink');
        },
        onPreProvisioningHookDuration: (ms) => hookDurations.push(ms),
      },
    });
  });
  after(async () => lab?.close());

  test('reports every answered request once; a throwing callback is logged and the reply still arrives', async () => {
    const client = await lab.connect(lab.claim, 'claim-callbacks');
    try {
      const keys = await createKeys(client);
      accepted(
        await call(
          client,
          'RegisterThing',
          'json',
          { certificateOwnershipToken: keys.token, parameters: { SerialNumber: 'cb1' } },
          'birthing_template',
        ),
      );
      // The burst of 2 is spent: the next request is throttled.
      rejectedWith(await call(client, 'CreateKeysAndCertificate', 'json', {}), 429, 'Throttling');
    } finally {
      await client.endAsync();
    }

    assert.deepEqual(
      outcomes.map(({ durationMs: _, ...rest }) => rest),
      [
        { operation: 'CreateKeysAndCertificate', outcome: 'accepted' },
        { operation: 'RegisterThing', templateName: 'birthing_template', outcome: 'accepted' },
        { operation: 'CreateKeysAndCertificate', outcome: 'rejected', errorCode: 'Throttling' },
      ],
    );
    for (const o of outcomes) assert.ok(Number.isFinite(o.durationMs) && o.durationMs >= 0);
    assert.ok((outcomes[1]?.durationMs ?? 0) >= 25, 'the RegisterThing duration includes the 30 ms hook');
    assert.equal(hookDurations.length, 1);
    assert.ok((hookDurations[0] ?? 0) >= 25 && (hookDurations[0] ?? 0) < 5000, String(hookDurations[0]));
    assert.equal(lab.logs.filter((l) => l.msg === 'the onOutcome callback threw').length, 3);
  });
});
