import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import {
  certificateId,
  checkValidity,
  createCertificateAuthority,
  createTestCa,
  createVerificationCertificate,
  issueDeviceCertificate,
  parseCertificateFacts,
  PkiError,
  toPolicyDn,
  verifyIssuedBy,
} from '../../src/pki/index.js';

const manufacturer = await createTestCa({ subject: { C: 'US', O: 'Acme Corp', OU: 'Devices', CN: 'Acme Device CA' } });

test('certificateId is the SHA-256 of the DER, from PEM or DER, and matches the facts', async () => {
  const device = await issueDeviceCertificate(manufacturer, { subject: { CN: 'sensor-1' } });
  const raw = new X509Certificate(device.certificatePem).raw;
  const expected = createHash('sha256').update(raw).digest('hex');
  assert.match(expected, /^[0-9a-f]{64}$/);
  assert.equal(certificateId(device.certificatePem), expected);
  assert.equal(certificateId(raw), expected);
  assert.equal(certificateId(new Uint8Array(raw)), expected);
  assert.equal(device.certificateId, expected);
  assert.equal(parseCertificateFacts(device.certificatePem).certificateId, expected);
  // Text around the PEM block (as in `openssl x509 -text` output) does not matter.
  assert.equal(certificateId(`Certificate:\n  blah\n${device.certificatePem}trailing`), expected);
  assert.throws(
    () => certificateId('no pem here'),
    (err: unknown) => err instanceof PkiError && err.code === 'InvalidPem',
  );
  assert.throws(
    () => certificateId(new Uint8Array(0)),
    (err: unknown) => err instanceof PkiError && err.code === 'InvalidPem',
  );
});

test('subject parsing: every attribute type, multi-valued OU in order, special characters verbatim', async () => {
  const subject: Array<[string, string]> = [
    ['C', 'DE'],
    ['ST', 'Bayern'],
    ['L', 'München'],
    ['O', 'Acme, Inc. "quoted" + more = \\ ; <x>'],
    ['OU', 'Sensors'],
    ['OU', 'Line #2'],
    ['CN', 'dev-ä-001'],
    ['serialNumber', 'SN-0042'],
    ['dnQualifier', 'dq'],
    ['title', 'Probe'],
    ['SN', 'Surname'],
    ['GN', 'Given'],
    ['initials', 'GS'],
    ['pseudonym', 'p$eudo'],
    ['generationQualifier', 'III'],
  ];
  const device = await issueDeviceCertificate(manufacturer, { subject });
  const facts = parseCertificateFacts(device.certificatePem);
  assert.deepEqual(facts.subject.OU, ['Sensors', 'Line #2']);
  assert.deepEqual(facts.subject.O, ['Acme, Inc. "quoted" + more = \\ ; <x>']);
  assert.deepEqual(facts.subject.L, ['München']);
  assert.deepEqual(facts.subject.CN, ['dev-ä-001']);
  for (const [key, value] of subject) assert.ok(facts.subject[key]?.includes(value), `${key}=${value}`);
  assert.equal(Object.getPrototypeOf(facts.subject), null);
  // The DN string escapes the special characters (RFC 4514) and keeps encoding order.
  assert.match(
    facts.subjectDn,
    /^C=DE, ST=Bayern, L=München, O=Acme\\, Inc\. \\"quoted\\" \\\+ more = \\\\ \\; \\<x\\>, OU=Sensors, OU=Line #2, CN=dev-ä-001, serialNumber=SN-0042/,
  );
  // Node's own parser agrees on the values.
  const nodeSubject = new X509Certificate(device.certificatePem).subject;
  assert.match(nodeSubject, /OU=Sensors\nOU=Line #2/);

  const policy = toPolicyDn(facts.subject);
  assert.deepEqual(
    { ...policy },
    {
      Country: ['DE'],
      State: ['Bayern'],
      Organization: ['Acme, Inc. "quoted" + more = \\ ; <x>'],
      OrganizationalUnit: ['Sensors', 'Line #2'],
      CommonName: ['dev-ä-001'],
      SerialNumber: ['SN-0042'],
      DistinguishedNameQualifier: ['dq'],
      Title: ['Probe'],
      Surname: ['Surname'],
      GivenName: ['Given'],
      Initials: ['GS'],
      Pseudonym: ['p$eudo'],
      GenerationQualifier: ['III'],
    },
  );
  assert.deepEqual(
    { ...toPolicyDn(facts.issuer) },
    {
      Country: ['US'],
      Organization: ['Acme Corp'],
      OrganizationalUnit: ['Devices'],
      CommonName: ['Acme Device CA'],
    },
  );
});

test('facts: serial number decimal and hex agree with node, alt names by kind, key description, CA flags', async () => {
  const device = await issueDeviceCertificate(manufacturer, {
    subject: { CN: 'gw-1' },
    keyAlgorithm: 'ec-p384',
    subjectAltNames: { dns: ['gw-1.example.com'], ip: ['10.1.2.3', 'fe80::1'], email: ['ops@example.com'], uri: ['urn:dev:gw-1'] },
  });
  const facts = parseCertificateFacts(device.certificatePem);
  const node = new X509Certificate(device.certificatePem);
  assert.equal(facts.serialNumberHex, node.serialNumber.toLowerCase());
  assert.equal(BigInt(facts.serialNumber), BigInt(`0x${node.serialNumber}`));
  assert.deepEqual(facts.subjectAltNames, {
    DNSName: ['gw-1.example.com'],
    IPAddress: ['10.1.2.3', 'fe80::1'],
    RFC822Name: ['ops@example.com'],
    UniformResourceIdentifier: ['urn:dev:gw-1'],
    DirectoryName: [],
  });
  assert.deepEqual(facts.publicKey, { type: 'EC', bits: 384, curve: 'P-384' });
  assert.equal(facts.isCa, false);
  assert.equal(facts.pathLength, undefined);
  assert.equal(facts.notBefore.getTime(), new Date(node.validFrom).getTime());
  assert.equal(facts.notAfter.getTime(), new Date(node.validTo).getTime());
  assert.equal(facts.authorityKeyId, parseCertificateFacts(manufacturer.certificatePem).subjectKeyId);

  const caFacts = parseCertificateFacts(manufacturer.certificatePem);
  assert.equal(caFacts.isCa, true);
  assert.equal(caFacts.selfIssued, true);
});

test('parseCertificateFacts refuses non-certificates with a typed error', () => {
  for (const bad of [
    '',
    'garbage',
    '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
    'x'.repeat(70_000),
    5 as unknown as string,
  ]) {
    assert.throws(
      () => parseCertificateFacts(bad),
      (err: unknown) => err instanceof PkiError && err.code === 'InvalidCertificate',
    );
  }
});

test('verifyIssuedBy: true for the real issuer only', async () => {
  const otherCa = await createTestCa({ subject: { CN: 'Acme Device CA', O: 'Acme Corp', OU: 'Devices', C: 'US' } });
  const device = await issueDeviceCertificate(manufacturer, { subject: { CN: 'd' } });
  assert.equal(verifyIssuedBy(device.certificatePem, manufacturer.certificatePem), true);
  // Same subject DN, different key: the name matches, the signature must not.
  assert.equal(verifyIssuedBy(device.certificatePem, otherCa.certificatePem), false);
  assert.equal(verifyIssuedBy(manufacturer.certificatePem, device.certificatePem), false);
  const fleet = await createCertificateAuthority();
  assert.equal(verifyIssuedBy(fleet.issuingCertificatePem, fleet.rootCertificatePem), true);
  assert.equal(verifyIssuedBy(fleet.rootCertificatePem, fleet.rootCertificatePem), true);
  assert.equal(verifyIssuedBy(device.certificatePem, fleet.rootCertificatePem), false);
  assert.throws(() => verifyIssuedBy('junk', manufacturer.certificatePem), { code: 'InvalidCertificate' });
});

test('checkValidity: before, within and after the validity period', async () => {
  const device = await issueDeviceCertificate(manufacturer, {
    subject: { CN: 'v' },
    now: new Date('2027-01-01T00:00:00Z'),
    backdateSeconds: 0,
    validityDays: 10,
  });
  assert.equal(checkValidity(device.certificatePem, new Date('2026-12-31T23:59:59Z')), 'NotYetValid');
  assert.equal(checkValidity(device.certificatePem, new Date('2027-01-01T00:00:00Z')), 'Valid');
  assert.equal(checkValidity(device.certificatePem, new Date('2027-01-11T00:00:00Z')), 'Valid');
  assert.equal(checkValidity(device.certificatePem, new Date('2027-01-11T00:00:01Z')), 'Expired');
});

test('test-lab: device certificate for a given public key, issued by a fleetprov CA too', async () => {
  const fleet = await createCertificateAuthority();
  const first = await issueDeviceCertificate(manufacturer, { subject: { CN: 'k' } });
  assert.ok(first.privateKeyPem);
  const second = await issueDeviceCertificate(fleet, { subject: { CN: 'k2' }, publicKey: first.publicKeyPem });
  assert.equal(second.privateKeyPem, undefined);
  assert.equal(second.publicKeyPem, first.publicKeyPem);
  assert.ok(verifyIssuedBy(second.certificatePem, fleet.issuingCertificatePem));
  await assert.rejects(
    issueDeviceCertificate({ certificatePem: manufacturer.certificatePem, privateKeyPem: first.privateKeyPem }, { subject: { CN: 'x' } }),
    {
      code: 'KeyMismatch',
    },
  );
});

test('verification certificate for RegisterCACertificate: CN is the registration code, signed by the CA key', async () => {
  const code = 'a'.repeat(56) + '0123abcd';
  const verification = await createVerificationCertificate(manufacturer.certificatePem, manufacturer.privateKeyPem, code);
  const facts = parseCertificateFacts(verification.certificatePem);
  assert.deepEqual(facts.subject.CN, [code]);
  assert.equal(facts.isCa, false);
  assert.ok(verifyIssuedBy(verification.certificatePem, manufacturer.certificatePem));
  await assert.rejects(createVerificationCertificate(manufacturer.certificatePem, manufacturer.privateKeyPem, ''), { code: 'InvalidName' });
  await assert.rejects(createVerificationCertificate(manufacturer.certificatePem, manufacturer.privateKeyPem, 'x'.repeat(65)), {
    code: 'InvalidName',
  });
});

test('names: unknown attributes, bad country codes and hostile keys are refused', async () => {
  for (const subject of [
    { XX: 'a' },
    { C: 'Germany' },
    { CN: '' },
    {},
    JSON.parse('{"__proto__": "x"}') as Record<string, string>,
    JSON.parse('{"constructor": "x"}') as Record<string, string>,
    { CN: 5 } as unknown as Record<string, string>,
  ]) {
    await assert.rejects(
      issueDeviceCertificate(manufacturer, { subject, publicKey: manufacturer.certificatePem }),
      { code: 'InvalidName' },
      JSON.stringify(subject),
    );
  }
  const byOid = await issueDeviceCertificate(manufacturer, {
    subject: [
      ['2.5.4.3', 'by-oid'],
      ['1.3.6.1.4.1.99999.1', 'custom'],
    ],
    publicKey: manufacturer.certificatePem,
  });
  const facts = parseCertificateFacts(byOid.certificatePem);
  assert.deepEqual(facts.subject.CN, ['by-oid']);
  assert.deepEqual(facts.subject['1.3.6.1.4.1.99999.1'], ['custom']);
  assert.equal(toPolicyDn(facts.subject)['1.3.6.1.4.1.99999.1'], undefined);
});
