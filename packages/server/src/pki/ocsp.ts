/**
 * An OCSP responder's core (RFC 6960): parses a DER OCSPRequest, answers every CertID it holds from
 * a status lookup, and signs a BasicOCSPResponse with the issuing CA itself (no delegated responder
 * certificate, so clients verify it with the CA certificate they already have).
 *
 * Refusals are OCSP response statuses, never exceptions: a request that cannot be decoded, holds no
 * or too many CertIDs, or carries a nonce longer than 32 octets (RFC 8954) is `malformedRequest`;
 * a CertID hashed with an algorithm other than SHA-1/256/384/512 is also `malformedRequest` (the
 * responder cannot read it); a CertID naming a CA this responder does not serve is `unauthorized`
 * (RFC 5019 §2.2.3: it cannot answer authoritatively); a failing lookup or signature is `internalError`.
 */
import { createHash } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  type CertID,
  CertStatus,
  id_pkix_ocsp_basic,
  id_pkix_ocsp_nonce,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  ResponderID,
  ResponseBytes,
  ResponseData,
  RevokedInfo,
  SingleResponse,
} from '@peculiar/asn1-ocsp';
import { CRLReason, CRLReasons, Extension } from '@peculiar/asn1-x509';
import type { RevocationReason } from './crl.js';
import { responderKeyHash, signStructure, type RevocationSigner } from './revocation-signer.js';

/** Largest OCSP request body accepted (bytes). Real requests are about 100 bytes per CertID. */
export const MAX_OCSP_REQUEST_BYTES = 16 * 1024;
/** Most CertIDs answered in one request. */
export const MAX_OCSP_CERT_IDS = 16;
/** Longest nonce accepted (RFC 8954 §2.1). */
export const MAX_OCSP_NONCE_BYTES = 32;

/** What the responder knows about one certificate. */
export type CertificateRevocationStatus =
  | { readonly status: 'good' }
  | { readonly status: 'revoked'; readonly revokedAt: Date; readonly reason?: RevocationReason }
  | { readonly status: 'unknown' };

/** Looks up a serial number (lowercase hex, no leading zeros) of the CA `signer`. */
export type RevocationLookup = (signer: RevocationSigner, serialNumber: string) => Promise<CertificateRevocationStatus>;

/** OCSP response status names (RFC 6960 §4.2.1). */
export type OcspResponseStatusName = 'successful' | 'malformedRequest' | 'internalError' | 'tryLater' | 'sigRequired' | 'unauthorized';

/** The answer to one OCSP request. */
export interface OcspAnswer {
  /** The DER OCSPResponse to send (`application/ocsp-response`). */
  readonly der: Buffer;
  readonly responseStatus: OcspResponseStatusName;
  /** Why the request was refused, for logs (not sent). */
  readonly reason?: string;
  /** The certificate statuses answered, in request order (successful answers only). */
  readonly statuses: readonly CertificateRevocationStatus['status'][];
}

const HASHES: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** An OCSPResponse with only a status (every refusal). */
function statusOnly(status: OCSPResponseStatus, name: OcspResponseStatusName, reason: string): OcspAnswer {
  return {
    der: Buffer.from(AsnConvert.serialize(new OCSPResponse({ responseStatus: status }))),
    responseStatus: name,
    reason,
    statuses: [],
  };
}

/** Whole seconds: RFC 5280 times carry no fractions. */
function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

function serialHex(serial: ArrayBuffer): string {
  const hex = Buffer.from(serial)
    .toString('hex')
    .replace(/^0+(?=.)/, '');
  return hex === '' ? '0' : hex;
}

/** The CA a CertID names, or why none does. */
function issuerOf(id: CertID, signers: readonly RevocationSigner[]): RevocationSigner | 'unsupportedHash' | 'unknownIssuer' {
  const hash = HASHES[id.hashAlgorithm.algorithm];
  if (hash === undefined) return 'unsupportedHash';
  const nameHash = Buffer.from(id.issuerNameHash.buffer);
  const keyHash = Buffer.from(id.issuerKeyHash.buffer);
  for (const signer of signers) {
    if (
      createHash(hash).update(signer.subjectDer).digest().equals(nameHash) &&
      createHash(hash).update(signer.publicKeyBits).digest().equals(keyHash)
    )
      return signer;
  }
  return 'unknownIssuer';
}

function certStatus(status: CertificateRevocationStatus): CertStatus {
  if (status.status === 'good') return new CertStatus({ good: null });
  if (status.status === 'unknown') return new CertStatus({ unknown: null });
  const reason = status.reason === 'certificateHold' ? new CRLReason(CRLReasons.certificateHold) : undefined;
  return new CertStatus({
    revoked: new RevokedInfo({ revocationTime: wholeSeconds(status.revokedAt), ...(reason ? { revocationReason: reason } : {}) }),
  });
}

/**
 * Answers one DER OCSP request for the CAs in `signers` (one RevocationSigner per issuing CA).
 * Never throws: every failure is an OCSP response status.
 */
export async function answerOcspRequest(
  body: Buffer,
  signers: readonly RevocationSigner[],
  lookup: RevocationLookup,
  now: Date = new Date(),
): Promise<OcspAnswer> {
  if (body.length === 0 || body.length > MAX_OCSP_REQUEST_BYTES)
    return statusOnly(OCSPResponseStatus.malformedRequest, 'malformedRequest', `request of ${body.length} bytes`);
  let request: OCSPRequest;
  try {
    request = AsnConvert.parse(body, OCSPRequest);
  } catch (err) {
    return statusOnly(OCSPResponseStatus.malformedRequest, 'malformedRequest', `not a DER OCSPRequest: ${(err as Error).message}`);
  }
  const list = request.tbsRequest.requestList;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_OCSP_CERT_IDS)
    return statusOnly(
      OCSPResponseStatus.malformedRequest,
      'malformedRequest',
      `${list?.length ?? 0} CertIDs (1 to ${MAX_OCSP_CERT_IDS} accepted)`,
    );
  const nonce = request.tbsRequest.requestExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce);
  if (nonce !== undefined) {
    const length = nonceLength(nonce);
    if (length < 1 || length > MAX_OCSP_NONCE_BYTES)
      return statusOnly(OCSPResponseStatus.malformedRequest, 'malformedRequest', `nonce of ${length} octets (1 to 32 accepted)`);
  }
  const issuers: RevocationSigner[] = [];
  for (const item of list) {
    const issuer = issuerOf(item.reqCert, signers);
    if (issuer === 'unsupportedHash')
      return statusOnly(
        OCSPResponseStatus.malformedRequest,
        'malformedRequest',
        `CertID hash algorithm ${item.reqCert.hashAlgorithm.algorithm} is not supported (SHA-1, SHA-256, SHA-384, SHA-512 are)`,
      );
    if (issuer === 'unknownIssuer')
      return statusOnly(OCSPResponseStatus.unauthorized, 'unauthorized', 'a CertID names a CA this responder does not serve');
    issuers.push(issuer);
  }
  // RFC 6960 §4.2.2.2: one signer for the whole response, so all CertIDs must name the same CA.
  const signer = issuers[0]!;
  if (issuers.some((i) => i !== signer))
    return statusOnly(OCSPResponseStatus.unauthorized, 'unauthorized', 'the CertIDs name different CAs; ask for one CA per request');
  try {
    const thisUpdate = wholeSeconds(now);
    const statuses: CertificateRevocationStatus[] = [];
    for (const item of list) statuses.push(await lookup(signer, serialHex(item.reqCert.serialNumber)));
    const data = new ResponseData({
      responderID: new ResponderID({ byKey: new OctetString(responderKeyHash(signer)) }),
      producedAt: thisUpdate,
      responses: list.map((item, i) => new SingleResponse({ certID: item.reqCert, certStatus: certStatus(statuses[i]!), thisUpdate })),
      ...(nonce !== undefined ? { responseExtensions: [new Extension({ extnID: nonce.extnID, extnValue: nonce.extnValue })] } : {}),
    });
    const basic = await signStructure(signer, Buffer.from(AsnConvert.serialize(data)));
    const response = new OCSPResponse({
      responseStatus: OCSPResponseStatus.successful,
      responseBytes: new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(basic) }),
    });
    return { der: Buffer.from(AsnConvert.serialize(response)), responseStatus: 'successful', statuses: statuses.map((s) => s.status) };
  } catch (err) {
    return statusOnly(OCSPResponseStatus.internalError, 'internalError', `lookup or signature failed: ${(err as Error).message}`);
  }
}

/** Octets of a nonce extension's value (an OCTET STRING inside the extnValue; some clients send it bare). */
function nonceLength(extension: Extension): number {
  const value = Buffer.from(extension.extnValue.buffer);
  try {
    return Buffer.from(AsnConvert.parse(value, OctetString).buffer).length;
  } catch {
    return value.length;
  }
}
