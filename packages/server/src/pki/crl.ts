/**
 * Certificate revocation lists (RFC 5280 §5): a v2 CRL of an issuing CA, DER, with the CRL number
 * and AuthorityKeyIdentifier extensions, signed through a {@link RevocationSigner}.
 */
import { encodeTime } from './device-certificate.js';
import { encodeElement, encodeOid, Tag } from './der.js';
import { PkiError } from './errors.js';
import { signStructure, type RevocationSigner } from './revocation-signer.js';

/** RFC 5280 §5.3.1 reason codes fleetprov uses. */
export type RevocationReason = 'unspecified' | 'certificateHold';

const REASON_CODES: Record<RevocationReason, number> = { unspecified: 0, certificateHold: 6 };

/** One revoked certificate of a CRL. */
export interface RevokedEntry {
  /** Serial number as hex. */
  readonly serialNumber: string;
  /** When it was revoked. */
  readonly revokedAt: Date;
  /** Reason; `unspecified` is written without a reason code (RFC 5280 §5.3.1 says so). */
  readonly reason?: RevocationReason;
}

/** Input of {@link buildCrl}. */
export interface CrlInput {
  readonly entries: readonly RevokedEntry[];
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /** The CRL number: must grow with every CRL the CA publishes (RFC 5280 §5.2.3). */
  readonly crlNumber: bigint;
}

const OID_AUTHORITY_KEY_ID = '2.5.29.35';
const OID_CRL_NUMBER = '2.5.29.20';
const OID_CRL_REASON = '2.5.29.21';
const TAG_ENUMERATED = 0x0a;

/** DER INTEGER of a non-negative integer. */
export function encodeUnsignedInteger(value: bigint | string): Buffer {
  let hex = typeof value === 'bigint' ? value.toString(16) : value.toLowerCase().replace(/^0+(?=.)/, '');
  if (!/^[0-9a-f]+$/.test(hex)) throw new PkiError('InvalidOption', `not a hex integer: ${String(value).slice(0, 50)}`);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return encodeElement(Tag.INTEGER, bytes);
}

function extension(oid: string, value: Buffer): Buffer {
  return encodeElement(Tag.SEQUENCE, encodeOid(oid), encodeElement(Tag.OCTET_STRING, value));
}

function revokedEntry(entry: RevokedEntry): Buffer {
  const parts = [encodeUnsignedInteger(entry.serialNumber), encodeTime(entry.revokedAt)];
  const code = REASON_CODES[entry.reason ?? 'unspecified'];
  if (code !== 0) {
    parts.push(encodeElement(Tag.SEQUENCE, extension(OID_CRL_REASON, encodeElement(TAG_ENUMERATED, Buffer.from([code])))));
  }
  return encodeElement(Tag.SEQUENCE, ...parts);
}

/**
 * Builds and signs the CRL of `signer`'s CA; returns its DER.
 * @throws {PkiError} `InvalidOption` for a nextUpdate not after thisUpdate or a bad serial
 */
export async function buildCrl(signer: RevocationSigner, input: CrlInput): Promise<Buffer> {
  if (input.nextUpdate.getTime() <= input.thisUpdate.getTime()) throw new PkiError('InvalidOption', 'nextUpdate must be after thisUpdate');
  if (input.crlNumber < 0n || input.crlNumber >= 1n << 159n) throw new PkiError('InvalidOption', 'the CRL number must fit 20 octets');
  const extensions = encodeElement(
    0xa0,
    encodeElement(
      Tag.SEQUENCE,
      extension(OID_AUTHORITY_KEY_ID, encodeElement(Tag.SEQUENCE, encodeElement(0x80, Buffer.from(signer.keyIdentifier, 'hex')))),
      extension(OID_CRL_NUMBER, encodeUnsignedInteger(input.crlNumber)),
    ),
  );
  const tbsParts = [
    encodeElement(Tag.INTEGER, Buffer.from([1])), // v2
    signer.signatureAlgorithm,
    signer.subjectDer,
    encodeTime(input.thisUpdate),
    encodeTime(input.nextUpdate),
  ];
  if (input.entries.length > 0) tbsParts.push(encodeElement(Tag.SEQUENCE, ...input.entries.map(revokedEntry)));
  tbsParts.push(extensions);
  return signStructure(signer, encodeElement(Tag.SEQUENCE, ...tbsParts));
}
