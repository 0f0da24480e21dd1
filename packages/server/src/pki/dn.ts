/**
 * Distinguished names: the attribute vocabulary (short keys for templates, AWS IoT policy variable
 * names), building names from plain data and reading them back into plain data.
 */
import { PkiError } from './errors.js';
import { x509 } from './x509.js';

/** One known DN attribute type. */
export interface DnAttributeType {
  /** Dotted OID. */
  readonly oid: string;
  /** Short key used in {@link DnRecord}s and by the template engine (`CN`, `serialNumber`, ...). */
  readonly key: string;
  /** The AWS IoT policy variable name (`iot:Certificate.Subject.<name>`), when AWS defines one. */
  readonly policyName?: string;
}

/**
 * Known attribute types. `Locality` (L) is deliberately without a policy name: AWS IoT documents no
 * `iot:Certificate.Subject.Locality` variable.
 */
export const DN_ATTRIBUTE_TYPES: readonly DnAttributeType[] = Object.freeze([
  { oid: '2.5.4.3', key: 'CN', policyName: 'CommonName' },
  { oid: '2.5.4.4', key: 'SN', policyName: 'Surname' },
  { oid: '2.5.4.5', key: 'serialNumber', policyName: 'SerialNumber' },
  { oid: '2.5.4.6', key: 'C', policyName: 'Country' },
  { oid: '2.5.4.7', key: 'L' },
  { oid: '2.5.4.8', key: 'ST', policyName: 'State' },
  { oid: '2.5.4.10', key: 'O', policyName: 'Organization' },
  { oid: '2.5.4.11', key: 'OU', policyName: 'OrganizationalUnit' },
  { oid: '2.5.4.12', key: 'title', policyName: 'Title' },
  { oid: '2.5.4.42', key: 'GN', policyName: 'GivenName' },
  { oid: '2.5.4.43', key: 'initials', policyName: 'Initials' },
  { oid: '2.5.4.44', key: 'generationQualifier', policyName: 'GenerationQualifier' },
  { oid: '2.5.4.46', key: 'dnQualifier', policyName: 'DistinguishedNameQualifier' },
  { oid: '2.5.4.65', key: 'pseudonym', policyName: 'Pseudonym' },
  { oid: '1.2.840.113549.1.9.1', key: 'emailAddress' },
  { oid: '0.9.2342.19200300.100.1.25', key: 'DC' },
  { oid: '0.9.2342.19200300.100.1.1', key: 'UID' },
]);

const BY_KEY = new Map<string, DnAttributeType>(DN_ATTRIBUTE_TYPES.map((t) => [t.key, t]));
const BY_POLICY_NAME = new Map<string, DnAttributeType>(
  DN_ATTRIBUTE_TYPES.filter((t) => t.policyName !== undefined).map((t) => [t.policyName!, t]),
);
/** Extra names handed to `x509.Name` so that it reads and prints our short keys. */
const X509_NAMES: Record<string, string> = Object.fromEntries(DN_ATTRIBUTE_TYPES.map((t) => [t.key, t.oid]));
const IA5_KEYS = new Set(['emailAddress', 'DC']);
const OID_PATTERN = /^[0-2](\.(0|[1-9]\d{0,9})){1,20}$/;
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** Limits applied when building names. */
export const DN_LIMITS = Object.freeze({ maxAttributes: 64, maxValueLength: 1024 });

/**
 * DN attributes as plain data: short key (or dotted OID for unknown types) to all values in the
 * order they appear. Created with a null prototype.
 */
export type DnRecord = Record<string, string[]>;

/**
 * A name to build: a record of short keys (`CN`, `O`, `OU`, ..., or a dotted OID; AWS policy
 * names such as `CommonName` are accepted too) to one value or an array of values (each value
 * becomes its own RDN, in order), or an ordered list of `[key, value]` pairs.
 */
export type DnInput = Readonly<Record<string, string | readonly string[]>> | ReadonlyArray<readonly [string, string]>;

function resolveType(key: string): { oid: string; key: string } {
  const known = BY_KEY.get(key) ?? BY_POLICY_NAME.get(key);
  if (known) return known;
  if (OID_PATTERN.test(key)) return { oid: key, key };
  throw new PkiError(
    'InvalidName',
    `unknown DN attribute "${key.slice(0, 40)}"; use one of ${DN_ATTRIBUTE_TYPES.map((t) => t.key).join(', ')} or a dotted OID`,
  );
}

function attributeValue(key: string, value: string): x509.JsonAttributeObject {
  if (IA5_KEYS.has(key)) {
    // eslint-disable-next-line no-control-regex
    if (!/^[\x00-\x7f]*$/.test(value)) throw new PkiError('InvalidName', `${key} must be ASCII`);
    return { ia5String: value };
  }
  return PRINTABLE.test(value) ? { printableString: value } : { utf8String: value };
}

/** Normalises a {@link DnInput} to ordered `[key, value]` pairs and validates them. */
export function dnPairs(input: DnInput): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  if (Array.isArray(input)) {
    for (const entry of input as ReadonlyArray<unknown>) {
      if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || typeof entry[1] !== 'string') {
        throw new PkiError('InvalidName', 'each DN entry must be a [key, value] pair of strings');
      }
      pairs.push([entry[0], entry[1]]);
    }
  } else if (input !== null && typeof input === 'object') {
    for (const key of Object.keys(input)) {
      const raw = (input as Record<string, unknown>)[key];
      const values = Array.isArray(raw) ? (raw as unknown[]) : [raw];
      for (const value of values) {
        if (typeof value !== 'string')
          throw new PkiError('InvalidName', `DN attribute ${key.slice(0, 40)} must be a string or an array of strings`);
        pairs.push([key, value]);
      }
    }
  } else {
    throw new PkiError('InvalidName', 'a DN must be an object of attributes or a list of [key, value] pairs');
  }
  if (pairs.length === 0) throw new PkiError('InvalidName', 'a DN needs at least one attribute (e.g. CN)');
  if (pairs.length > DN_LIMITS.maxAttributes)
    throw new PkiError('InvalidName', `a DN may have at most ${DN_LIMITS.maxAttributes} attributes`);
  return pairs.map(([key, value]) => {
    const type = resolveType(key);
    if (value.length === 0 || value.length > DN_LIMITS.maxValueLength) {
      throw new PkiError('InvalidName', `DN attribute ${type.key} must be 1-${DN_LIMITS.maxValueLength} characters`);
    }
    if (type.key === 'C' && !/^[A-Za-z]{2}$/.test(value)) {
      throw new PkiError('InvalidName', `country (C) must be a two-letter code, got "${value.slice(0, 20)}"`);
    }
    return [type.key, value];
  });
}

/** Names built by this module with its short keys: re-reading them would only repeat the parse. */
const SHORT_KEYED = new WeakSet<x509.Name>();

function shortKeyed(name: x509.Name): x509.Name {
  SHORT_KEYED.add(name);
  return name;
}

/**
 * Builds an `x509.Name` from plain data. Values are stored verbatim (no escaping is interpreted):
 * PrintableString when possible, otherwise UTF8String (IA5String for emailAddress/DC).
 * @throws {PkiError} `InvalidName`
 */
export function buildName(input: DnInput): x509.Name {
  const json = dnPairs(input).map(([key, value]) => ({ [resolveType(key).oid]: [attributeValue(key, value)] }));
  return shortKeyed(new x509.Name(json as x509.JsonNameParams, X509_NAMES));
}

/** Wraps a DER-encoded Name so that it prints and reads with this module's short keys. */
export function nameFromDer(der: ArrayBuffer | Uint8Array): x509.Name {
  return shortKeyed(new x509.Name(der instanceof ArrayBuffer ? der : Uint8Array.from(der).buffer, X509_NAMES));
}

/** Re-reads an `x509.Name` (e.g. `cert.subjectName`) with this module's short keys. */
export function withShortKeys(name: x509.Name): x509.Name {
  if (SHORT_KEYED.has(name)) return name;
  return shortKeyed(new x509.Name(name.toArrayBuffer(), X509_NAMES));
}

/** Reads a name into a {@link DnRecord}: every value of every attribute, in order. */
export function nameToRecord(name: x509.Name): DnRecord {
  const record: DnRecord = Object.create(null) as DnRecord;
  for (const rdn of withShortKeys(name).toJSON()) {
    for (const key of Object.keys(rdn)) {
      const values = rdn[key] ?? [];
      const list = Object.hasOwn(record, key) ? record[key]! : (record[key] = []);
      list.push(...values);
    }
  }
  return record;
}

/** The RFC 4514-style string of a name (in encoding order, `, ` between RDNs, values escaped). */
export function formatName(name: x509.Name): string {
  return withShortKeys(name).toString();
}

/**
 * Converts a {@link DnRecord} keyed by short keys to AWS IoT policy variable names
 * (`CN` → `CommonName`, `OU` → `OrganizationalUnit`, `dnQualifier` → `DistinguishedNameQualifier`, ...).
 * Attributes AWS defines no variable for (L, emailAddress, DC, UID, unknown OIDs) are left out.
 */
export function toPolicyDn(record: Readonly<Record<string, readonly string[]>>): DnRecord {
  const out: DnRecord = Object.create(null) as DnRecord;
  for (const key of Object.keys(record)) {
    const type = BY_KEY.get(key);
    const values = record[key];
    if (type?.policyName !== undefined && values !== undefined) out[type.policyName] = [...values];
  }
  return out;
}
