/**
 * IoT policy variables and condition keys: naming (`iot:ClientId`,
 * `iot:Certificate.Subject.Organization.1`...) and resolution against a {@link PolicyContext}.
 *
 * Names are matched case-insensitively, except a thing attribute's name inside `Attributes[...]`.
 *
 * Two ways to read a variable:
 * - {@link substituteVariable}: the text put into a Resource or condition value. Certificate
 *   values are refused (no substitution, so no match) when they contain `* $ + ? #` or are
 *   longer than 1024 characters, and so are array items past the 5th, as AWS documents.
 *   `iot:ClientId`, `aws:SourceIp` and thing variables are substituted as they are: a client id
 *   `+` makes `my/${iot:ClientId}/topic` the literal `my/+/topic` (AWS's documented gotcha).
 * - {@link resolveConditionKey}: the value(s) a condition key compares. No character refusal
 *   applies (the value is compared, never reinterpreted as a pattern); lists keep their first 5 items.
 */
import type { AltNames, DnValues, PolicyContext } from './types.js';

/** Kinds of {@link VariableRef}. */
export const VarKind = {
  ClientId: 0,
  SourceIp: 1,
  ThingName: 2,
  ThingTypeName: 3,
  ThingAttribute: 4,
  ThingIsAttached: 5,
  CertDn: 6,
  CertAltName: 7,
  CertSerialNumber: 8,
  CertAvailableKeys: 9,
} as const;

/** `index` of a `.List` reference: every value. */
export const LIST_INDEX = -1;

/** AWS ignores certificate array items past this many. */
export const MAX_CERT_ARRAY_ITEMS = 5;
/** AWS refuses to substitute certificate strings longer than this. */
export const MAX_CERT_STRING = 1024;

/** DN attribute names as policy variables spell them. */
export const DN_ATTRIBUTES: readonly string[] = [
  'CommonName',
  'Organization',
  'OrganizationalUnit',
  'Country',
  'State',
  'SerialNumber',
  'DistinguishedNameQualifier',
  'Title',
  'Surname',
  'GivenName',
  'Initials',
  'Pseudonym',
  'GenerationQualifier',
];

/** Alternative-name kinds as policy variables spell them. */
export const ALT_NAME_KINDS: readonly (keyof AltNames)[] = [
  'RFC822Name',
  'DNSName',
  'DirectoryName',
  'UniformResourceIdentifier',
  'IPAddress',
];

const DN_BY_LOWER = new Map(DN_ATTRIBUTES.map((a) => [a.toLowerCase(), a]));
const ALT_BY_LOWER = new Map(ALT_NAME_KINDS.map((a) => [a.toLowerCase(), a]));

/** A recognised policy variable / condition key. Immutable; shared by compiled policies. */
export class VariableRef {
  /**
   * @param kind one of {@link VarKind}
   * @param name canonical spelling, e.g. `iot:Certificate.Subject.Country.1`
   * @param issuer certificate variables: `Issuer.` instead of `Subject.`
   * @param attr DN attribute, alt-name kind or thing attribute name (else `''`)
   * @param index value index for certificate arrays (0 = first), or {@link LIST_INDEX}
   */
  constructor(
    readonly kind: number,
    readonly name: string,
    readonly issuer: boolean,
    readonly attr: string,
    readonly index: number,
  ) {}
}

const SIMPLE: ReadonlyMap<string, VariableRef> = new Map([
  ['iot:clientid', new VariableRef(VarKind.ClientId, 'iot:ClientId', false, '', 0)],
  ['aws:sourceip', new VariableRef(VarKind.SourceIp, 'aws:SourceIp', false, '', 0)],
  ['iot:connection.thing.thingname', new VariableRef(VarKind.ThingName, 'iot:Connection.Thing.ThingName', false, '', 0)],
  ['iot:connection.thing.thingtypename', new VariableRef(VarKind.ThingTypeName, 'iot:Connection.Thing.ThingTypeName', false, '', 0)],
  ['iot:connection.thing.isattached', new VariableRef(VarKind.ThingIsAttached, 'iot:Connection.Thing.IsAttached', false, '', 0)],
  ['iot:certificate.serialnumber', new VariableRef(VarKind.CertSerialNumber, 'iot:Certificate.SerialNumber', false, '', 0)],
  ['iot:certificate.availablekeys', new VariableRef(VarKind.CertAvailableKeys, 'iot:Certificate.AvailableKeys', false, '', LIST_INDEX)],
]);

const ATTR_PREFIX = 'iot:connection.thing.attributes[';
const CERT_PREFIX = 'iot:certificate.';

/**
 * Recognises a variable / condition key name. Returns `null` for names the engine does not
 * know (such a variable never resolves).
 */
export function parseVariableName(raw: string): VariableRef | null {
  if (raw.length > 300) return null;
  const lower = raw.toLowerCase();
  const simple = SIMPLE.get(lower);
  if (simple !== undefined) return simple;
  if (lower.startsWith(ATTR_PREFIX) && lower.endsWith(']')) {
    const attr = raw.slice(ATTR_PREFIX.length, -1);
    if (attr === '' || attr.includes(']') || attr.includes('[')) return null;
    return new VariableRef(VarKind.ThingAttribute, `iot:Connection.Thing.Attributes[${attr}]`, false, attr, 0);
  }
  if (!lower.startsWith(CERT_PREFIX)) return null;
  let rest = lower.slice(CERT_PREFIX.length);
  let issuer: boolean;
  if (rest.startsWith('subject.')) issuer = false;
  else if (rest.startsWith('issuer.')) issuer = true;
  else return null;
  rest = rest.slice(issuer ? 'issuer.'.length : 'subject.'.length);
  const side = issuer ? 'Issuer' : 'Subject';
  let alt = false;
  if (rest.startsWith('alternativename.')) {
    alt = true;
    rest = rest.slice('alternativename.'.length);
  }
  const parts = rest.split('.');
  if (parts.length > 2) return null;
  const attrLower = parts[0] ?? '';
  const canonical = alt ? ALT_BY_LOWER.get(attrLower) : DN_BY_LOWER.get(attrLower);
  if (canonical === undefined) return null;
  let index = 0;
  let suffix = '';
  const sfx = parts[1];
  if (sfx !== undefined) {
    if (sfx === 'list') {
      index = LIST_INDEX;
      suffix = '.List';
    } else if (/^[0-9]{1,3}$/.test(sfx)) {
      index = Number(sfx);
      suffix = `.${index}`;
    } else {
      return null;
    }
  }
  const name = `iot:Certificate.${side}.${alt ? 'AlternativeName.' : ''}${canonical}${suffix}`;
  return new VariableRef(alt ? VarKind.CertAltName : VarKind.CertDn, name, issuer, canonical, index);
}

function certValues(ref: VariableRef, ctx: PolicyContext): readonly string[] | undefined {
  const cert = ctx.certificate;
  if (cert == null) return undefined;
  let bag: DnValues | AltNames | undefined;
  if (ref.kind === VarKind.CertDn) bag = ref.issuer ? cert.issuer : cert.subject;
  else bag = ref.issuer ? cert.issuerAltNames : cert.subjectAltNames;
  if (bag == null || !Object.hasOwn(bag, ref.attr)) return undefined;
  const values = (bag as Record<string, unknown>)[ref.attr];
  return Array.isArray(values) ? (values as readonly string[]) : undefined;
}

function hasRefusedChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // * $ + ? #
    if (c === 42 || c === 36 || c === 43 || c === 63 || c === 35) return true;
  }
  return false;
}

/**
 * The text a variable contributes to a Resource entry or condition value, or `undefined` when
 * it does not resolve (no such value, missing index, `.List`, or a refused certificate value).
 */
export function substituteVariable(ref: VariableRef, ctx: PolicyContext): string | undefined {
  switch (ref.kind) {
    case VarKind.ClientId:
      return typeof ctx.clientId === 'string' ? ctx.clientId : undefined;
    case VarKind.SourceIp:
      return typeof ctx.sourceIp === 'string' ? ctx.sourceIp : undefined;
    case VarKind.CertSerialNumber: {
      const s = ctx.certificate?.serialNumber;
      return typeof s === 'string' && s.length <= MAX_CERT_STRING && !hasRefusedChar(s) ? s : undefined;
    }
    case VarKind.CertDn:
    case VarKind.CertAltName: {
      if (ref.index < 0 || ref.index >= MAX_CERT_ARRAY_ITEMS) return undefined;
      const v = certValues(ref, ctx)?.[ref.index];
      return typeof v === 'string' && v.length <= MAX_CERT_STRING && !hasRefusedChar(v) ? v : undefined;
    }
    case VarKind.CertAvailableKeys:
      return undefined;
    default:
      return thingValue(ref, ctx);
  }
}

function thingValue(ref: VariableRef, ctx: PolicyContext): string | undefined {
  const thing = ctx.thing;
  if (thing == null) return undefined;
  switch (ref.kind) {
    case VarKind.ThingName:
      return typeof thing.thingName === 'string' ? thing.thingName : undefined;
    case VarKind.ThingTypeName:
      return typeof thing.thingTypeName === 'string' ? thing.thingTypeName : undefined;
    case VarKind.ThingIsAttached:
      return thing.isAttached === true ? 'true' : 'false';
    case VarKind.ThingAttribute: {
      const attrs = thing.attributes;
      if (attrs == null || !Object.hasOwn(attrs, ref.attr)) return undefined;
      const v = attrs[ref.attr];
      return typeof v === 'string' ? v : undefined;
    }
    default:
      return undefined;
  }
}

/** Names of the certificate variables that have a value (`iot:Certificate.AvailableKeys`). */
export function availableCertificateKeys(ctx: PolicyContext): readonly string[] | undefined {
  const cert = ctx.certificate;
  if (cert == null) return undefined;
  const out: string[] = [];
  for (const [side, dn] of [
    ['Subject', cert.subject],
    ['Issuer', cert.issuer],
  ] as const) {
    if (dn == null) continue;
    for (const attr of DN_ATTRIBUTES) {
      const v = Object.hasOwn(dn, attr) ? dn[attr] : undefined;
      if (Array.isArray(v) && v.length > 0) out.push(`iot:Certificate.${side}.${attr}`);
    }
  }
  for (const [side, alt] of [
    ['Subject', cert.subjectAltNames],
    ['Issuer', cert.issuerAltNames],
  ] as const) {
    if (alt == null) continue;
    for (const kind of ALT_NAME_KINDS) {
      const v = Object.hasOwn(alt, kind) ? alt[kind] : undefined;
      if (Array.isArray(v) && v.length > 0) out.push(`iot:Certificate.${side}.AlternativeName.${kind}`);
    }
  }
  if (typeof cert.serialNumber === 'string') out.push('iot:Certificate.SerialNumber');
  return out;
}

/**
 * The value a condition key compares: a string, a list (`.List`, `AvailableKeys`), or
 * `undefined` when the key is absent from the request context (an empty list is absent too).
 */
export function resolveConditionKey(ref: VariableRef, ctx: PolicyContext): string | readonly string[] | undefined {
  switch (ref.kind) {
    case VarKind.CertDn:
    case VarKind.CertAltName: {
      const values = certValues(ref, ctx);
      if (values === undefined || values.length === 0) return undefined;
      if (ref.index === LIST_INDEX) {
        return values.length > MAX_CERT_ARRAY_ITEMS ? values.slice(0, MAX_CERT_ARRAY_ITEMS) : values;
      }
      if (ref.index >= MAX_CERT_ARRAY_ITEMS) return undefined;
      const v = values[ref.index];
      return typeof v === 'string' ? v : undefined;
    }
    case VarKind.CertSerialNumber: {
      const s = ctx.certificate?.serialNumber;
      return typeof s === 'string' ? s : undefined;
    }
    case VarKind.CertAvailableKeys: {
      const keys = availableCertificateKeys(ctx);
      return keys === undefined || keys.length === 0 ? undefined : keys;
    }
    default:
      return substituteVariable(ref, ctx);
  }
}
