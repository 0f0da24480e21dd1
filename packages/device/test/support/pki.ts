/**
 * Test PKI: a CA and leaf certificates made with @peculiar/x509 (WebCrypto),
 * for TLS test brokers and claim certificates.
 */

import { webcrypto } from 'node:crypto';
import * as x509 from '../../src/x509.js';

const crypto = webcrypto;
const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A certificate with its private key, as PEM. */
export interface PemPair {
  certPem: string;
  keyPem: string;
}

/** A CA able to issue leaf certificates. */
export interface TestCa extends PemPair {
  issue(options: { commonName: string; dnsNames?: string[]; ipAddresses?: string[]; server?: boolean }): Promise<PemPair>;
}

async function exportKey(key: webcrypto.CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

function serial(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');
}

/** Creates a self-signed EC P-256 CA valid from one hour ago for one day. */
export async function createTestCa(commonName = 'fleetprov test CA'): Promise<TestCa> {
  const keys = (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: `CN=${commonName}`,
      notBefore: new Date(now - 3_600_000),
      notAfter: new Date(now + 86_400_000),
      keys,
      signingAlgorithm: SIGN,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const certPem = caCert.toString('pem');
  const keyPem = await exportKey(keys.privateKey);
  return {
    certPem,
    keyPem,
    async issue(options) {
      const leafKeys = (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
      const extensions: x509.Extension[] = [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([options.server === true ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
      ];
      const names: x509.JsonGeneralName[] = [
        ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
        ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
      ];
      if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
      const leaf = await x509.X509CertificateGenerator.create(
        {
          serialNumber: serial(),
          subject: `CN=${options.commonName}`,
          issuer: caCert.subject,
          notBefore: new Date(now - 3_600_000),
          notAfter: new Date(now + 86_400_000),
          publicKey: leafKeys.publicKey,
          signingKey: keys.privateKey,
          signingAlgorithm: SIGN,
          extensions,
        },
        crypto,
      );
      return { certPem: leaf.toString('pem'), keyPem: await exportKey(leafKeys.privateKey) };
    },
  };
}

/** Signs a CSR (PEM) with the CA, as a provisioning server would. */
export async function signCsr(ca: PemPair, csrPem: string, commonName = 'AWS IoT Certificate'): Promise<string> {
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await crypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(ca.keyPem), EC, false, ['sign']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: `CN=${commonName}`,
      issuer: caCert.subject,
      notBefore: new Date(now - 120_000),
      notAfter: new Date(now + 86_400_000),
      publicKey: csr.publicKey,
      signingKey: caKey,
      signingAlgorithm: SIGN,
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
    },
    crypto,
  );
  return cert.toString('pem');
}
