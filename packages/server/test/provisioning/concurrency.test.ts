/**
 * Concurrency over the real broker: many RegisterThing at once on distinct certificates all
 * succeed; two RegisterThing racing with the same token provision exactly once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { requestTopic } from '@fleetprov/protocol';
import { body, collectReplies, createKeys, startLab, subscribeReplies, type Lab } from './helpers.js';

describe('concurrent provisioning', () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab.close();
  });

  test('50 parallel RegisterThing on distinct certificates all succeed', async () => {
    const connections = 10;
    const perConnection = 5;
    const clients = await Promise.all(
      Array.from({ length: connections }, async (_, c) => {
        const creds = await lab.registerCertificate(`claim-${c}`, ['claim_policy']);
        const client = await lab.connect(creds, `parallel-${c}`);
        const keys = [];
        for (let i = 0; i < perConnection; i++) keys.push(await createKeys(client));
        await subscribeReplies(client, 'RegisterThing', 'json', 'birthing_template');
        return { client, keys, c };
      }),
    );
    const results = await Promise.all(
      clients.map(async ({ client, keys, c }) => {
        const replies = collectReplies(client, 'RegisterThing', 'json', perConnection, 'birthing_template', 20_000);
        await Promise.all(
          keys.map((k, i) =>
            client.publishAsync(
              requestTopic('RegisterThing', 'json', 'birthing_template'),
              body('json', { certificateOwnershipToken: k.token, parameters: { SerialNumber: `p${c}-${i}` } }),
              { qos: 1 },
            ),
          ),
        );
        return replies;
      }),
    );
    const all = results.flat();
    assert.equal(all.length, connections * perConnection);
    assert.deepEqual(
      all.filter((r) => r.kind !== 'accepted').map((r) => r.body),
      [],
    );
    const names = new Set(all.map((r) => r.body.thingName));
    assert.equal(names.size, 50);
    for (const { keys } of clients) {
      for (const k of keys) assert.equal((await lab.registry.certificates.get(k.certificateId))?.status, 'ACTIVE');
    }
    assert.equal((await lab.registry.policies.listTargets('full_citizen_role', { pageSize: 250 })).items.length, 50);
    await Promise.all(clients.map(({ client }) => client.endAsync()));
  });

  test('two parallel RegisterThing with the same token: exactly one is accepted', async () => {
    for (let round = 0; round < 5; round++) {
      const a = await lab.connect(lab.claim, `race-a-${round}`);
      const b = await lab.connect(lab.claim, `race-b-${round}`);
      const keys = await createKeys(a);
      await Promise.all([
        subscribeReplies(a, 'RegisterThing', 'json', 'birthing_template'),
        subscribeReplies(b, 'RegisterThing', 'json', 'birthing_template'),
      ]);
      const replyA = collectReplies(a, 'RegisterThing', 'json', 1, 'birthing_template');
      const replyB = collectReplies(b, 'RegisterThing', 'json', 1, 'birthing_template');
      await Promise.all([
        a.publishAsync(
          requestTopic('RegisterThing', 'json', 'birthing_template'),
          body('json', { certificateOwnershipToken: keys.token, parameters: { SerialNumber: `race-${round}-a` } }),
          { qos: 1 },
        ),
        b.publishAsync(
          requestTopic('RegisterThing', 'json', 'birthing_template'),
          body('json', { certificateOwnershipToken: keys.token, parameters: { SerialNumber: `race-${round}-b` } }),
          { qos: 1 },
        ),
      ]);
      const replies = [...(await replyA), ...(await replyB)];
      const winners = replies.filter((r) => r.kind === 'accepted');
      assert.equal(winners.length, 1, JSON.stringify(replies.map((r) => r.body)));
      const loser = replies.find((r) => r.kind === 'rejected');
      assert.equal(loser?.body.errorCode, 'InvalidCertificateOwnershipToken');
      assert.match(String(loser?.body.errorMessage), /already been used/);
      const things = [await lab.registry.things.get(`born_race-${round}-a`), await lab.registry.things.get(`born_race-${round}-b`)].filter(
        (t) => t !== null,
      );
      assert.equal(things.length, 1);
      assert.equal(things[0]?.name, winners[0]?.body.thingName);
      assert.deepEqual(
        (await lab.registry.thingPrincipals.listForPrincipal(keys.certificateId)).items.map((t) => t.thingName),
        [winners[0]?.body.thingName],
      );
      await Promise.all([a.endAsync(), b.endAsync()]);
    }
  });
});
