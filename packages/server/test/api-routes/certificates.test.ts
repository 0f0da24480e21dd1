/**
 * Certificate operations through the real AWS SDK: issuing (keys, CSR), registering (with and
 * without a CA), describing, listing, status changes and deletion.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  DeleteCertificateCommand,
  DescribeCertificateCommand,
  DetachThingPrincipalCommand,
  ListCertificatesCommand,
  RegisterCertificateCommand,
  RegisterCertificateWithoutCACommand,
  UpdateCertificateCommand,
  type CertificateStatus,
} from '@aws-sdk/client-iot';
import {
  buildCsr,
  createCsr,
  createTestCa,
  issueDeviceCertificate,
  parseCertificateFacts,
  verifyIssuedBy,
  type CertificateAndKey,
} from '../../src/pki/index.js';
import { ACCOUNT_ID, REGION, assertUnchanged, expectAwsError, startRoutesEnv, type RoutesEnv } from './helpers.js';

let env: RoutesEnv;
let manufacturer: CertificateAndKey;
let otherCa: CertificateAndKey;

before(async () => {
  env = await startRoutesEnv();
  [manufacturer, otherCa] = await Promise.all([createTestCa(), createTestCa({ subject: { CN: 'Other CA' } })]);
});
after(() => env.close());

const certArn = (id: string) => `arn:aws:iot:${REGION}:${ACCOUNT_ID}:cert/${id}`;

async function registerCaInRegistry(
  ca: CertificateAndKey,
  status: 'ACTIVE' | 'INACTIVE' = 'ACTIVE',
  mode: 'DEFAULT' | 'SNI_ONLY' = 'DEFAULT',
): Promise<void> {
  const facts = parseCertificateFacts(ca.certificatePem);
  await env.registry.caCertificates.create({
    id: facts.certificateId,
    pem: ca.certificatePem,
    status,
    autoRegistration: 'DISABLE',
    mode,
    subjectDn: facts.subjectDn,
    notBefore: facts.notBefore.getTime(),
    notAfter: facts.notAfter.getTime(),
  });
}

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

describe('CreateKeysAndCertificate', () => {
  it('issues a key pair and a certificate signed by the fleetprov CA, ACTIVE with setAsActive', async () => {
    const out = await env.client.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    assert.match(out.certificateId ?? '', /^[0-9a-f]{64}$/);
    assert.equal(out.certificateArn, certArn(out.certificateId ?? ''));
    const pem = out.certificatePem ?? '';
    assert.equal(parseCertificateFacts(pem).certificateId, out.certificateId, 'the id is the SHA-256 of the DER');
    assert.ok(verifyIssuedBy(pem, env.ca.issuingCertificatePem));
    const x = new X509Certificate(pem);
    assert.ok(x.checkPrivateKey(createPrivateKey(out.keyPair?.PrivateKey ?? '')), 'the private key belongs to the certificate');
    assert.equal(
      createPublicKey(out.keyPair?.PublicKey ?? '')
        .export({ format: 'der', type: 'spki' })
        .toString('hex'),
      x.publicKey.export({ format: 'der', type: 'spki' }).toString('hex'),
    );
    assert.equal((await env.registry.certificates.get(out.certificateId ?? ''))?.status, 'ACTIVE');
  });

  it('leaves the certificate INACTIVE without setAsActive', async () => {
    const out = await env.client.send(new CreateKeysAndCertificateCommand({}));
    const d = await env.client.send(new DescribeCertificateCommand({ certificateId: out.certificateId }));
    assert.equal(d.certificateDescription?.status, 'INACTIVE');
  });
});

describe('CreateCertificateFromCsr', () => {
  it('issues a certificate for the CSR key', async () => {
    const csr = await createCsr({ keyAlgorithm: 'ec-p256' });
    const out = await env.client.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: csr.csrPem, setAsActive: true }));
    const x = new X509Certificate(out.certificatePem ?? '');
    assert.ok(x.checkPrivateKey(createPrivateKey(csr.privateKeyPem)));
    assert.ok(verifyIssuedBy(out.certificatePem ?? '', env.ca.issuingCertificatePem));
    assert.equal(out.certificateArn, certArn(out.certificateId ?? ''));
    assert.equal((await env.registry.certificates.get(out.certificateId ?? ''))?.status, 'ACTIVE');

    const inactive = await env.client.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: csr.csrPem }));
    assert.notEqual(inactive.certificateId, out.certificateId, 'the same CSR twice gives two certificates');
    assert.equal((await env.registry.certificates.get(inactive.certificateId ?? ''))?.status, 'INACTIVE');
  });

  it('refuses weak keys, bad signatures and garbage with InvalidRequestException and stores nothing', async () => {
    const weak = buildCsr(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey, { CN: 'weak' });
    const { csrPem } = await createCsr();
    const der = pemBody(csrPem);
    der[der.length - 1] = der[der.length - 1]! ^ 0x5a;
    const badSignature = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: weak, setAsActive: true })),
        'InvalidRequestException',
        {
          status: 400,
          message: /RSA-1024/,
        },
      );
      await expectAwsError(
        env.client.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: badSignature })),
        'InvalidRequestException',
        {
          message: /does not verify/,
        },
      );
      await expectAwsError(
        env.client.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: 'hello' })),
        'InvalidRequestException',
        {
          message: /certificateSigningRequest/,
        },
      );
      await expectAwsError(env.client.send(new CreateCertificateFromCsrCommand({} as never)), 'InvalidRequestException', {
        message: /certificateSigningRequest is required/,
      });
    });
  });
});

describe('RegisterCertificateWithoutCA', () => {
  it('registers a foreign certificate in SNI_ONLY mode, INACTIVE unless told otherwise', async () => {
    const device = await issueDeviceCertificate(manufacturer, { subject: { CN: 'sensor-1' } });
    const out = await env.client.send(new RegisterCertificateWithoutCACommand({ certificatePem: device.certificatePem }));
    assert.equal(out.certificateId, device.certificateId);
    assert.equal(out.certificateArn, certArn(device.certificateId));
    const d = await env.client.send(new DescribeCertificateCommand({ certificateId: device.certificateId }));
    assert.equal(d.certificateDescription?.status, 'INACTIVE');
    assert.equal(d.certificateDescription?.certificateMode, 'SNI_ONLY');
    assert.equal(d.certificateDescription?.caCertificateId, undefined);

    const active = await issueDeviceCertificate(manufacturer, { subject: { CN: 'sensor-2' } });
    await env.client.send(new RegisterCertificateWithoutCACommand({ certificatePem: active.certificatePem, status: 'ACTIVE' }));
    assert.equal((await env.registry.certificates.get(active.certificateId))?.status, 'ACTIVE');
  });

  it('refuses duplicates, malformed and expired certificates and internal statuses', async () => {
    const device = await issueDeviceCertificate(manufacturer, { subject: { CN: 'sensor-1b' } });
    await env.client.send(new RegisterCertificateWithoutCACommand({ certificatePem: device.certificatePem }));
    const expired = await issueDeviceCertificate(manufacturer, {
      subject: { CN: 'old' },
      now: new Date(Date.now() - 10 * 86_400_000),
      validityDays: 1,
    });
    const fresh = await issueDeviceCertificate(manufacturer, { subject: { CN: 'fresh' } });
    await assertUnchanged(env.registry, async () => {
      const dup = await expectAwsError(
        env.client.send(new RegisterCertificateWithoutCACommand({ certificatePem: device.certificatePem })),
        'ResourceAlreadyExistsException',
        {
          status: 409,
        },
      );
      assert.equal(dup.resourceId, device.certificateId);
      assert.equal(dup.resourceArn, certArn(device.certificateId));
      await expectAwsError(
        env.client.send(new RegisterCertificateWithoutCACommand({ certificatePem: 'not a pem' })),
        'CertificateValidationException',
        {
          status: 400,
          message: /certificatePem/,
        },
      );
      await expectAwsError(
        env.client.send(new RegisterCertificateWithoutCACommand({ certificatePem: expired.certificatePem })),
        'CertificateValidationException',
        {
          message: /expired/,
        },
      );
      await expectAwsError(
        env.client.send(new RegisterCertificateWithoutCACommand({ certificatePem: fresh.certificatePem, status: 'PENDING_ACTIVATION' })),
        'InvalidRequestException',
        { message: /status must be one of/ },
      );
    });
  });
});

describe('RegisterCertificate', () => {
  it('refuses a certificate of an unregistered CA, with or without caCertificatePem', async () => {
    const device = await issueDeviceCertificate(otherCa, { subject: { CN: 'stray' } });
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(new RegisterCertificateCommand({ certificatePem: device.certificatePem })),
        'CertificateValidationException',
        {
          status: 400,
          message: /not signed by a registered CA/,
        },
      );
      await expectAwsError(
        env.client.send(
          new RegisterCertificateCommand({ certificatePem: device.certificatePem, caCertificatePem: otherCa.certificatePem }),
        ),
        'CertificateValidationException',
        { message: /not registered/ },
      );
    });
  });

  it('registers a certificate of a registered ACTIVE CA, found by itself or given', async () => {
    await registerCaInRegistry(manufacturer);
    const caId = parseCertificateFacts(manufacturer.certificatePem).certificateId;
    const one = await issueDeviceCertificate(manufacturer, { subject: { CN: 'reg-1' } });
    const out = await env.client.send(new RegisterCertificateCommand({ certificatePem: one.certificatePem, setAsActive: true }));
    assert.equal(out.certificateId, one.certificateId);
    const d = await env.client.send(new DescribeCertificateCommand({ certificateId: one.certificateId }));
    assert.equal(d.certificateDescription?.caCertificateId, caId);
    assert.equal(d.certificateDescription?.status, 'ACTIVE');
    assert.equal(d.certificateDescription?.certificateMode, 'DEFAULT');

    const two = await issueDeviceCertificate(manufacturer, { subject: { CN: 'reg-2' } });
    await env.client.send(
      new RegisterCertificateCommand({
        certificatePem: two.certificatePem,
        caCertificatePem: manufacturer.certificatePem,
        status: 'REVOKED',
      }),
    );
    const row = await env.registry.certificates.get(two.certificateId);
    assert.equal(row?.status, 'REVOKED');
    assert.equal(row?.caCertificateId, caId);
  });

  it('refuses a CA that did not sign the certificate, and an INACTIVE CA', async () => {
    await registerCaInRegistry(otherCa, 'INACTIVE');
    const byManufacturer = await issueDeviceCertificate(manufacturer, { subject: { CN: 'mismatch' } });
    const byOther = await issueDeviceCertificate(otherCa, { subject: { CN: 'inactive-ca' } });
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(
          new RegisterCertificateCommand({ certificatePem: byOther.certificatePem, caCertificatePem: manufacturer.certificatePem }),
        ),
        'CertificateValidationException',
        { message: /not signed by the CA certificate/ },
      );
      await expectAwsError(
        env.client.send(
          new RegisterCertificateCommand({ certificatePem: byManufacturer.certificatePem, caCertificatePem: otherCa.certificatePem }),
        ),
        'CertificateValidationException',
        { message: /INACTIVE/ },
      );
      await expectAwsError(
        env.client.send(new RegisterCertificateCommand({ certificatePem: byOther.certificatePem })),
        'CertificateValidationException',
        {
          message: /INACTIVE/,
        },
      );
    });
  });
});

describe('DescribeCertificate', () => {
  it('returns the full description with epoch-second timestamps and the validity period', async () => {
    const before = Date.now();
    const out = await env.client.send(new CreateKeysAndCertificateCommand({ setAsActive: false }));
    const d = (await env.client.send(new DescribeCertificateCommand({ certificateId: out.certificateId }))).certificateDescription;
    assert.ok(d);
    const facts = parseCertificateFacts(out.certificatePem ?? '');
    assert.equal(d.certificateId, out.certificateId);
    assert.equal(d.certificateArn, out.certificateArn);
    assert.equal(d.certificatePem, out.certificatePem);
    assert.equal(d.status, 'INACTIVE');
    assert.equal(d.ownedBy, ACCOUNT_ID);
    assert.equal(d.customerVersion, 1);
    assert.match(d.generationId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(d.certificateMode, 'DEFAULT');
    assert.equal(d.validity?.notBefore?.getTime(), facts.notBefore.getTime());
    assert.equal(d.validity?.notAfter?.getTime(), facts.notAfter.getTime());
    assert.ok(d.creationDate instanceof Date && Math.abs(d.creationDate.getTime() - before) < 60_000);
    assert.ok(d.lastModifiedDate instanceof Date);
    assert.equal(d.transferData, undefined);
  });

  it('answers ResourceNotFoundException for an unknown id and InvalidRequestException for a malformed one', async () => {
    await expectAwsError(env.client.send(new DescribeCertificateCommand({ certificateId: 'f'.repeat(64) })), 'ResourceNotFoundException', {
      status: 404,
    });
    await expectAwsError(env.client.send(new DescribeCertificateCommand({ certificateId: 'xyz' })), 'InvalidRequestException', {
      message: /certificateId "xyz" must be 64 hexadecimal digits/,
    });
  });
});

describe('ListCertificates', () => {
  it('pages newest first, ascending on request, and hides temporary claim certificates', async () => {
    const hidden = await issueDeviceCertificate(env.ca, { subject: { CN: 'claim' } });
    const facts = parseCertificateFacts(hidden.certificatePem);
    await env.registry.certificates.create({
      id: facts.certificateId,
      pem: hidden.certificatePem,
      status: 'ACTIVE',
      notBefore: facts.notBefore.getTime(),
      notAfter: facts.notAfter.getTime(),
      subjectDn: facts.subjectDn,
      issuerDn: facts.issuerDn,
      serial: facts.serialNumberHex,
      hidden: true,
      expiresAt: Date.now() + 3_600_000,
    });
    const expected = (await env.registry.certificates.list({ pageSize: 250 })).items.map((c) => c.id);
    assert.ok(expected.length >= 5, 'enough certificates for several pages');
    assert.ok(!expected.includes(facts.certificateId));

    const seen: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const page = await env.client.send(new ListCertificatesCommand({ pageSize: 2, ...(marker ? { marker } : {}) }));
      assert.ok((page.certificates ?? []).length <= 2);
      for (const c of page.certificates ?? []) {
        assert.equal(c.certificateArn, certArn(c.certificateId ?? ''));
        assert.ok(c.creationDate instanceof Date);
        assert.ok(c.status && c.certificateMode);
        seen.push(c.certificateId ?? '');
      }
      marker = page.nextMarker;
      pages++;
    } while (marker !== undefined);
    assert.ok(pages >= 3);
    assert.deepEqual(seen, expected);

    const ascending = await env.client.send(new ListCertificatesCommand({ ascendingOrder: true, pageSize: 250 }));
    assert.deepEqual(
      ascending.certificates?.map((c) => c.certificateId),
      [...expected].reverse(),
    );

    await expectAwsError(env.client.send(new ListCertificatesCommand({ pageSize: 251 })), 'InvalidRequestException', {
      message: /pageSize/,
    });
    await expectAwsError(env.client.send(new ListCertificatesCommand({ marker: 'bm90LWEtY3Vyc29y' })), 'InvalidRequestException');
  });
});

describe('UpdateCertificate', () => {
  it('changes status, bumps customerVersion and disconnects when leaving ACTIVE', async () => {
    const { certificateId } = await env.client.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    const id = certificateId ?? '';
    const callsBefore = env.disconnects.length;
    await env.client.send(new UpdateCertificateCommand({ certificateId: id, newStatus: 'INACTIVE' }));
    const d = (await env.client.send(new DescribeCertificateCommand({ certificateId: id }))).certificateDescription;
    assert.equal(d?.status, 'INACTIVE');
    assert.equal(d?.customerVersion, 2);
    assert.deepEqual(env.disconnects.slice(callsBefore), [{ certificateId: id, reason: 'certificate status set to INACTIVE' }]);

    const callsActive = env.disconnects.length;
    await env.client.send(new UpdateCertificateCommand({ certificateId: id, newStatus: 'ACTIVE' }));
    assert.equal((await env.registry.certificates.get(id))?.status, 'ACTIVE');
    assert.equal(env.disconnects.length, callsActive, 'activating disconnects nobody');

    await env.client.send(new UpdateCertificateCommand({ certificateId: id, newStatus: 'REVOKED' }));
    assert.equal((await env.registry.certificates.get(id))?.status, 'REVOKED');
    assert.equal(env.disconnects.at(-1)?.certificateId, id);
  });

  it('refuses illegal transitions and bad statuses without changing anything', async () => {
    const { certificateId } = await env.client.send(new CreateKeysAndCertificateCommand({ setAsActive: false }));
    const id = certificateId ?? '';
    await env.client.send(new UpdateCertificateCommand({ certificateId: id, newStatus: 'REVOKED' }));
    const inactiveId = (await env.client.send(new CreateKeysAndCertificateCommand({}))).certificateId ?? '';
    const calls = env.disconnects.length;
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(new UpdateCertificateCommand({ certificateId: id, newStatus: 'ACTIVE' })),
        'CertificateStateException',
        {
          status: 406,
          message: /REVOKED/,
        },
      );
      for (const target of ['PENDING_ACTIVATION', 'PENDING_TRANSFER'] as CertificateStatus[]) {
        await expectAwsError(
          env.client.send(new UpdateCertificateCommand({ certificateId: inactiveId, newStatus: target })),
          'CertificateStateException',
          {
            message: new RegExp(target),
          },
        );
      }
      await expectAwsError(
        env.client.send(new UpdateCertificateCommand({ certificateId: id, newStatus: 'BROKEN' as CertificateStatus })),
        'InvalidRequestException',
        {
          message: /newStatus must be one of/,
        },
      );
      await expectAwsError(
        env.client.send(new UpdateCertificateCommand({ certificateId: 'a'.repeat(64), newStatus: 'INACTIVE' })),
        'ResourceNotFoundException',
      );
    });
    assert.equal(env.disconnects.length, calls, 'failed updates disconnect nobody');
  });
});

describe('DeleteCertificate', () => {
  it('refuses an ACTIVE certificate and attached ones; forceDelete detaches policies', async () => {
    const { certificateId, certificateArn } = await env.client.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    const id = certificateId ?? '';
    await assertUnchanged(env.registry, () =>
      expectAwsError(env.client.send(new DeleteCertificateCommand({ certificateId: id })), 'CertificateStateException', {
        status: 406,
        message: /ACTIVE/,
      }),
    );

    await env.client.send(new UpdateCertificateCommand({ certificateId: id, newStatus: 'INACTIVE' }));
    await env.client.send(
      new CreatePolicyCommand({
        policyName: 'del-policy',
        policyDocument: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}',
      }),
    );
    await env.client.send(new AttachPolicyCommand({ policyName: 'del-policy', target: certificateArn }));
    await env.client.send(new CreateThingCommand({ thingName: 'del-thing' }));
    await env.client.send(new AttachThingPrincipalCommand({ thingName: 'del-thing', principal: certificateArn }));
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(new DeleteCertificateCommand({ certificateId: id, forceDelete: true })),
        'DeleteConflictException',
        {
          status: 409,
          message: /^Things must be detached before deletion \(arn: /,
        },
      );
    });
    await env.client.send(new DetachThingPrincipalCommand({ thingName: 'del-thing', principal: certificateArn }));
    await assertUnchanged(env.registry, () =>
      expectAwsError(env.client.send(new DeleteCertificateCommand({ certificateId: id })), 'DeleteConflictException', {
        message: /^Certificate policies must be detached before deletion \(arn: /,
      }),
    );

    const calls = env.disconnects.length;
    await env.client.send(new DeleteCertificateCommand({ certificateId: id, forceDelete: true }));
    assert.equal(await env.registry.certificates.get(id), null);
    assert.deepEqual(env.disconnects.slice(calls), [{ certificateId: id, reason: 'certificate deleted' }]);
    await expectAwsError(env.client.send(new DeleteCertificateCommand({ certificateId: id })), 'ResourceNotFoundException');
  });
});
