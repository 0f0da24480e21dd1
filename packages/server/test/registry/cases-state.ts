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
  const c = await r.certificates.create(certInput(`cert-${id}`, { status: 'PENDING_ACTIVATION' }));
  await r.tokens.create({ id, certificateId: c.id, principal: certId('claim'), expiresAt });
  return c.id;
}

export function stateCases(open: OpenFn): void {
  test('ownership token: single use, expiry, principal binding', () =>
    withRegistry(open, async (r) => {
      const cert = await tokenFixture(r);
      const stored = await r.tokens.get('tok');
      assert.equal(stored?.certificateId, cert);
      assert.equal(stored?.usedAt, null);
      assert.equal(stored?.expiresAt, 10_000);
      await rejectsWith(r.tokens.create({ id: 'tok', certificateId: cert, principal: 'x', expiresAt: 1 }), 'ResourceAlreadyExists');
      await rejectsWith(r.tokens.create({ id: 'other', certificateId: certId('none'), principal: 'x', expiresAt: 1 }), 'ResourceNotFound');

      const mismatch = await rejectsWith(r.tokens.consume('tok', 5_000, { principal: certId('someone-else') }), 'InvalidToken');
      assert.equal(mismatch.tokenFailure, 'principal-mismatch');
      assert.equal((await r.tokens.get('tok'))?.usedAt, null, 'a refused principal does not use the token');
      const used = await r.tokens.consume('tok', 5_000, { principal: certId('claim') });
      assert.equal(used.usedAt, 5_000);
      assert.equal((await r.tokens.get('tok'))?.usedAt, 5_000);
      assert.equal((await rejectsWith(r.tokens.consume('tok', 5_001), 'InvalidToken')).tokenFailure, 'used');
      assert.equal((await rejectsWith(r.tokens.consume('unknown', 1), 'InvalidToken')).tokenFailure, 'unknown');
      assert.equal((await rejectsWith(r.tokens.consume('', 1), 'InvalidToken')).tokenFailure, 'unknown');

      await tokenFixture(r, 'late', 10_000);
      assert.equal((await rejectsWith(r.tokens.consume('late', 10_000), 'InvalidToken')).tokenFailure, 'expired');
      assert.equal((await r.tokens.consume('late', 9_999)).usedAt, 9_999);
    }));

  test('ownership token: 20 concurrent consumers, exactly one wins', () =>
    withRegistry(open, async (r) => {
      await tokenFixture(r, 'race');
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => r.tokens.consume('race', 1_000 + i)));
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
          await tx.tokens.consume('rb', 100);
          throw new Error('plan failed');
        }),
        /plan failed/,
      );
      assert.equal((await r.tokens.get('rb'))?.usedAt, null);
      assert.equal((await r.tokens.consume('rb', 200)).usedAt, 200);
    }));

  test('ownership token: expired tokens are deleted unless their certificate is still pending', () =>
    withRegistry(open, async (r) => {
      const pending = await tokenFixture(r, 'keep', 100);
      const activeCert = await tokenFixture(r, 'drop', 100);
      await tokenFixture(r, 'future', 10_000);
      await r.certificates.updateStatus(activeCert, 'ACTIVE');
      assert.equal(await r.tokens.deleteExpired(500), 1);
      assert.equal(await r.tokens.get('drop'), null);
      assert.ok(await r.tokens.get('keep'));
      assert.ok(await r.tokens.get('future'));
      assert.deepEqual(await r.certificates.deleteExpiredPending(500), [pending]);
    }));

  test('settings: get, set, ensure (first writer wins), delete', () =>
    withRegistry(open, async (r) => {
      assert.equal(await r.settings.get('registration-code'), null);
      assert.equal(await r.settings.ensure('registration-code', 'abc'), 'abc');
      assert.equal(await r.settings.ensure('registration-code', 'def'), 'abc');
      await r.settings.set('registration-code', 'xyz');
      assert.equal(await r.settings.get('registration-code'), 'xyz');
      const winners = await Promise.all(Array.from({ length: 10 }, (_, i) => r.settings.ensure('token-key', `key-${i}`)));
      assert.equal(new Set(winners).size, 1);
      assert.equal(await r.settings.delete('registration-code'), true);
      assert.equal(await r.settings.delete('registration-code'), false);
      assert.equal(await r.settings.get('registration-code'), null);
    }));

  test('events: append, follow with an after-id cursor, filter, prune', async () => {
    const clock = new FakeClock();
    await withRegistry(
      open,
      async (r) => {
        const first = await r.events.append({
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
        const second = await r.events.append({ type: 'create-keys', outcome: 'rejected', errorCode: 'Throttling', message: 'slow down' });
        clock.tick(10);
        const third = await r.events.append({ type: 'register-thing', outcome: 'rejected', thingName: 'dev-2', at: 42 });
        assert.ok(first.id < second.id && second.id < third.id);
        assert.equal(third.at, 42);

        assert.deepEqual(await r.events.list(), [first, second, third]);
        assert.deepEqual(await r.events.list({ afterId: first.id }), [second, third]);
        assert.deepEqual(await r.events.list({ afterId: third.id }), []);
        const fourth = await r.events.append({ type: 'info', outcome: 'info' });
        assert.deepEqual(await r.events.list({ afterId: third.id }), [fourth], 'following picks up new events');
        assert.deepEqual(await r.events.list({ types: ['register-thing'] }), [first, third]);
        assert.deepEqual(await r.events.list({ outcome: 'rejected', limit: 1 }), [second]);
        assert.deepEqual(await r.events.list({ thingName: 'dev-1' }), [first]);
        assert.deepEqual(await r.events.list({ certificateId: certId('a'), templateName: 'fleet', clientId: 'claim-1' }), [first]);
        assert.deepEqual(await r.events.list({ newestFirst: true, limit: 2 }), [fourth, third]);
        assert.deepEqual(await r.events.list({ newestFirst: true, beforeId: third.id }), [second, first]);
        assert.deepEqual(await r.events.list({ since: first.at, until: second.at + 1 }), [first, second]);
        for (const bad of [0, 1001, 1.5]) await rejectsWith(r.events.list({ limit: bad }), 'InvalidRequest');
        await rejectsWith(r.events.append({ type: 'x', outcome: 'meh' as never }), 'InvalidRequest');
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        await rejectsWith(r.events.append({ type: 'x', outcome: 'info', details: cyclic }), 'InvalidRequest');
        await rejectsWith(r.events.append({ type: 'x', outcome: 'info', details: { big: 'x'.repeat(70_000) } }), 'InvalidRequest');
        assert.equal(await r.events.prune(first.at), 1, 'only the event at 42 is older');
        assert.deepEqual(
          (await r.events.list()).map((e) => e.id),
          [first.id, second.id, fourth.id],
        );
      },
      { clock: clock.fn },
    );
  });

  test('events: countEvents buckets by time and outcome, filtered by window and type', () =>
    withRegistry(open, async (r) => {
      const base = 28_333_333 * 60_000; // a multiple of 60000
      await r.events.append({ type: 'provisioning', outcome: 'accepted', at: base + 1_000 });
      await r.events.append({ type: 'provisioning', outcome: 'accepted', at: base + 59_999 });
      await r.events.append({ type: 'provisioning', outcome: 'rejected', at: base + 30_000 });
      await r.events.append({ type: 'provisioning', outcome: 'rejected', at: base + 60_000 });
      await r.events.append({ type: 'sweeper', outcome: 'info', at: base + 60_001 });
      await r.events.append({ type: 'provisioning', outcome: 'accepted', at: base - 1 });
      assert.deepEqual(await r.events.count({ since: base, bucketMs: 60_000 }), [
        { start: base, outcome: 'accepted', count: 2 },
        { start: base, outcome: 'rejected', count: 1 },
        { start: base + 60_000, outcome: 'info', count: 1 },
        { start: base + 60_000, outcome: 'rejected', count: 1 },
      ]);
      assert.deepEqual(await r.events.count({ since: base, until: base + 60_000, bucketMs: 1000, types: ['provisioning'] }), [
        { start: base + 1_000, outcome: 'accepted', count: 1 },
        { start: base + 30_000, outcome: 'rejected', count: 1 },
        { start: base + 59_000, outcome: 'accepted', count: 1 },
      ]);
      assert.deepEqual(await r.events.count({ since: base + 120_000, bucketMs: 60_000 }), []);
      for (const bucketMs of [0, 999, 86_400_001, 1.5]) await rejectsWith(r.events.count({ since: base, bucketMs }), 'InvalidRequest');
      await rejectsWith(r.events.count({ since: base, bucketMs: 1000, types: [] }), 'InvalidRequest');
    }));

  test('things: countThings and the namePrefix filter of listThings', () =>
    withRegistry(open, async (r) => {
      assert.equal(await r.things.count(), 0);
      for (const name of ['dev-1', 'dev-10', 'dev-2', 'devx', 'other', 'de']) await r.things.create({ name });
      assert.equal(await r.things.count(), 6);
      const first = await r.things.list({ namePrefix: 'dev-', maxResults: 2 });
      assert.deepEqual(
        first.items.map((t) => t.name),
        ['dev-1', 'dev-10'],
      );
      const second = await r.things.list({ namePrefix: 'dev-', maxResults: 2, nextToken: first.nextToken! });
      assert.deepEqual(
        second.items.map((t) => t.name),
        ['dev-2'],
      );
      assert.equal(second.nextToken, undefined);
      assert.deepEqual((await r.things.list({ namePrefix: 'nope' })).items, []);
      assert.deepEqual(
        (await r.things.list({ namePrefix: 'other' })).items.map((t) => t.name),
        ['other'],
      );
      await rejectsWith(r.things.list({ namePrefix: '' }), 'InvalidRequest');
    }));

  test('transaction: commit returns the value, a throw persists nothing', () =>
    withRegistry(open, async (r) => {
      const value = await r.transaction(async (tx) => {
        await tx.things.create({ name: 'kept' });
        return 42;
      });
      assert.equal(value, 42);
      assert.ok(await r.things.get('kept'));

      const cert = await r.certificates.create(certInput('tx', { status: 'PENDING_ACTIVATION' }));
      await assert.rejects(
        r.transaction(async (tx) => {
          await tx.things.create({ name: 'ghost', attributes: { a: '1' } });
          await tx.thingGroups.create({ name: 'ghost-group' });
          await tx.thingGroups.addThing('ghost-group', 'ghost');
          await tx.policies.create({ name: 'ghost-policy', document: '{}' });
          await tx.policies.attach('ghost-policy', { type: 'certificate', id: cert.id });
          await tx.thingPrincipals.attach('ghost', cert.id);
          await tx.certificates.updateStatus(cert.id, 'ACTIVE');
          await tx.events.append({ type: 'x', outcome: 'accepted' });
          await tx.settings.set('k', 'v');
          assert.ok(await tx.things.get('ghost'), 'visible inside the transaction');
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await r.things.get('ghost'), null);
      assert.equal(await r.thingGroups.get('ghost-group'), null);
      assert.equal(await r.policies.get('ghost-policy'), null);
      assert.equal((await r.certificates.get(cert.id))?.status, 'PENDING_ACTIVATION');
      assert.equal((await r.certificates.get(cert.id))?.customerVersion, 1);
      assert.deepEqual(await r.events.list(), []);
      assert.equal(await r.settings.get('k'), null);
      assert.deepEqual((await r.things.list({ attributeName: 'a' })).items, []);
    }));

  test('transaction: a caught failure inside does not poison it; nested transactions roll back alone', () =>
    withRegistry(open, async (r) => {
      await r.things.create({ name: 'exists' });
      await r.transaction(async (tx) => {
        await rejectsWith(tx.things.create({ name: 'exists', attributes: { different: 'yes' } }), 'ResourceAlreadyExists');
        await rejectsWith(tx.things.update('exists', { expectedVersion: 99 }), 'VersionConflict');
        await tx.things.create({ name: 'after-error' });
        await assert.rejects(
          tx.transaction(async (inner) => {
            await inner.things.create({ name: 'inner-only' });
            throw new Error('inner');
          }),
          /inner/,
        );
        const fromInner = await tx.transaction(async (inner) => {
          await inner.things.create({ name: 'inner-kept' });
          return 'ok';
        });
        assert.equal(fromInner, 'ok');
      });
      assert.ok(await r.things.get('after-error'));
      assert.ok(await r.things.get('inner-kept'));
      assert.equal(await r.things.get('inner-only'), null);
    }));

  test('transaction: concurrent writes on one tx are serialised; misuse fails fast', () =>
    withRegistry(open, async (r) => {
      const escaped = await r.transaction(async (tx) => {
        await Promise.all(Array.from({ length: 8 }, (_, i) => tx.things.create({ name: `par-${i}` })));
        await rejectsWith(r.things.get('par-0'), 'InvalidRequest'); // the outer registry inside fn
        return tx;
      });
      assert.equal((await r.things.list({ maxResults: 250 })).items.length, 8);
      await rejectsWith(escaped.things.get('par-0'), 'InvalidRequest'); // a finished transaction
      await rejectsWith(escaped.close(), 'InvalidRequest');
    }));

  test('unique violations from concurrent creators map to ResourceAlreadyExists', () =>
    withRegistry(open, async (r) => {
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => r.policies.create({ name: 'contended', document: '{}' })));
      assert.equal(results.filter((x) => x.status === 'fulfilled').length, 1);
      for (const x of results) {
        if (x.status === 'rejected') {
          assert.ok(x.reason instanceof RegistryError, String(x.reason));
          assert.equal(x.reason.code, 'ResourceAlreadyExists');
        }
      }
      const certs = await Promise.allSettled(Array.from({ length: 10 }, () => r.certificates.create(certInput('contended'))));
      assert.equal(certs.filter((x) => x.status === 'fulfilled').length, 1);
      assert.ok(
        certs.every((x) => x.status === 'fulfilled' || (x.reason instanceof RegistryError && x.reason.code === 'ResourceAlreadyExists')),
      );
    }));

  test('hostile strings are stored and read back intact; unstorable ones are refused', () =>
    withRegistry(open, async (r) => {
      const nasty = `'; DROP TABLE things; -- "quoted" \\ back\\slash \`tick\` 𝄞 emoji 🎉 عربى ß Ω e\u0301 \u202E rtl \n\t`;
      const big = 'Ω'.repeat(10_240);
      const thing = await r.things.create({
        name: nasty,
        // JSON.parse makes "__proto__" an own key, as untrusted request bodies do.
        attributes: { [nasty]: nasty, big: big.slice(0, 800), ...JSON.parse('{"__proto__":"not a prototype","constructor":"plain"}') },
      });
      assert.equal(thing.name, nasty);
      const read = await r.things.get(nasty);
      assert.equal(read?.attributes[nasty], nasty);
      assert.equal(read?.attributes.big, big.slice(0, 800));
      assert.ok(Object.hasOwn(read?.attributes ?? {}, '__proto__'));
      assert.equal(read?.attributes['__proto__'], 'not a prototype');
      assert.equal(read?.attributes.constructor, 'plain');
      assert.equal(Object.getPrototypeOf(read?.attributes), Object.prototype);
      assert.deepEqual(
        (await r.things.list({ attributeName: nasty, attributeValue: nasty.slice(0, 20), usePrefixAttributeValue: true })).items.map(
          (t) => t.name,
        ),
        [nasty],
      );

      const policy = await r.policies.create({ name: `p ${nasty}`, document: big });
      assert.equal((await r.policies.get(policy.name))?.document, big);
      const tmpl = await r.templates.create({ name: 'big', body: big, description: nasty, provisioningRoleArn: nasty });
      assert.equal((await r.templates.get(tmpl.name))?.body, big);
      assert.equal((await r.templates.get(tmpl.name))?.description, nasty);
      const cert = await r.certificates.create(certInput('hostile', { pem: big, subjectDn: `CN=${nasty}`, issuerDn: 'O="Acme, Inc."' }));
      assert.equal((await r.certificates.get(cert.id))?.pem, big);
      assert.equal((await r.certificates.get(cert.id))?.subjectDn, `CN=${nasty}`);
      await r.settings.set(nasty, big);
      assert.equal(await r.settings.get(nasty), big);
      const ev = await r.events.append({ type: 'x', outcome: 'info', message: big, details: { [nasty]: nasty } });
      assert.deepEqual((await r.events.list({ afterId: ev.id - 1 }))[0]?.details, { [nasty]: nasty });

      await rejectsWith(r.things.create({ name: 'nul\u0000byte' }), 'InvalidRequest');
      await rejectsWith(r.policies.create({ name: 'p', document: 'a\u0000b' }), 'InvalidRequest');
      await rejectsWith(r.settings.set('k', 'lone \uD800 surrogate'), 'InvalidRequest');
      await rejectsWith(r.things.create({ name: 'x'.repeat(2000) }), 'InvalidRequest');
      await rejectsWith(r.things.create({ name: 'Ω'.repeat(1001) }), 'InvalidRequest'); // 1001 chars but 2002 bytes: too big to index
      await rejectsWith(r.things.create({ name: 'long-value', attributes: { a: 'x'.repeat(801) } }), 'InvalidRequest');
      await rejectsWith(r.things.create({ name: 'long-name', attributes: { ['k'.repeat(129)]: 'x' } }), 'InvalidRequest');
      await rejectsWith(r.things.create({ name: 42 as unknown as string }), 'InvalidRequest');
      assert.equal(await r.things.get(42 as unknown as string), null);
    }));

  test('options: region and account appear in ARNs; a closed registry refuses calls', async () => {
    const r = await open({ region: 'eu-west-1', accountId: '123456789012' });
    assert.equal(r.region, 'eu-west-1');
    assert.equal(r.accountId, '123456789012');
    const t = await r.things.create({ name: 'arn-check' });
    assert.equal(t.arn, 'arn:aws:iot:eu-west-1:123456789012:thing/arn-check');
    const c = await r.certificates.create(certInput('arn'));
    assert.equal(c.ownedBy, '123456789012');
    await r.close();
    await r.close(); // idempotent
    await rejectsWith(r.things.get('arn-check'), 'InvalidRequest');
    await rejectsWith(open({ accountId: '12' }), 'InvalidRequest');
    await rejectsWith(open({ limits: { maxPolicyVersions: 0 } }), 'InvalidRequest');
  });
}
