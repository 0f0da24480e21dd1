/**
 * Shared cases: certificates, CA certificates, transfers, sweeping.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CertificateStatus } from '../../src/registry/types.js';
import { certId, certInput, collect, FakeClock, rejectsWith, withRegistry, type OpenFn } from './helpers.js';

export function certificateCases(open: OpenFn): void {
  test('certificate: create and read back every field', () =>
    withRegistry(open, async (r) => {
      const ca = await r.caCertificates.create({
        id: certId('ca'),
        pem: 'CA PEM',
        status: 'ACTIVE',
        autoRegistration: 'ENABLE',
        subjectDn: 'CN=ca',
        notBefore: 1,
        notAfter: 2,
      });
      const input = certInput('dev1', {
        status: 'PENDING_ACTIVATION',
        caCertificateId: ca.id,
        mode: 'SNI_ONLY',
        serial: '0A1B',
        issuedByPrincipal: certId('claim'),
      });
      const created = await r.certificates.create(input);
      const read = await r.certificates.get(input.id);
      assert.deepEqual(read, created);
      assert.equal(read?.arn, `arn:aws:iot:us-east-1:000000000000:cert/${input.id}`);
      assert.equal(read?.pem, input.pem);
      assert.equal(read?.status, 'PENDING_ACTIVATION');
      assert.equal(read?.caCertificateId, ca.id);
      assert.equal(read?.mode, 'SNI_ONLY');
      assert.equal(read?.serial, '0a1b');
      assert.equal(read?.notBefore, input.notBefore);
      assert.equal(read?.notAfter, input.notAfter);
      assert.equal(read?.customerVersion, 1);
      assert.match(read?.generationId ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(read?.issuedByPrincipal, certId('claim'));
      assert.equal(read?.hidden, false);
      assert.equal(read?.expiresAt, null);
      assert.equal(read?.claimTemplateName, null);
      assert.equal(read?.ownedBy, '000000000000');
      assert.equal(await r.certificates.get(certId('nope')), null);
      assert.equal(await r.certificates.get('not-hex'), null);
    }));

  test('certificate: duplicates, unknown CA and malformed input are typed errors', () =>
    withRegistry(open, async (r) => {
      const input = certInput('dup');
      await r.certificates.create(input);
      const err = await rejectsWith(r.certificates.create(input), 'ResourceAlreadyExists');
      assert.equal(err.resourceId, input.id);
      assert.equal(err.resourceArn, `arn:aws:iot:us-east-1:000000000000:cert/${input.id}`);
      await rejectsWith(r.certificates.create(certInput('x', { caCertificateId: certId('missing-ca') })), 'ResourceNotFound');
      await rejectsWith(r.certificates.create(certInput('y', { id: 'ABC' })), 'InvalidRequest');
      await rejectsWith(r.certificates.create(certInput('y', { status: 'BOGUS' as CertificateStatus })), 'InvalidRequest');
      await rejectsWith(r.certificates.create(certInput('y', { notAfter: 1.5 })), 'InvalidRequest');
      await rejectsWith(r.certificates.create(null as never), 'InvalidRequest');
    }));

  test('certificate: listCertificates pages newest first, ascending, filters and hidden', async () => {
    const clock = new FakeClock();
    await withRegistry(
      open,
      async (r) => {
        const ids: string[] = [];
        for (let i = 0; i < 7; i++) {
          clock.tick(1000);
          const c = await r.certificates.create(certInput(`list${i}`, { status: i % 2 === 0 ? 'ACTIVE' : 'INACTIVE' }));
          ids.push(c.id);
        }
        // Two certificates created in the same millisecond: the id breaks the tie.
        clock.tick(1000);
        const same1 = await r.certificates.create(certInput('same-ms-1'));
        const same2 = await r.certificates.create(certInput('same-ms-2'));
        await r.certificates.create(certInput('hidden', { hidden: true, expiresAt: clock.now + 300_000 }));
        const desc = await collect(async (m) => {
          const p = await r.certificates.list({ pageSize: 3, marker: m });
          assert.ok(p.items.length <= 3);
          return { items: p.items, next: p.nextMarker };
        });
        assert.equal(desc.pages, 3);
        const tieOrder = [same1.id, same2.id].sort().reverse();
        assert.deepEqual(
          desc.items.map((c) => c.id),
          [...tieOrder, ...[...ids].reverse()],
        );
        const asc = await collect(async (m) => {
          const p = await r.certificates.list({ pageSize: 4, marker: m, ascending: true });
          return { items: p.items, next: p.nextMarker };
        });
        assert.deepEqual(
          asc.items.map((c) => c.id),
          [...ids, ...[...tieOrder].reverse()],
        );
        const all = await r.certificates.list({ pageSize: 250, includeHidden: true });
        assert.equal(all.items.length, 10);
        assert.equal(all.nextMarker, undefined);
        const inactive = await r.certificates.list({ status: 'INACTIVE' });
        assert.deepEqual(inactive.items.map((c) => c.id).sort(), [ids[1], ids[3], ids[5]].sort());
        // A marker is bound to its list and order.
        const first = await r.certificates.list({ pageSize: 2 });
        assert.ok(first.nextMarker);
        await rejectsWith(r.certificates.list({ marker: first.nextMarker, ascending: true }), 'InvalidRequest');
        await rejectsWith(r.things.list({ nextToken: first.nextMarker }), 'InvalidRequest');
        await rejectsWith(r.certificates.list({ marker: 'garbage!' }), 'InvalidRequest');
        await rejectsWith(
          r.certificates.list({ marker: Buffer.from('{"k":"certs-desc","v":[1]}').toString('base64url') }),
          'InvalidRequest',
        );
        for (const bad of [0, 251, 2.5, -1, Number.NaN]) await rejectsWith(r.certificates.list({ pageSize: bad }), 'InvalidRequest');
      },
      { clock: clock.fn },
    );
  });

  test('certificate: status transitions follow UpdateCertificate rules', () =>
    withRegistry(open, async (r) => {
      const c = await r.certificates.create(certInput('t', { status: 'PENDING_ACTIVATION' }));
      const active = await r.certificates.updateStatus(c.id, 'ACTIVE');
      assert.equal(active.status, 'ACTIVE');
      assert.equal(active.customerVersion, 2);
      assert.notEqual(active.generationId, c.generationId);
      assert.deepEqual(await r.certificates.get(c.id), active);
      const again = await r.certificates.updateStatus(c.id, 'ACTIVE');
      assert.equal(again.customerVersion, 2, 'same status is a no-op');
      await rejectsWith(r.certificates.updateStatus(c.id, 'PENDING_ACTIVATION'), 'CertificateState');
      await rejectsWith(r.certificates.updateStatus(c.id, 'PENDING_TRANSFER'), 'CertificateState');
      assert.equal((await r.certificates.updateStatus(c.id, 'INACTIVE')).status, 'INACTIVE');
      assert.equal((await r.certificates.updateStatus(c.id, 'REGISTER_INACTIVE')).status, 'REGISTER_INACTIVE');
      const revoked = await r.certificates.updateStatus(c.id, 'REVOKED');
      assert.equal(revoked.customerVersion, 5);
      for (const s of ['ACTIVE', 'INACTIVE', 'REGISTER_INACTIVE'] as const)
        await rejectsWith(r.certificates.updateStatus(c.id, s), 'CertificateState');
      assert.equal((await r.certificates.updateStatus(c.id, 'REVOKED')).status, 'REVOKED');
      await rejectsWith(r.certificates.updateStatus(c.id, 'active' as CertificateStatus), 'InvalidRequest');
      await rejectsWith(r.certificates.updateStatus(certId('unknown'), 'ACTIVE'), 'ResourceNotFound');
    }));

  test('certificate: delete requires non-ACTIVE and no attachments unless forced', () =>
    withRegistry(open, async (r) => {
      const c = await r.certificates.create(certInput('del'));
      await r.policies.create({ name: 'p', document: '{}' });
      await r.things.create({ name: 'thing1' });
      await r.policies.attach('p', { type: 'certificate', id: c.id });
      await r.thingPrincipals.attach('thing1', c.id);
      await r.tokens.create({ id: 'tok-del', certificateId: c.id, principal: 'x', expiresAt: 10 });
      await rejectsWith(r.certificates.delete(c.id), 'CertificateState');
      await r.certificates.updateStatus(c.id, 'INACTIVE');
      await rejectsWith(r.certificates.delete(c.id, { force: true }), 'DeleteConflict'); // things block even a forced delete
      await r.thingPrincipals.detach('thing1', c.id);
      await rejectsWith(r.certificates.delete(c.id), 'DeleteConflict'); // a policy blocks a plain delete
      assert.ok(await r.certificates.get(c.id), 'failed deletes change nothing');
      await r.certificates.delete(c.id, { force: true });
      assert.equal(await r.certificates.get(c.id), null);
      assert.deepEqual((await r.policies.listTargets('p')).items, []);
      assert.equal(await r.tokens.get('tok-del'), null);
      await rejectsWith(r.certificates.delete(c.id), 'ResourceNotFound');
      // An unattached INACTIVE certificate deletes without force.
      const d = await r.certificates.create(certInput('del2', { status: 'INACTIVE' }));
      await r.certificates.delete(d.id);
      assert.equal(await r.certificates.get(d.id), null);
    }));

  test('certificate: counts by status and expiring certificates', () =>
    withRegistry(open, async (r) => {
      const statuses: CertificateStatus[] = ['ACTIVE', 'ACTIVE', 'INACTIVE', 'REVOKED', 'PENDING_ACTIVATION'];
      for (const [i, status] of statuses.entries()) {
        await r.certificates.create(certInput(`c${i}`, { status, notAfter: 1_000 + i * 100 }));
      }
      await r.certificates.create(certInput('hidden', { status: 'ACTIVE', hidden: true, notAfter: 1 }));
      assert.deepEqual(await r.certificates.countByStatus(), {
        ACTIVE: 2,
        INACTIVE: 1,
        REVOKED: 1,
        PENDING_TRANSFER: 0,
        REGISTER_INACTIVE: 0,
        PENDING_ACTIVATION: 1,
      });
      assert.equal((await r.certificates.countByStatus({ includeHidden: true })).ACTIVE, 3);
      const expiring = await r.certificates.listExpiring(1_150);
      assert.deepEqual(
        expiring.items.map((c) => c.id),
        [certId('c0'), certId('c1')],
      );
      const paged = await collect(async (m) => {
        const p = await r.certificates.listExpiring(10_000, { statuses: ['ACTIVE', 'INACTIVE', 'REVOKED'], pageSize: 2, marker: m });
        return { items: p.items, next: p.nextMarker };
      });
      assert.deepEqual(
        paged.items.map((c) => c.notAfter),
        [1_000, 1_100, 1_200, 1_300],
      );
      await rejectsWith(r.certificates.listExpiring(10, { statuses: [] }), 'InvalidRequest');
    }));

  test('certificate: the sweeper deletes only PENDING_ACTIVATION certificates whose tokens all expired', () =>
    withRegistry(open, async (r) => {
      const now = 10_000;
      const mk = async (seed: string, status: CertificateStatus, tokenExpiries: number[]): Promise<string> => {
        const c = await r.certificates.create(certInput(seed, { status }));
        for (const [i, exp] of tokenExpiries.entries()) {
          await r.tokens.create({ id: `${seed}-tok${i}`, certificateId: c.id, principal: certId('claim'), expiresAt: exp });
        }
        return c.id;
      };
      const expired = await mk('expired', 'PENDING_ACTIVATION', [now - 1]);
      const expiredAtNow = await mk('expired-now', 'PENDING_ACTIVATION', [now]);
      const fresh = await mk('fresh', 'PENDING_ACTIVATION', [now + 1]);
      const mixed = await mk('mixed', 'PENDING_ACTIVATION', [now - 5, now + 5]);
      const active = await mk('active', 'ACTIVE', [now - 1]);
      const noToken = await mk('jitr', 'PENDING_ACTIVATION', []);
      const attached = await mk('attached', 'PENDING_ACTIVATION', [now - 100]);
      await r.things.create({ name: 'sweep-thing' });
      await r.thingPrincipals.attach('sweep-thing', attached);
      await r.policies.create({ name: 'sweep-policy', document: '{}' });
      await r.policies.attach('sweep-policy', { type: 'certificate', id: attached });

      const deleted = await r.certificates.deleteExpiredPending(now);
      assert.deepEqual(deleted, [expired, expiredAtNow, attached].sort());
      for (const id of deleted) assert.equal(await r.certificates.get(id), null);
      for (const id of [fresh, mixed, active, noToken]) assert.ok(await r.certificates.get(id));
      assert.equal(await r.tokens.get('expired-tok0'), null, 'tokens go with the certificate');
      assert.deepEqual((await r.thingPrincipals.listForThing('sweep-thing')).items, []);
      assert.deepEqual((await r.policies.listTargets('sweep-policy')).items, []);
      assert.deepEqual(await r.certificates.deleteExpiredPending(now), []);
    }));

  test('certificate: expired temporary claim certificates are swept unless a thing uses them', () =>
    withRegistry(open, async (r) => {
      const old = await r.certificates.create(certInput('claim-old', { hidden: true, expiresAt: 500 }));
      const live = await r.certificates.create(certInput('claim-live', { hidden: true, expiresAt: 5_000 }));
      const used = await r.certificates.create(certInput('claim-used', { hidden: true, expiresAt: 500 }));
      const normal = await r.certificates.create(certInput('normal'));
      await r.things.create({ name: 'x' });
      await r.thingPrincipals.attach('x', used.id);
      assert.deepEqual(await r.certificates.deleteExpiredTemporary(1_000), [old.id]);
      for (const c of [live, used, normal]) assert.ok(await r.certificates.get(c.id));
    }));

  test('certificate: a temporary claim keeps its template name; hidden from lists, swept when expired', () =>
    withRegistry(open, async (r) => {
      const claim = await r.certificates.create(certInput('tmp-claim', { hidden: true, expiresAt: 500, claimTemplateName: 'my_template' }));
      assert.equal(claim.claimTemplateName, 'my_template');
      assert.equal((await r.certificates.get(claim.id))?.claimTemplateName, 'my_template');
      assert.deepEqual(
        (await r.certificates.list()).items.map((c) => c.id),
        [],
      );
      assert.deepEqual(
        (await r.certificates.list({ includeHidden: true })).items.map((c) => c.claimTemplateName),
        ['my_template'],
      );
      await rejectsWith(r.certificates.create(certInput('tmp-bad', { claimTemplateName: '' })), 'InvalidRequest');
      await rejectsWith(r.certificates.create(certInput('tmp-long', { claimTemplateName: 'x'.repeat(37) })), 'InvalidRequest');
      // Inside a transaction that rolls back, nothing stays.
      await assert.rejects(
        r.transaction(async (tx) => {
          await tx.certificates.create(certInput('tmp-rolled-back', { hidden: true, expiresAt: 500, claimTemplateName: 't' }));
          throw new Error('roll back');
        }),
        /roll back/,
      );
      assert.equal(await r.certificates.get(certId('tmp-rolled-back')), null);
      assert.deepEqual(await r.certificates.deleteExpiredTemporary(1_000), [claim.id]);
    }));

  test('certificate: transfer, accept, reject and cancel', () =>
    withRegistry(open, async (r) => {
      const c = await r.certificates.create(certInput('xfer'));
      await rejectsWith(r.certificates.transfer(c.id, { targetAccountId: '123456789012' }), 'CertificateState');
      await r.certificates.updateStatus(c.id, 'INACTIVE');
      await r.things.create({ name: 'holder' });
      await r.thingPrincipals.attach('holder', c.id);
      await rejectsWith(r.certificates.transfer(c.id, { targetAccountId: '123456789012' }), 'Conflict');
      await r.thingPrincipals.detach('holder', c.id);
      await rejectsWith(r.certificates.transfer(c.id, { targetAccountId: '12' }), 'InvalidRequest');
      const pending = await r.certificates.transfer(c.id, { targetAccountId: '123456789012', transferMessage: 'yours' });
      assert.equal(pending.status, 'PENDING_TRANSFER');
      assert.equal(pending.transferData?.transferMessage, 'yours');
      await rejectsWith(r.certificates.updateStatus(c.id, 'ACTIVE'), 'CertificateState');
      await rejectsWith(r.certificates.delete(c.id), 'CertificateState');
      const accepted = await r.certificates.acceptTransfer(c.id, { setAsActive: true });
      assert.equal(accepted.status, 'ACTIVE');
      assert.equal(accepted.ownedBy, '123456789012');
      assert.equal(accepted.previousOwnedBy, '000000000000');
      assert.equal(typeof accepted.transferData?.acceptDate, 'number');
      await rejectsWith(r.certificates.acceptTransfer(c.id), 'CertificateState');

      const d = await r.certificates.create(certInput('xfer2', { status: 'INACTIVE' }));
      await r.certificates.transfer(d.id, { targetAccountId: '123456789012' });
      const rejected = await r.certificates.rejectTransfer(d.id, 'no thanks');
      assert.equal(rejected.status, 'INACTIVE');
      assert.equal(rejected.transferData?.rejectReason, 'no thanks');
      assert.equal(rejected.ownedBy, '000000000000');
      await r.certificates.transfer(d.id, { targetAccountId: '123456789012' });
      const cancelled = await r.certificates.cancelTransfer(d.id);
      assert.equal(cancelled.status, 'INACTIVE');
      assert.equal(cancelled.transferData, null);
    }));

  test('CA certificate: CRUD, template link, same-subject limit', () =>
    withRegistry(
      open,
      async (r) => {
        const base = { pem: 'PEM', status: 'ACTIVE' as const, autoRegistration: 'DISABLE' as const, notBefore: 1, notAfter: 2 };
        await rejectsWith(
          r.caCertificates.create({ ...base, id: certId('ca0'), subjectDn: 'CN=a', registrationConfig: { templateName: 'jitp' } }),
          'ResourceNotFound',
        );
        await r.templates.create({ name: 'fleet', body: '{}', provisioningRoleArn: 'arn:aws:iam::000000000000:role/r' });
        await r.templates.create({ name: 'jitp', body: '{}', provisioningRoleArn: 'arn:aws:iam::000000000000:role/r', type: 'JITP' });
        await rejectsWith(
          r.caCertificates.create({ ...base, id: certId('ca0'), subjectDn: 'CN=a', registrationConfig: { templateName: 'fleet' } }),
          'InvalidRequest',
        );
        const ca1 = await r.caCertificates.create({
          ...base,
          id: certId('ca1'),
          subjectDn: 'CN=a',
          registrationConfig: { templateName: 'jitp', roleArn: 'role' },
        });
        assert.equal(ca1.arn, `arn:aws:iot:us-east-1:000000000000:cacert/${ca1.id}`);
        assert.deepEqual(ca1.registrationConfig, { templateName: 'jitp', roleArn: 'role' });
        assert.deepEqual(await r.caCertificates.get(ca1.id), ca1);
        await rejectsWith(r.caCertificates.create({ ...base, id: ca1.id, subjectDn: 'CN=b' }), 'ResourceAlreadyExists');
        await r.caCertificates.create({ ...base, id: certId('ca2'), subjectDn: 'CN=a' });
        await rejectsWith(r.caCertificates.create({ ...base, id: certId('ca3'), subjectDn: 'CN=a' }), 'LimitExceeded');
        await r.caCertificates.create({ ...base, id: certId('ca3'), subjectDn: 'CN=c' });

        assert.deepEqual(
          (await r.caCertificates.list({ templateName: 'jitp' })).items.map((c) => c.id),
          [ca1.id],
        );
        const all = await collect(async (m) => {
          const p = await r.caCertificates.list({ pageSize: 2, marker: m, ascending: true });
          return { items: p.items, next: p.nextMarker };
        });
        assert.equal(all.items.length, 3);
        assert.equal(all.items[0]?.id, ca1.id);

        await rejectsWith(r.templates.delete('jitp'), 'DeleteConflict');
        const updated = await r.caCertificates.update(ca1.id, { status: 'INACTIVE', autoRegistration: 'ENABLE', registrationConfig: null });
        assert.equal(updated.status, 'INACTIVE');
        assert.equal(updated.autoRegistration, 'ENABLE');
        assert.equal(updated.registrationConfig, null);
        assert.equal(updated.customerVersion, 2);
        assert.equal((await r.caCertificates.update(ca1.id, { removeAutoRegistration: true })).autoRegistration, 'DISABLE');
        await r.templates.delete('jitp');
        await rejectsWith(r.caCertificates.delete(certId('ca2')), 'CertificateState');
        await r.caCertificates.delete(ca1.id);
        assert.equal(await r.caCertificates.get(ca1.id), null);
        await rejectsWith(r.caCertificates.delete(ca1.id), 'ResourceNotFound');
        await rejectsWith(r.caCertificates.update(ca1.id, { status: 'ACTIVE' }), 'ResourceNotFound');
      },
      { limits: { maxCaCertificatesPerSubject: 2 } },
    ));

  test("CA certificate: listing by subject DN (finding a certificate's issuer)", () =>
    withRegistry(open, async (r) => {
      const base = { pem: 'PEM', status: 'ACTIVE' as const, autoRegistration: 'ENABLE' as const, notBefore: 1, notAfter: 2 };
      const a1 = await r.caCertificates.create({ ...base, id: certId('sub-a1'), subjectDn: 'O=Acme, CN=Device CA' });
      const a2 = await r.caCertificates.create({ ...base, id: certId('sub-a2'), subjectDn: 'O=Acme, CN=Device CA' });
      await r.caCertificates.create({ ...base, id: certId('sub-b'), subjectDn: 'O=Acme, CN=Other CA' });
      const found = await r.caCertificates.list({ subjectDn: 'O=Acme, CN=Device CA', ascending: true });
      assert.deepEqual(found.items.map((c) => c.id).sort(), [a1.id, a2.id].sort());
      assert.deepEqual((await r.caCertificates.list({ subjectDn: 'CN=Device CA' })).items, []);
      const paged = await r.caCertificates.list({ subjectDn: 'O=Acme, CN=Device CA', pageSize: 1, ascending: true });
      assert.equal(paged.items.length, 1);
      assert.ok(paged.nextMarker);
      const rest = await r.caCertificates.list({
        subjectDn: 'O=Acme, CN=Device CA',
        pageSize: 1,
        ascending: true,
        marker: paged.nextMarker,
      });
      assert.deepEqual([...paged.items, ...rest.items].map((c) => c.id).sort(), [a1.id, a2.id].sort());
      await rejectsWith(r.caCertificates.list({ subjectDn: 42 as unknown as string }), 'InvalidRequest');
    }));
}
