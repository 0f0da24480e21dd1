import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import {
  createCertificateAuthority,
  createCsr,
  issueFromCsr,
  issueServerCertificate,
  loadCertificateAuthority,
  parseCertificateFacts,
  PkiError,
  type CertificateAuthority,
} from '../../src/pki/index.js';

const ca = await createCertificateAuthority();

test('root CA: self-signed, CA with pathLen 1, keyCertSign, long-lived trust anchor', () => {
  const root = new X509Certificate(ca.rootCertificatePem);
  assert.ok(root.ca);
  assert.ok(root.checkIssued(root));
  assert.ok(root.verify(root.publicKey));
  const facts = parseCertificateFacts(ca.rootCertificatePem);
  assert.equal(facts.isCa, true);
  assert.equal(facts.pathLength, 1);
  assert.equal(facts.selfIssued, true);
  assert.equal(facts.subjectKeyId, facts.authorityKeyId);
  assert.equal(facts.publicKey.curve, 'P-256');
  // Long enough for AWS-style device expiries in 2049.
  assert.ok(facts.notAfter > new Date('2049-12-31T23:59:59Z'));
  assert.equal(ca.rootCertificateId, facts.certificateId);
});

test('issuing CA: signed by the root, CA with pathLen 0, AKI = root SKI, expires before the root', () => {
  const root = new X509Certificate(ca.rootCertificatePem);
  const issuing = new X509Certificate(ca.issuingCertificatePem);
  assert.ok(issuing.ca);
  assert.ok(issuing.checkIssued(root));
  assert.ok(issuing.verify(root.publicKey));
  assert.equal(issuing.verify(issuing.publicKey), false, 'issuing CA must not be self-signed');
  const facts = parseCertificateFacts(ca.issuingCertificatePem);
  const rootFacts = parseCertificateFacts(ca.rootCertificatePem);
  assert.equal(facts.pathLength, 0);
  assert.equal(facts.authorityKeyId, rootFacts.subjectKeyId);
  assert.ok(facts.notAfter < rootFacts.notAfter);
  assert.ok(facts.notAfter > new Date('2049-12-31T23:59:59Z'));
  assert.equal(ca.caCertificatesPem, ca.rootCertificatePem + ca.issuingCertificatePem);
});

test('CA options: P-384 keys, custom subjects', async () => {
  const custom = await createCertificateAuthority({
    keyAlgorithm: 'ec-p384',
    rootSubject: { O: 'Acme', CN: 'Acme Root' },
    issuingSubject: { O: 'Acme', CN: 'Acme Issuing' },
  });
  const root = parseCertificateFacts(custom.rootCertificatePem);
  const issuing = parseCertificateFacts(custom.issuingCertificatePem);
  assert.equal(root.publicKey.curve, 'P-384');
  assert.equal(root.subjectDn, 'O=Acme, CN=Acme Root');
  assert.equal(issuing.issuerDn, 'O=Acme, CN=Acme Root');
  assert.equal(issuing.subjectDn, 'O=Acme, CN=Acme Issuing');
  await assert.rejects(createCertificateAuthority({ rootValidityDays: 100, issuingValidityDays: 200 }), { code: 'InvalidValidity' });
});

test('the bundle round-trips and mismatched bundles are refused', async () => {
  const again = await loadCertificateAuthority(ca.bundle);
  assert.equal(again.rootCertificateId, ca.rootCertificateId);
  assert.equal(again.issuingCertificateId, ca.issuingCertificateId);

  const other = await createCertificateAuthority();
  await assert.rejects(loadCertificateAuthority({ ...ca.bundle, rootKeyPem: other.bundle.rootKeyPem }), { code: 'KeyMismatch' });
  await assert.rejects(loadCertificateAuthority({ ...ca.bundle, issuingKeyPem: other.bundle.issuingKeyPem }), { code: 'KeyMismatch' });
  await assert.rejects(
    loadCertificateAuthority({ ...ca.bundle, issuingCertPem: other.bundle.issuingCertPem, issuingKeyPem: other.bundle.issuingKeyPem }),
    { code: 'CaMismatch' },
  );
  await assert.rejects(loadCertificateAuthority({ ...ca.bundle, rootCertPem: 'garbage' }), { code: 'InvalidCertificate' });
  await assert.rejects(loadCertificateAuthority({ ...ca.bundle, rootKeyPem: 'garbage' }), { code: 'InvalidKey' });
  // The issuing CA in the root slot: not self-signed.
  await assert.rejects(
    loadCertificateAuthority({ ...ca.bundle, rootCertPem: ca.bundle.issuingCertPem, rootKeyPem: ca.bundle.issuingKeyPem }),
    { code: 'CaMismatch' },
  );
});

test('server certificate: SANs for localhost/loopback plus given names, serverAuth, chains to the root', async () => {
  const server = await issueServerCertificate(ca, ['iot.example.com', '192.0.2.7', '[2001:db8::1]', 'IOT.example.com']);
  const cert = new X509Certificate(server.certificatePem);
  const issuing = new X509Certificate(ca.issuingCertificatePem);
  assert.ok(cert.checkIssued(issuing));
  assert.ok(cert.verify(issuing.publicKey));
  assert.equal(cert.ca, false);
  assert.ok(cert.checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(server.privateKeyPem))));
  assert.equal(cert.checkHost('iot.example.com'), 'iot.example.com');
  assert.equal(cert.checkHost('localhost'), 'localhost');
  assert.equal(cert.checkHost('evil.example.com'), undefined);
  assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(cert.checkIP('::1'), '::1');
  assert.equal(cert.checkIP('192.0.2.7'), '192.0.2.7');
  assert.equal(cert.checkIP('2001:db8::1'), '2001:db8::1');
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  const facts = parseCertificateFacts(server.certificatePem);
  assert.deepEqual(facts.subjectAltNames.DNSName, ['localhost', 'iot.example.com']);
  assert.deepEqual(facts.subjectAltNames.IPAddress, ['127.0.0.1', '::1', '192.0.2.7', '2001:db8::1']);
  assert.deepEqual(server.hostnames, ['localhost', 'iot.example.com', '127.0.0.1', '::1', '192.0.2.7', '2001:db8::1']);
  assert.equal(server.chainPem, server.certificatePem + ca.issuingCertificatePem);
  assert.deepEqual(facts.subject.CN, ['iot.example.com']);
});

test('server certificate: invalid host names are refused', async () => {
  for (const bad of ['bad host', 'a..b', '-x.example.com', 'x'.repeat(64) + '.com', 'a.*.com', '']) {
    await assert.rejects(issueServerCertificate(ca, [bad]), (err: unknown) => err instanceof PkiError && err.code === 'InvalidHostname');
  }
});

interface HandshakeResult {
  /** Error seen by the client, if the exchange failed. */
  error?: string;
  /** The server completed the handshake (emitted secureConnection). */
  serverAccepted: boolean;
  /** socket.authorized on the server side. */
  serverAuthorized: boolean;
  /** socket.authorizationError on the server side. */
  serverAuthorizationError?: string;
  /** socket.authorized on the client side. */
  clientAuthorized: boolean;
  /** SHA-256 fingerprint of the certificate the server received. */
  peerFingerprint?: string;
}

async function handshake(
  authority: CertificateAuthority,
  client: { key: string; cert: string },
  rejectUnauthorized = true,
): Promise<HandshakeResult> {
  const server = await issueServerCertificate(authority, []);
  const tlsServer = tls.createServer({
    key: server.privateKeyPem,
    cert: server.chainPem,
    ca: authority.caCertificatesPem,
    requestCert: true,
    rejectUnauthorized,
  });
  let accepted: { authorized: boolean; error?: string; fingerprint?: string } | undefined;
  tlsServer.on('secureConnection', (socket) => {
    const error = socket.authorizationError;
    accepted = {
      authorized: socket.authorized,
      ...(error ? { error: String(error) } : {}),
      ...(socket.getPeerX509Certificate() ? { fingerprint: socket.getPeerX509Certificate()!.fingerprint256 } : {}),
    };
    socket.end('hello');
  });
  tlsServer.listen(0, '127.0.0.1');
  await once(tlsServer, 'listening');
  const { port } = tlsServer.address() as AddressInfo;
  try {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca: authority.rootCertificatePem,
      key: client.key,
      cert: client.cert,
      servername: 'localhost',
    });
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
    const outcome = await new Promise<{ clientAuthorized: boolean; error?: string }>((resolve) => {
      socket.on('data', () => {
        resolve({ clientAuthorized: socket.authorized });
        socket.end();
      });
      socket.on('error', (err) => resolve({ clientAuthorized: socket.authorized, error: err.message }));
      socket.on('close', () => resolve({ clientAuthorized: socket.authorized, error: 'closed before data' }));
    });
    return {
      ...(outcome.error !== undefined ? { error: outcome.error } : {}),
      clientAuthorized: outcome.clientAuthorized,
      serverAccepted: accepted !== undefined,
      serverAuthorized: accepted?.authorized ?? false,
      ...(accepted?.error ? { serverAuthorizationError: accepted.error } : {}),
      ...(accepted?.fingerprint ? { peerFingerprint: accepted.fingerprint } : {}),
    };
  } finally {
    tlsServer.close();
  }
}

test('real mutual TLS on 127.0.0.1: server chain verified by the device, device certificate (from a CSR) verified by the server', async () => {
  const csr = await createCsr({ keyAlgorithm: 'ec-p256' });
  const device = await issueFromCsr(ca, csr.csrPem);
  const result = await handshake(ca, { key: csr.privateKeyPem, cert: device.certificatePem });
  assert.equal(result.error, undefined);
  assert.equal(result.clientAuthorized, true);
  assert.equal(result.serverAccepted, true);
  assert.equal(result.serverAuthorized, true);
  assert.equal(result.peerFingerprint, new X509Certificate(device.certificatePem).fingerprint256);
});

test('real mutual TLS: a device certificate from another CA is refused', async () => {
  const other = await createCertificateAuthority();
  const csr = await createCsr({ keyAlgorithm: 'ec-p256' });
  const foreign = await issueFromCsr(other, csr.csrPem);
  const refused = await handshake(ca, { key: csr.privateKeyPem, cert: foreign.certificatePem });
  assert.notEqual(refused.error, undefined);
  assert.equal(refused.serverAccepted, false);
  // The same exchange with rejectUnauthorized off shows why: the chain does not verify.
  const diagnosed = await handshake(ca, { key: csr.privateKeyPem, cert: foreign.certificatePem }, false);
  assert.equal(diagnosed.serverAccepted, true);
  assert.equal(diagnosed.serverAuthorized, false);
  assert.match(diagnosed.serverAuthorizationError ?? '', /^UNABLE_TO_(GET_ISSUER_CERT|GET_ISSUER_CERT_LOCALLY|VERIFY_LEAF_SIGNATURE)$/);
});
