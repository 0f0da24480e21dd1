/**
 * ListCertificatesByCA through the real `@aws-sdk/client-iot`: the device certificates a registered
 * CA signed, newest first unless ascending, paged with marker; malformed, unsigned and replayed
 * requests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateKeysAndCertificateCommand,
  ListCertificatesByCACommand,
  RegisterCACertificateCommand,
  RegisterCertificateCommand,
} from '@aws-sdk/client-iot';
import { createTestCa, issueDeviceCertificate } from '../../src/pki/index.js';
import { expectAwsError, startRoutesEnv, type RoutesEnv } from './helpers.js';
import { assertSigV4Refusals, replaySigned } from './wire.js';

let env: RoutesEnv;
let caId: string;
let otherCaId: string;
const deviceIds: string[] = [];

before(async () => {
  env = await startRoutesEnv();
  const ca = await createTestCa({ subject: { CN: 'By-CA Manufacturer' } });
  const other = await createTestCa({ subject: { CN: 'Other Manufacturer' } });
  caId = (
    await env.client.send(
      new RegisterCACertificateCommand({ caCertificate: ca.certificatePem, certificateMode: 'SNI_ONLY', setAsActive: true }),
    )
  ).certificateId!;
  otherCaId = (
    await env.client.send(
      new RegisterCACertificateCommand({ caCertificate: other.certificatePem, certificateMode: 'SNI_ONLY', setAsActive: true }),
    )
  ).certificateId!;
  for (const cn of ['dev-1', 'dev-2', 'dev-3']) {
    const device = await issueDeviceCertificate(ca, { subject: { CN: cn } });
    await env.client.send(new RegisterCertificateCommand({ certificatePem: device.certificatePem, setAsActive: cn !== 'dev-2' }));
    deviceIds.push(device.certificateId);
    await new Promise((resolve) => setTimeout(resolve, 3)); // distinct creation dates
  }
  await env.client.send(
    new RegisterCertificateCommand({ certificatePem: (await issueDeviceCertificate(other, { subject: { CN: 'x' } })).certificatePem }),
  );
  await env.client.send(new CreateKeysAndCertificateCommand({ setAsActive: true })); // fleetprov's own CA: not registered
});
after(() => env.close());

describe('ListCertificatesByCA', () => {
  it('lists the certificates of one CA, newest first, as ListCertificates summarises them', async () => {
    const out = await env.client.send(new ListCertificatesByCACommand({ caCertificateId: caId }));
    assert.deepEqual(
      out.certificates?.map((c) => c.certificateId),
      [...deviceIds].reverse(),
    );
    const dev2 = out.certificates?.find((c) => c.certificateId === deviceIds[1]);
    assert.equal(dev2?.status, 'INACTIVE');
    assert.equal(dev2?.certificateMode, 'SNI_ONLY'); // the mode of its SNI_ONLY CA
    assert.equal(dev2?.certificateArn, (await env.registry.certificates.get(deviceIds[1]!))?.arn);
    assert.ok(dev2?.creationDate instanceof Date);
    assert.equal(out.nextMarker, undefined);
    const other = await env.client.send(new ListCertificatesByCACommand({ caCertificateId: otherCaId.toUpperCase() }));
    assert.equal(other.certificates?.length, 1);
  });

  it('pages in ascending order with marker', async () => {
    const first = await env.client.send(new ListCertificatesByCACommand({ caCertificateId: caId, ascendingOrder: true, pageSize: 2 }));
    assert.deepEqual(
      first.certificates?.map((c) => c.certificateId),
      deviceIds.slice(0, 2),
    );
    assert.ok(first.nextMarker);
    const rest = await env.client.send(
      new ListCertificatesByCACommand({ caCertificateId: caId, ascendingOrder: true, pageSize: 2, marker: first.nextMarker }),
    );
    assert.deepEqual(
      rest.certificates?.map((c) => c.certificateId),
      deviceIds.slice(2),
    );
    assert.equal(rest.nextMarker, undefined);
  });

  it('an unknown CA lists nothing (AWS models no ResourceNotFoundException here); malformed input is invalid', async () => {
    assert.deepEqual((await env.client.send(new ListCertificatesByCACommand({ caCertificateId: 'f'.repeat(64) }))).certificates, []);
    await expectAwsError(env.client.send(new ListCertificatesByCACommand({ caCertificateId: 'abc' })), 'InvalidRequestException', {
      status: 400,
      message: /^caCertificateId "abc" must be 64 hexadecimal digits\.$/,
    });
    await expectAwsError(env.client.send(new ListCertificatesByCACommand({ caCertificateId: 'g'.repeat(64) })), 'InvalidRequestException');
    await expectAwsError(
      env.client.send(new ListCertificatesByCACommand({ caCertificateId: caId, pageSize: 300 })),
      'InvalidRequestException',
      {
        message: /pageSize must be between 1 and 250/,
      },
    );
    await expectAwsError(
      env.client.send(new ListCertificatesByCACommand({ caCertificateId: caId, marker: 'x'.repeat(9000) })),
      'InvalidRequestException',
    );
  });

  it('a replayed signed request answers the same; unsigned ones are refused', async () => {
    const [a, b] = await replaySigned(env, { method: 'GET', path: `/certificates-by-ca/${caId}`, query: { pageSize: '1' } });
    assert.equal(a?.status, 200, a?.body);
    assert.deepEqual(b?.json(), a?.json());
    await assertSigV4Refusals(env, (c) => c.send(new ListCertificatesByCACommand({ caCertificateId: caId })));
  });
});
