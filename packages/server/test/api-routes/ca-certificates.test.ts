/**
 * CA-certificate operations (JITP/JITR setup) through the real `@aws-sdk/client-iot`:
 * GetRegistrationCode, DeleteRegistrationCode, RegisterCACertificate (DEFAULT with a verification
 * certificate, SNI_ONLY), DescribeCACertificate, ListCACertificates, UpdateCACertificate and
 * DeleteCACertificate, and every refusal leaving the registry unchanged.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  CreateProvisioningTemplateCommand,
  DeleteCACertificateCommand,
  DeleteRegistrationCodeCommand,
  DescribeCACertificateCommand,
  GetRegistrationCodeCommand,
  ListCACertificatesCommand,
  RegisterCACertificateCommand,
  UpdateCACertificateCommand,
  type RegisterCACertificateCommandInput,
} from '@aws-sdk/client-iot';
import { examplePath } from '../../src/cli/examples.js';
import { createTestCa, createVerificationCertificate, issueDeviceCertificate, type CertificateAndKey } from '../../src/pki/index.js';
import type { Registry } from '../../src/registry/index.js';
import { iotClient } from '../api/helpers.js';
import { ACCOUNT_ID, REGION, expectAwsError, snapshot, startRoutesEnv, type RoutesEnv } from './helpers.js';

let env: RoutesEnv;
let jitpBody: string;

before(async () => {
  env = await startRoutesEnv();
  jitpBody = await readFile(examplePath('jitp-device-template.json'), 'utf8');
  await env.client.send(
    new CreateProvisioningTemplateCommand({
      templateName: 'jitp_tpl',
      templateBody: jitpBody,
      type: 'JITP',
      provisioningRoleArn: 'arn:aws:iam::123456789012:role/r',
    }),
  );
  await env.client.send(
    new CreateProvisioningTemplateCommand({
      templateName: 'fleet_tpl',
      templateBody: '{"Resources":{}}',
      provisioningRoleArn: 'arn:aws:iam::123456789012:role/r',
    }),
  );
});
after(() => env.close());

/** The registry state including CAs and the registration code. */
async function fullSnapshot(registry: Registry): Promise<unknown> {
  const cas = await registry.caCertificates.list({ pageSize: 250 });
  return { base: await snapshot(registry), cas: cas.items, code: await registry.settings.get('registration-code') };
}

/** Runs a failing call and asserts that it changed nothing (including CAs). */
async function assertNothingChanged(failing: () => Promise<unknown>): Promise<void> {
  const before = await fullSnapshot(env.registry);
  await failing();
  assert.deepEqual(await fullSnapshot(env.registry), before, 'the refused call changed the registry');
}

async function code(): Promise<string> {
  const r = await env.client.send(new GetRegistrationCodeCommand({}));
  assert.ok(r.registrationCode);
  return r.registrationCode;
}

async function verificationFor(ca: CertificateAndKey, registrationCode?: string): Promise<string> {
  return (await createVerificationCertificate(ca.certificatePem, ca.privateKeyPem, registrationCode ?? (await code()))).certificatePem;
}

async function register(
  input: Partial<RegisterCACertificateCommandInput> & { caCertificate: string },
): Promise<{ certificateId: string; certificateArn: string }> {
  const r = await env.client.send(new RegisterCACertificateCommand(input));
  assert.ok(r.certificateId && r.certificateArn);
  return { certificateId: r.certificateId, certificateArn: r.certificateArn };
}

describe('GetRegistrationCode / DeleteRegistrationCode', () => {
  it('returns a stable 64-hex code; deleting it makes a new one', async () => {
    const first = await code();
    assert.match(first, /^[0-9a-f]{64}$/);
    assert.equal(await code(), first);
    await env.client.send(new DeleteRegistrationCodeCommand({}));
    const second = await code();
    assert.match(second, /^[0-9a-f]{64}$/);
    assert.notEqual(second, first);
  });

  it('a verification certificate for a deleted code is refused', async () => {
    const ca = await createTestCa({ subject: { CN: 'Rotated code CA' } });
    const oldCode = await code();
    const verification = await verificationFor(ca, oldCode);
    await env.client.send(new DeleteRegistrationCodeCommand({}));
    await code();
    await assertNothingChanged(() =>
      expectAwsError(
        register({ caCertificate: ca.certificatePem, verificationCertificate: verification }),
        'RegistrationCodeValidationException',
        { status: 400 },
      ),
    );
  });
});

describe('RegisterCACertificate', () => {
  it('DEFAULT mode: registers with the verification certificate and describes as AWS does', async () => {
    const ca = await createTestCa({ subject: { O: 'Acme', CN: 'Acme Device CA' } });
    const before = Date.now();
    const r = await register({
      caCertificate: ca.certificatePem,
      verificationCertificate: await verificationFor(ca),
      setAsActive: true,
      allowAutoRegistration: true,
      registrationConfig: { templateName: 'jitp_tpl' },
    });
    assert.equal(r.certificateId, ca.certificateId);
    assert.equal(r.certificateArn, `arn:aws:iot:${REGION}:${ACCOUNT_ID}:cacert/${ca.certificateId}`);
    const d = await env.client.send(new DescribeCACertificateCommand({ certificateId: r.certificateId }));
    const desc = d.certificateDescription!;
    assert.equal(desc.certificateId, ca.certificateId);
    assert.equal(desc.certificateArn, r.certificateArn);
    assert.equal(desc.status, 'ACTIVE');
    assert.equal(desc.autoRegistrationStatus, 'ENABLE');
    assert.equal(desc.certificateMode, 'DEFAULT');
    assert.equal(desc.ownedBy, ACCOUNT_ID);
    assert.equal(desc.customerVersion, 1);
    assert.match(desc.generationId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(desc.certificatePem, ca.certificatePem);
    assert.ok(desc.creationDate instanceof Date && desc.creationDate.getTime() >= before - 2000);
    assert.ok(desc.validity?.notAfter instanceof Date && desc.validity.notAfter.getTime() > Date.now());
    assert.deepEqual(d.registrationConfig, { templateName: 'jitp_tpl' });
    const listed = await env.client.send(new ListCACertificatesCommand({ templateName: 'jitp_tpl' }));
    assert.deepEqual(
      listed.certificates?.map((c) => [c.certificateId, c.status]),
      [[ca.certificateId, 'ACTIVE']],
    );
  });

  it('defaults: INACTIVE, auto-registration DISABLE, no registration config', async () => {
    const ca = await createTestCa({ subject: { CN: 'Defaults CA' } });
    const r = await register({ caCertificate: ca.certificatePem, verificationCertificate: await verificationFor(ca) });
    const d = await env.client.send(new DescribeCACertificateCommand({ certificateId: r.certificateId }));
    assert.equal(d.certificateDescription?.status, 'INACTIVE');
    assert.equal(d.certificateDescription?.autoRegistrationStatus, 'DISABLE');
    assert.equal(d.registrationConfig, undefined);
  });

  it('SNI_ONLY mode: no verification certificate', async () => {
    const ca = await createTestCa({ subject: { CN: 'SNI CA' } });
    const r = await register({ caCertificate: ca.certificatePem, certificateMode: 'SNI_ONLY', setAsActive: true });
    const d = await env.client.send(new DescribeCACertificateCommand({ certificateId: r.certificateId }));
    assert.equal(d.certificateDescription?.certificateMode, 'SNI_ONLY');
  });

  it('an inline templateBody with roleArn is stored and described', async () => {
    const ca = await createTestCa({ subject: { CN: 'Inline CA' } });
    const r = await register({
      caCertificate: ca.certificatePem,
      verificationCertificate: await verificationFor(ca),
      registrationConfig: { templateBody: jitpBody, roleArn: 'arn:aws:iam::123456789012:role/JITP' },
    });
    const d = await env.client.send(new DescribeCACertificateCommand({ certificateId: r.certificateId }));
    assert.deepEqual(d.registrationConfig, { templateBody: jitpBody, roleArn: 'arn:aws:iam::123456789012:role/JITP' });
  });

  it('refuses a wrong registration code', async () => {
    const ca = await createTestCa({ subject: { CN: 'Wrong code CA' } });
    const verification = await verificationFor(ca, 'f'.repeat(64));
    await assertNothingChanged(() =>
      expectAwsError(
        register({ caCertificate: ca.certificatePem, verificationCertificate: verification }),
        'RegistrationCodeValidationException',
        {
          status: 400,
          message: /registration code/,
        },
      ),
    );
  });

  it('refuses a verification certificate not signed by the CA key (key mismatch)', async () => {
    const ca = await createTestCa({ subject: { CN: 'Victim CA' } });
    const attacker = await createTestCa({ subject: { CN: 'Victim CA' } });
    const verification = await verificationFor(attacker);
    await assertNothingChanged(() =>
      expectAwsError(
        register({ caCertificate: ca.certificatePem, verificationCertificate: verification }),
        'CertificateValidationException',
        {
          status: 400,
          message: /not signed by the private key/,
        },
      ),
    );
  });

  it('refuses an expired verification certificate', async () => {
    const ca = await createTestCa({ subject: { CN: 'Stale verification CA' }, now: new Date(Date.now() - 30 * 86_400_000) });
    const stale = await issueDeviceCertificate(ca, {
      subject: { CN: await code() },
      now: new Date(Date.now() - 20 * 86_400_000),
      validityDays: 2,
    });
    await assertNothingChanged(() =>
      expectAwsError(
        register({ caCertificate: ca.certificatePem, verificationCertificate: stale.certificatePem }),
        'CertificateValidationException',
        { message: /verificationCertificate has expired/ },
      ),
    );
  });

  it('refuses a certificate that is not a CA (basicConstraints cA=false)', async () => {
    const ca = await createTestCa({ subject: { CN: 'Signer' } });
    const leaf = await issueDeviceCertificate(ca, { subject: { CN: 'not-a-ca' } });
    await assertNothingChanged(() =>
      expectAwsError(register({ caCertificate: leaf.certificatePem, certificateMode: 'SNI_ONLY' }), 'CertificateValidationException', {
        message: /not a CA certificate/,
      }),
    );
  });

  it('refuses an expired CA', async () => {
    const expired = await createTestCa({ subject: { CN: 'Expired CA' }, now: new Date(Date.now() - 10 * 86_400_000), validityDays: 1 });
    await assertNothingChanged(() =>
      expectAwsError(register({ caCertificate: expired.certificatePem, certificateMode: 'SNI_ONLY' }), 'CertificateValidationException', {
        message: /expired/,
      }),
    );
  });

  it('DEFAULT without a verification certificate, and SNI_ONLY with one, are invalid', async () => {
    const ca = await createTestCa({ subject: { CN: 'Mode CA' } });
    const verification = await verificationFor(ca);
    await assertNothingChanged(async () => {
      await expectAwsError(register({ caCertificate: ca.certificatePem }), 'InvalidRequestException', {
        message: /verificationCertificate is required/,
      });
      await expectAwsError(
        register({ caCertificate: ca.certificatePem, certificateMode: 'SNI_ONLY', verificationCertificate: verification }),
        'InvalidRequestException',
        {
          message: /must be omitted/,
        },
      );
    });
  });

  it('malformed and oversized certificates are refused', async () => {
    const ca = await createTestCa({ subject: { CN: 'Malformed CA' } });
    await assertNothingChanged(async () => {
      await expectAwsError(
        register({ caCertificate: 'not a certificate', certificateMode: 'SNI_ONLY' }),
        'CertificateValidationException',
        { message: /not a valid X\.509/ },
      );
      await expectAwsError(register({ caCertificate: 'x'.repeat(65_537), certificateMode: 'SNI_ONLY' }), 'InvalidRequestException', {
        message: /at most 65536/,
      });
      await expectAwsError(
        register({
          caCertificate: ca.certificatePem,
          verificationCertificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
        }),
        'CertificateValidationException',
      );
      await expectAwsError(
        register({
          caCertificate: ca.certificatePem,
          certificateMode: 'BOGUS' as 'DEFAULT',
          verificationCertificate: await verificationFor(ca),
        }),
        'InvalidRequestException',
        {
          message: /certificateMode/,
        },
      );
    });
  });

  it('invalid registrationConfig is refused', async () => {
    const ca = await createTestCa({ subject: { CN: 'Config CA' } });
    const verification = await verificationFor(ca);
    const base = { caCertificate: ca.certificatePem, verificationCertificate: verification };
    await assertNothingChanged(async () => {
      await expectAwsError(register({ ...base, registrationConfig: { templateName: 'fleet_tpl' } }), 'InvalidRequestException', {
        message: /not of type JITP/,
      });
      await expectAwsError(register({ ...base, registrationConfig: { templateName: 'no_such_template' } }), 'ResourceNotFoundException');
      await expectAwsError(
        register({ ...base, registrationConfig: { templateBody: '{not json', roleArn: 'arn:aws:iam::1:role/r' } }),
        'InvalidRequestException',
        { message: /templateBody/ },
      );
      await expectAwsError(register({ ...base, registrationConfig: { templateBody: jitpBody } }), 'InvalidRequestException', {
        message: /roleArn is required/,
      });
      await expectAwsError(
        register({ ...base, registrationConfig: { templateBody: jitpBody, roleArn: 'r', templateName: 'jitp_tpl' } }),
        'InvalidRequestException',
        { message: /not both/ },
      );
    });
  });

  it('a replayed registration is ResourceAlreadyExistsException', async () => {
    const ca = await createTestCa({ subject: { CN: 'Replay CA' } });
    const input = { caCertificate: ca.certificatePem, verificationCertificate: await verificationFor(ca), setAsActive: true };
    await register(input);
    await assertNothingChanged(() => expectAwsError(register(input), 'ResourceAlreadyExistsException', { status: 409 }));
  });

  it('an unauthorized caller creates nothing', async () => {
    const ca = await createTestCa({ subject: { CN: 'Unauthorized CA' } });
    const intruder = iotClient(
      env.baseUrl,
      { accessKeyId: 'AKIAINTRUDER00000000', secretAccessKey: 'x'.repeat(40) },
      { ca: env.ca.rootCertificatePem },
    );
    try {
      await assertNothingChanged(async () => {
        await assert.rejects(
          intruder.send(new RegisterCACertificateCommand({ caCertificate: ca.certificatePem, certificateMode: 'SNI_ONLY' })),
          (err: Error) => /UnrecognizedClient|InvalidSignature/.test(err.name),
        );
        await assert.rejects(intruder.send(new GetRegistrationCodeCommand({})), (err: Error) =>
          /UnrecognizedClient|InvalidSignature/.test(err.name),
        );
      });
    } finally {
      intruder.destroy();
    }
  });
});

describe('UpdateCACertificate / DeleteCACertificate', () => {
  it('changes status, auto-registration and the registration config; removeAutoRegistration removes the template', async () => {
    const ca = await createTestCa({ subject: { CN: 'Update CA' } });
    const { certificateId } = await register({
      caCertificate: ca.certificatePem,
      verificationCertificate: await verificationFor(ca),
      setAsActive: true,
      allowAutoRegistration: true,
    });
    await env.client.send(
      new UpdateCACertificateCommand({
        certificateId,
        newStatus: 'INACTIVE',
        newAutoRegistrationStatus: 'DISABLE',
        registrationConfig: { templateName: 'jitp_tpl' },
      }),
    );
    let d = await env.client.send(new DescribeCACertificateCommand({ certificateId }));
    assert.equal(d.certificateDescription?.status, 'INACTIVE');
    assert.equal(d.certificateDescription?.autoRegistrationStatus, 'DISABLE');
    assert.equal(d.certificateDescription?.customerVersion, 2);
    assert.deepEqual(d.registrationConfig, { templateName: 'jitp_tpl' });
    await env.client.send(new UpdateCACertificateCommand({ certificateId, removeAutoRegistration: true }));
    d = await env.client.send(new DescribeCACertificateCommand({ certificateId }));
    assert.equal(d.registrationConfig, undefined);
    assert.equal(d.certificateDescription?.autoRegistrationStatus, 'DISABLE');
    assert.equal(d.certificateDescription?.customerVersion, 3);
  });

  it('refuses bad updates, changing nothing', async () => {
    const ca = await createTestCa({ subject: { CN: 'Bad update CA' } });
    const { certificateId } = await register({
      caCertificate: ca.certificatePem,
      verificationCertificate: await verificationFor(ca),
      setAsActive: true,
    });
    await assertNothingChanged(async () => {
      await expectAwsError(
        env.client.send(new UpdateCACertificateCommand({ certificateId, newStatus: 'REVOKED' as 'ACTIVE' })),
        'InvalidRequestException',
        { message: /newStatus/ },
      );
      await expectAwsError(
        env.client.send(new UpdateCACertificateCommand({ certificateId, newAutoRegistrationStatus: 'MAYBE' as 'ENABLE' })),
        'InvalidRequestException',
      );
      await expectAwsError(
        env.client.send(
          new UpdateCACertificateCommand({ certificateId, removeAutoRegistration: true, registrationConfig: { templateName: 'jitp_tpl' } }),
        ),
        'InvalidRequestException',
        { message: /cannot be given together/ },
      );
      await expectAwsError(
        env.client.send(new UpdateCACertificateCommand({ certificateId, registrationConfig: { templateName: 'fleet_tpl' } })),
        'InvalidRequestException',
      );
      await expectAwsError(
        env.client.send(new UpdateCACertificateCommand({ certificateId: 'a'.repeat(64), newStatus: 'INACTIVE' })),
        'ResourceNotFoundException',
      );
      await expectAwsError(
        env.client.send(new UpdateCACertificateCommand({ certificateId: 'xyz', newStatus: 'INACTIVE' })),
        'InvalidRequestException',
      );
    });
  });

  it('an ACTIVE CA cannot be deleted; an INACTIVE one can, once', async () => {
    const ca = await createTestCa({ subject: { CN: 'Delete CA' } });
    const { certificateId } = await register({
      caCertificate: ca.certificatePem,
      verificationCertificate: await verificationFor(ca),
      setAsActive: true,
    });
    await assertNothingChanged(() =>
      expectAwsError(env.client.send(new DeleteCACertificateCommand({ certificateId })), 'CertificateStateException', { status: 406 }),
    );
    await env.client.send(new UpdateCACertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
    await env.client.send(new DeleteCACertificateCommand({ certificateId }));
    await expectAwsError(env.client.send(new DescribeCACertificateCommand({ certificateId })), 'ResourceNotFoundException', {
      status: 404,
    });
    await expectAwsError(env.client.send(new DeleteCACertificateCommand({ certificateId })), 'ResourceNotFoundException');
  });

  it('ListCACertificates pages with pageSize and marker', async () => {
    const all: string[] = [];
    let marker: string | undefined;
    do {
      const r = await env.client.send(new ListCACertificatesCommand({ pageSize: 2, ascendingOrder: true, ...(marker ? { marker } : {}) }));
      assert.ok((r.certificates?.length ?? 0) <= 2);
      all.push(...(r.certificates ?? []).map((c) => c.certificateId!));
      marker = r.nextMarker;
    } while (marker);
    const direct = await env.registry.caCertificates.list({ pageSize: 250, ascending: true });
    assert.deepEqual(
      all,
      direct.items.map((c) => c.id),
    );
    assert.ok(all.length >= 5);
  });
});
