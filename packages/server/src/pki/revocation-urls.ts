/**
 * Where relying parties find out whether a fleetprov device certificate was revoked: the CRL
 * distribution point (`<publicUrl>/crl/<caId>.crl`) and the OCSP responder (`<publicUrl>/ocsp`),
 * written into every device certificate when the server runs with `--public-url`.
 */
import type { CertificateAuthority } from './ca.js';
import { encodeElement, encodeOid, Tag } from './der.js';
import { PkiError } from './errors.js';

const OID_CRL_DISTRIBUTION_POINTS = '2.5.29.31';
const OID_AUTHORITY_INFO_ACCESS = '1.3.6.1.5.5.7.1.1';
const OID_AD_OCSP = '1.3.6.1.5.5.7.48.1';
/** GeneralName uniformResourceIdentifier [6] IA5String. */
const TAG_URI = 0x86;

/** The two revocation URLs of a CA. */
export interface RevocationUrls {
  /** `<publicUrl>/crl/<caId>.crl` */
  readonly crl: string;
  /** `<publicUrl>/ocsp` */
  readonly ocsp: string;
}

/**
 * Checks and normalises a public URL: `http(s)://host[:port][/path]`, no query, fragment or
 * credentials; the trailing slash is dropped.
 * @throws {PkiError} `InvalidOption` with what is wrong
 */
export function normalizePublicUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new PkiError('InvalidOption', `public URL "${value.slice(0, 200)}" is not a URL; use e.g. https://fleet.example.com:8443`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new PkiError('InvalidOption', `public URL must start with https:// or http://, got "${url.protocol}"`);
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '')
    throw new PkiError('InvalidOption', 'public URL must not carry credentials, a query or a fragment');
  const text = url.toString().replace(/\/+$/, '');
  if (text.length > 1000 || !/^[\x21-\x7e]+$/.test(text))
    throw new PkiError('InvalidOption', 'public URL must be at most 1000 ASCII characters');
  return text;
}

/** The revocation URLs of the CA `caId` under `publicUrl` (already normalised). */
export function revocationUrls(publicUrl: string, caId: string): RevocationUrls {
  return { crl: `${publicUrl}/crl/${caId}.crl`, ocsp: `${publicUrl}/ocsp` };
}

/** DER of the CRLDistributionPoints and AuthorityInfoAccess (OCSP) extensions, concatenated. */
export function revocationUrlExtensions(urls: RevocationUrls): Buffer {
  const uri = (text: string) => encodeElement(TAG_URI, Buffer.from(text, 'latin1'));
  const crlDp = encodeElement(
    Tag.SEQUENCE,
    encodeOid(OID_CRL_DISTRIBUTION_POINTS),
    encodeElement(
      Tag.OCTET_STRING,
      encodeElement(Tag.SEQUENCE, encodeElement(Tag.SEQUENCE, encodeElement(0xa0, encodeElement(0xa0, uri(urls.crl))))),
    ),
  );
  const aia = encodeElement(
    Tag.SEQUENCE,
    encodeOid(OID_AUTHORITY_INFO_ACCESS),
    encodeElement(Tag.OCTET_STRING, encodeElement(Tag.SEQUENCE, encodeElement(Tag.SEQUENCE, encodeOid(OID_AD_OCSP), uri(urls.ocsp)))),
  );
  return Buffer.concat([crlDp, aia]);
}

/**
 * The CA with its issuer writing the revocation URLs under `publicUrl` into every device
 * certificate it signs (CA and server certificates are unchanged).
 */
export function withRevocationUrls(ca: CertificateAuthority, publicUrl: string): CertificateAuthority {
  const urls = revocationUrls(publicUrl, ca.issuingCertificateId);
  const der = { ...ca.issuer.der, extraExtensions: revocationUrlExtensions(urls) };
  return { ...ca, issuer: { ...ca.issuer, der } };
}
