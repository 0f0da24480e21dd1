/**
 * Shared cases: ownership tokens, settings, the event log, transactions, unique violations,
 * hostile strings, options.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RegistryError } from '../../src/registry/errors.js';
import type { Registry } from '../../src/registry/types.js';
import { certId, certInput, FakeClock, rejectsWith, withRegistry, type OpenFn } from './helpers.js';

async function tokenFixture(r: Registry, id = 'tok', expiresAt = 10_000): Promise<string> {
  const c = await r.createCertificate(certInput(`cert-${id}`, { status: 'PENDING_ACTIVATION' }));
  await r.createOwnershipToken({ id, certificateId: c.id, principal: certId('claim'), expiresAt });
  return c.id;
}

export function stateCases(open: OpenFn): void {
  test('ownership token: single use, expiry, principal binding', () =>
    withRegistry(open, async (r) => {
      const cert = await tokenFixture(r);
      const stored = await r.getOwnershipToken('tok');
      assert.equal(stored?.certificateId, cert);
      assert.equal(stored?.usedAt, null);
      assert.equal(stored?.expiresAt, 10_000);
      await rejectsWith(r.createOwnershipToken({ id: 'tok', certificateId: cert, principal: 'x', expiresAt: 1 }), 'ResourceAlreadyExists');
      await rejectsWith(r.createOwnershipToken({ id: 'other', certificateId: certId('none'), principal: 'x', expiresAt: 1 }), 'ResourceNotFound');

      const mismatch = await rejectsWith(r.consumeOwnershipToken('tok', 5_000, { principal: certId('someone-else') }), 'InvalidToken');
      assert.equal(mismatch.tokenFailure, 'principal-mismatch');
      assert.equal((await r.getOwnershipToken('tok'))?.usedAt, null, 'a refused principal does not use the token');
      const used = await r.consumeOwnershipToken('tok', 5_000, { principal: certId('claim') });
      assert.equal(used.usedAt, 5_000);
      assert.equal((await r.getOwnershipToken('tok'))?.usedAt, 5_000);
      assert.equal((await rejectsWith(r.consumeOwnershipToken('tok', 5_001), 'InvalidToken')).tokenFailure, 'used');
      assert.equal((await rejectsWith(r.consumeOwnershipToken('unknown', 1), 'InvalidToken')).tokenFailure, 'unknown');
      assert.equal((await rejectsWith(r.consumeOwnershipToken('', 1), 'InvalidToken')).tokenFailure, 'unknown');

      await tokenFixture(r, 'late', 10_000);
      assert.equal((await rejectsWith(r.consumeOwnershipToken('late', 10_000), 'InvalidToken')).tokenFailure, 'expired');
      assert.equal((await r.consumeOwnershipToken('late', 9_999)).usedAt, 9_999);
    }));

  test('ownership token: 20 concurrent consumers, exactly one wins', () =>
    withRegistry(open, async (r) => {
      await tokenFixture(r, 'race');
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => r.consumeOwnershipToken('race', 1_000 + i)));
      const won = results.filter((x) => x.status === 'fulfilled');
      const lost = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
      assert.equal(won.length, 1);
      assert.equal(lost.length, 19);
      for (const l of lost) {
        assert.ok(l.reason instanceof RegistryError);
        assert.equal(l.reason.code, 'InvalidToken');
        assert.equal(l.reason.tokenFailure, 'used');
      }
    }));

  test('ownership token: consumption inside a rolled-back transaction does not stick', () =>
    withRegistry(open, async (r) => {
      await tokenFixture(r, 'rb');
      await assert.rejects(
        r.transaction(async (tx) => {
          await tx.consumeOwnershipToken('rb', 100);
          throw new Error('plan failed');
        }),
        /plan failed/,
      );
      assert.equal((await r.getOwnershipToken('rb'))?.usedAt, null);
      assert.equal((await r.consumeOwnershipToken('rb', 200)).usedAt, 200);
    }));

  test('ownership token: expired tokens are deleted unless their certificate is still pending', () =>
    withRegistry(open, async (r) => {
      const pending = await tokenFixture(r, 'keep', 100);
      const activeCert = await tokenFixture(r, 'drop', 100);
      await tokenFixture(r, 'future', 10_000);
      await r.updateCertificateStatus(activeCert, 'ACTIVE');
      assert.equal(await r.deleteExpiredOwnershipTokens(500), 1);
      assert.equal(await r.getOwnershipToken('drop'), null);
      assert.ok(await r.getOwnershipToken('keep'));
      assert.ok(await r.getOwnershipToken('future'));
      assert.deepEqual(await r.deleteExpiredPendingCertificates(500), [pending]);
    }));

  test('settings: get, set, ensure (first writer wins), delete', () =>
    withRegistry(open, async (r) => {
      assert.equal(await r.getSetting('registration-code'), null);
      assert.equal(await r.ensureSetting('registration-code', 'abc'), 'abc');
      assert.equal(await r.ensureSetting('registration-code', 'def'), 'abc');
      await r.setSetting('registration-code', 'xyz');
      assert.equal(await r.getSetting('registration-code'), 'xyz');
      const winners = await Promise.all(Array.from({ length: 10 }, (_, i) => r.ensureSetting('token-key', `key-${i}`)));
      assert.equal(new Set(winners).size, 1);
      assert.equal(await r.deleteSetting('registration-code'), true);
      assert.equal(await r.deleteSetting('registration-code'), false);
      assert.equal(await r.getSetting('registration-code'), null);
    }));

  test('events: append, follow with an after-id cursor, filter, prune', async () => {
    const clock = new FakeClock();
    await withRegistry(
      open,
      async (r) => {
        const first = await r.appendEvent({
          type: 'register-thing',
          operation: 'RegisterThing',
          templateName: 'fleet',
          certificateId: certId('a'),
          thingName: 'dev-1',
          clientId: 'claim-1',
          outcome: 'accepted',
          details: { parameters: { SerialNumber: '1' }, nested: [1, 'two', null, { ok: true }] },
        });
        assert.equal(first.at, clock.now);
        assert.deepEqual(first.details, { parameters: { SerialNumber: '1' }, nested: [1, 'two', null, { ok: true }] });
        clock.tick(10);
        const second = await r.appendEvent({ type: 'create-keys', outcome: 'rejected', errorCode: 'Throttling', message: 'slow down' });
        clock.tick(10);
        const third = await r.appendEvent({ type: 'register-thing', outcome: 'rejected', thingName: 'dev-2', at: 42 });
        assert.ok(first.id < second.id && second.id < third.id);
        assert.equal(third.at, 42);

        assert.deepEqual(await r.listEvents(), [first, second, third]);
        assert.deepEqual(await r.listEvents({ afterId: first.id }), [second, third]);
        assert.deepEqual(await r.listEvents({ afterId: third.id }), []);
        const fourth = await r.appendEvent({ type: 'info', outcome: 'info' });
        assert.deepEqual(await r.listEvents({ afterId: third.id }), [fourth], 'following picks up new events');
        assert.deepEqual(await r.listEvents({ types: ['register-thing'] }), [first, third]);
        assert.deepEqual(await r.listEvents({ outcome: 'rejected', limit: 1 }), [second]);
        assert.deepEqual(await r.listEvents({ thingName: 'dev-1' }), [first]);
        assert.deepEqual(await r.listEvents({ certificateId: certId('a'), templateName: 'fleet', clientId: 'claim-1' }), [first]);
        assert.deepEqual(await r.listEvents({ newestFirst: true, limit: 2 }), [fourth, third]);
        assert.deepEqual(await r.listEvents({ newestFirst: true, beforeId: third.id }), [second, first]);
        assert.deepEqual(await r.listEvents({ since: first.at, until: second.at + 1 }), [first, second]);
        for (const bad of [0, 1001, 1.5]) await rejectsWith(r.listEvents({ limit: bad }), 'InvalidRequest');
        await rejectsWith(r.appendEvent({ type: 'x', outcome: 'meh' as never }), 'InvalidRequest');
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        await rejectsWith(r.appendEvent({ type: 'x', outcome: 'info', details: cyclic }), 'InvalidRequest');
        await rejectsWith(r.appendEvent({ type: 'x', outcome: 'info', details: { big: 'x'.repeat(70_000) } }), 'InvalidRequest');
        assert.equal(await r.pruneEvents(first.at), 1, 'only the event at 42 is older');
        assert.deepEqual(
          (await r.listEvents()).map((e) => e.id),
          [first.id, second.id, fourth.id],
        );
      },
      { clock: clock.fn },
    );
  });

  test('events: countEvents buckets by time and outcome, filtered by window and type', () =>
    withRegistry(open, async (r) => {
      const base = 28_333_333 * 60_000; // a multiple of 60000
      await r.appendEvent({ type: 'provisioning', outcome: 'accepted', at: base + 1_000 });
      await r.appendEvent({ type: 'provisioning', outcome: 'accepted', at: base + 59_999 });
      await r.appendEvent({ type: 'provisioning', outcome: 'rejected', at: base + 30_000 });
      await r.appendEvent({ type: 'provisioning', outcome: 'rejected', at: base + 60_000 });
      await r.appendEvent({ type: 'sweeper', outcome: 'info', at: base + 60_001 });
      await r.appendEvent({ type: 'provisioning', outcome: 'accepted', at: base - 1 });
      assert.deepEqual(await r.countEvents({ since: base, bucketMs: 60_000 }), [
        { start: base, outcome: 'accepted', count: 2 },
        { start: base, outcome: 'rejected', count: 1 },
        { start: base + 60_000, outcome: 'info', count: 1 },
        { start: base + 60_000, outcome: 'rejected', count: 1 },
      ]);
      assert.deepEqual(await r.countEvents({ since: base, until: base + 60_000, bucketMs: 1000, types: ['provisioning'] }), [
        { start: base + 1_000, outcome: 'accepted', count: 1 },
        { start: base + 30_000, outcome: 'rejected', count: 1 },
        { start: base + 59_000, outcome: 'accepted', count: 1 },
      ]);
      assert.deepEqual(await r.countEvents({ since: base + 120_000, bucketMs: 60_000 }), []);
      for (const bucketMs of [0, 999, 86_400_001, 1.5]) await rejectsWith(r.countEvents({ since: base, bucketMs }), 'InvalidRequest');
      await rejectsWith(r.countEvents({ since: base, bucketMs: 1000, types: [] }), 'InvalidRequest');
    }));

  test('things: countThings and the namePrefix filter of listThings', () =>
    withRegistry(open, async (r) => {
      assert.equal(await r.countThings(), 0);
      for (const name of ['dev-1', 'dev-10', 'dev-2', 'devx', 'other', 'de']) await r.createThing({ name });
      assert.equal(await r.countThings(), 6);
      const first = await r.listThings({ namePrefix: 'dev-', maxResults: 2 });
      assert.deepEqual(first.items.map((t) => t.name), ['dev-1', 'dev-10']);
      const second = await r.listThings({ namePrefix: 'dev-', maxResults: 2, nextToken: first.nextToken! });
      assert.deepEqual(second.items.map((t) => t.name), ['dev-2']);
      assert.equal(second.nextToken, undefined);
      assert.deepEqual((await r.listThings({ namePrefix: 'nope' })).items, []);
      assert.deepEqual((await r.listThings({ namePrefix: 'other' })).items.map((t) => t.name), ['other']);
      await rejectsWith(r.listThings({ namePrefix: '' }), 'InvalidRequest');
    }));

  test('transaction: commit returns the value, a throw persists nothing', () =>
    withRegistry(open, async (r) => {
      const value = await r.transaction(async (tx) => {
        await tx.createThing({ name: 'kept' });
        return 42;
      });
      assert.equal(value, 42);
      assert.ok(await r.getThing('kept'));

      const cert = await r.createCertificate(certInput('tx', { status: 'PENDING_ACTIVATION' }));
      await assert.rejects(
        r.transaction(async (tx) => {
          await tx.createThing({ name: 'ghost', attributes: { a: '1' } });
          await tx.createThingGroup({ name: 'ghost-group' });
          await tx.addThingToThingGroup('ghost-group', 'ghost');
          await tx.createPolicy({ name: 'ghost-policy', document: '{}' });
          await tx.attachPolicy('ghost-policy', { type: 'certificate', id: cert.id });
          await tx.attachThingPrincipal('ghost', cert.id);
          await tx.updateCertificateStatus(cert.id, 'ACTIVE');
          await tx.appendEvent({ type: 'x', outcome: 'accepted' });
          await tx.setSetting('k', 'v');
          assert.ok(await tx.getThing('ghost'), 'visible inside the transaction');
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await r.getThing('ghost'), null);
      assert.equal(await r.getThingGroup('ghost-group'), null);
      assert.equal(await r.getPolicy('ghost-policy'), null);
      assert.equal((await r.getCertificate(cert.id))?.status, 'PENDING_ACTIVATION');
      assert.equal((await r.getCertificate(cert.id))?.customerVersion, 1);
      assert.deepEqual(await r.listEvents(), []);
      assert.equal(await r.getSetting('k'), null);
      assert.deepEqual((await r.listThings({ attributeName: 'a' })).items, []);
    }));

  test('transaction: a caught failure inside does not poison it; nested transactions roll back alone', () =>
    withRegistry(open, async (r) => {
      await r.createThing({ name: 'exists' });
      await r.transaction(async (tx) => {
        await rejectsWith(tx.createThing({ name: 'exists', attributes: { different: 'yes' } }), 'ResourceAlreadyExists');
        await rejectsWith(tx.updateThing('exists', { expectedVersion: 99 }), 'VersionConflict');
        await tx.createThing({ name: 'after-error' });
        await assert.rejects(
          tx.transaction(async (inner) => {
            await inner.createThing({ name: 'inner-only' });
            throw new Error('inner');
          }),
          /inner/,
        );
        const fromInner = await tx.transaction(async (inner) => {
          await inner.createThing({ name: 'inner-kept' });
          return 'ok';
        });
        assert.equal(fromInner, 'ok');
      });
      assert.ok(await r.getThing('after-error'));
      assert.ok(await r.getThing('inner-kept'));
      assert.equal(await r.getThing('inner-only'), null);
    }));

  test('transaction: concurrent writes on one tx are serialised; misuse fails fast', () =>
    withRegistry(open, async (r) => {
      const escaped = await r.transaction(async (tx) => {
        await Promise.all(Array.from({ length: 8 }, (_, i) => tx.createThing({ name: `par-${i}` })));
        await rejectsWith(r.getThing('par-0'), 'InvalidRequest'); // the outer registry inside fn
        return tx;
      });
      assert.equal((await r.listThings({ maxResults: 250 })).items.length, 8);
      await rejectsWith(escaped.getThing('par-0'), 'InvalidRequest'); // a finished transaction
      await rejectsWith(escaped.close(), 'InvalidRequest');
    }));

  test('unique violations from concurrent creators map to ResourceAlreadyExists', () =>
    withRegistry(open, async (r) => {
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => r.createPolicy({ name: 'contended', document: '{}' })));
      assert.equal(results.filter((x) => x.status === 'fulfilled').length, 1);
      for (const x of results) {
        if (x.status === 'rejected') {
          assert.ok(x.reason instanceof RegistryError, String(x.reason));
          assert.equal(x.reason.code, 'ResourceAlreadyExists');
        }
      }
      const certs = await Promise.allSettled(Array.from({ length: 10 }, () => r.createCertificate(certInput('contended'))));
      assert.equal(certs.filter((x) => x.status === 'fulfilled').length, 1);
      assert.ok(certs.every((x) => x.status === 'fulfilled' || (x.reason instanceof RegistryError && x.reason.code === 'ResourceAlreadyExists')));
    }));

  test('hostile strings are stored and read back intact; unstorable ones are refused', () =>
    withRegistry(open, async (r) => {
      const nasty = `'; DROP TABLE things; -- "quoted" \\ back\\slash \`tick\` 𝄞 emoji 🎉 عربى ß Ω e\u0301 \u202E rtl \n\t`;
      const big = 'Ω'.repeat(10_240);
      const thing = await r.createThing({
        name: nasty,
        // JSON.parse makes "__proto__" an own key, as untrusted request bodies do.
        attributes: { [nasty]: nasty, big: big.slice(0, 800), ...JSON.parse('{"__proto__":"not a prototype","constructor":"plain"}') },
      });
      assert.equal(thing.name, nasty);
      const read = await r.getThing(nasty);
      assert.equal(read?.attributes[nasty], nasty);
      assert.equal(read?.attributes.big, big.slice(0, 800));
      assert.ok(Object.hasOwn(read?.attributes ?? {}, '__proto__'));
      assert.equal(read?.attributes['__proto__'], 'not a prototype');
      assert.equal(read?.attributes.constructor, 'plain');
      assert.equal(Object.getPrototypeOf(read?.attributes), Object.prototype);
      assert.deepEqual(
        (await r.listThings({ attributeName: nasty, attributeValue: nasty.slice(0, 20), usePrefixAttributeValue: true })).items.map((t) => t.name),
        [nasty],
      );

      const policy = await r.createPolicy({ name: `p ${nasty}`, document: big });
      assert.equal((await r.getPolicy(policy.name))?.document, big);
      const tmpl = await r.createProvisioningTemplate({ name: 'big', body: big, description: nasty, provisioningRoleArn: nasty });
      assert.equal((await r.getProvisioningTemplate(tmpl.name))?.body, big);
      assert.equal((await r.getProvisioningTemplate(tmpl.name))?.description, nasty);
      const cert = await r.createCertificate(certInput('hostile', { pem: big, subjectDn: `CN=${nasty}`, issuerDn: 'O="Acme, Inc."' }));
      assert.equal((await r.getCertificate(cert.id))?.pem, big);
      assert.equal((await r.getCertificate(cert.id))?.subjectDn, `CN=${nasty}`);
      await r.setSetting(nasty, big);
      assert.equal(await r.getSetting(nasty), big);
      const ev = await r.appendEvent({ type: 'x', outcome: 'info', message: big, details: { [nasty]: nasty } });
      assert.deepEqual((await r.listEvents({ afterId: ev.id - 1 }))[0]?.details, { [nasty]: nasty });

      await rejectsWith(r.createThing({ name: 'nul\u0000byte' }), 'InvalidRequest');
      await rejectsWith(r.createPolicy({ name: 'p', document: 'a\u0000b' }), 'InvalidRequest');
      await rejectsWith(r.setSetting('k', 'lone \uD800 surrogate'), 'InvalidRequest');
      await rejectsWith(r.createThing({ name: 'x'.repeat(2000) }), 'InvalidRequest');
      await rejectsWith(r.createThing({ name: 'Ω'.repeat(1001) }), 'InvalidRequest'); // 1001 chars but 2002 bytes: too big to index
      await rejectsWith(r.createThing({ name: 'long-value', attributes: { a: 'x'.repeat(801) } }), 'InvalidRequest');
      await rejectsWith(r.createThing({ name: 'long-name', attributes: { ['k'.repeat(129)]: 'x' } }), 'InvalidRequest');
      await rejectsWith(r.createThing({ name: 42 as unknown as string }), 'InvalidRequest');
      assert.equal(await r.getThing(42 as unknown as string), null);
    }));

  test('options: region and account appear in ARNs; a closed registry refuses calls', async () => {
    const r = await open({ region: 'eu-west-1', accountId: '123456789012' });
    assert.equal(r.region, 'eu-west-1');
    assert.equal(r.accountId, '123456789012');
    const t = await r.createThing({ name: 'arn-check' });
    assert.equal(t.arn, 'arn:aws:iot:eu-west-1:123456789012:thing/arn-check');
    const c = await r.createCertificate(certInput('arn'));
    assert.equal(c.ownedBy, '123456789012');
    await r.close();
    await r.close(); // idempotent
    await rejectsWith(r.getThing('arn-check'), 'InvalidRequest');
    await rejectsWith(open({ accountId: '12' }), 'InvalidRequest');
    await rejectsWith(open({ limits: { maxPolicyVersions: 0 } }), 'InvalidRequest');
  });
}
