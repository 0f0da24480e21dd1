/**
 * Types of the IoT policy engine. Pure: documents and request facts in, decisions out.
 */

/** Values of a certificate DN, by attribute name as IoT policy variables spell them
 * (`CommonName`, `Organization`, `OrganizationalUnit`, `Country`, `State`, `SerialNumber`,
 * `DistinguishedNameQualifier`, `Title`, `Surname`, `GivenName`, `Initials`, `Pseudonym`,
 * `GenerationQualifier`), each with all values in order. */
export type DnValues = Readonly<Record<string, readonly string[]>>;

/** Subject alternative names by kind as policy variables spell them. */
export interface AltNames {
  RFC822Name?: readonly string[];
  DNSName?: readonly string[];
  DirectoryName?: readonly string[];
  UniformResourceIdentifier?: readonly string[];
  IPAddress?: readonly string[];
}

/** Facts about the connection a request is evaluated for; they feed the policy variables. */
export interface PolicyContext {
  /** MQTT client id (`iot:ClientId`). */
  clientId?: string;
  /** The thing whose name equals the client id and is attached to the principal, if any. */
  thing?: {
    thingName: string;
    thingTypeName?: string | null;
    attributes: Readonly<Record<string, string>>;
    /** `iot:Connection.Thing.IsAttached`. */
    isAttached: boolean;
  } | null;
  certificate?: {
    subject: DnValues;
    issuer: DnValues;
    subjectAltNames?: AltNames;
    issuerAltNames?: AltNames;
    /** X.509 serial number as AWS prints it (decimal string). */
    serialNumber?: string;
  } | null;
  /** `aws:SourceIp`. */
  sourceIp?: string;
}

/** A policy attached to a principal. `version` keys the compile cache. */
export interface NamedPolicy {
  policyName: string;
  /** Policy version id (default version); changes invalidate the cache. */
  version: string;
  /** The policy document JSON text. */
  document: string;
}

/** Identifies the statement that decided a request. */
export interface DecidingStatement {
  policyName: string;
  /** 0-based index in the Statement list. */
  statementIndex: number;
  sid?: string;
  effect: 'Allow' | 'Deny';
}

/** The outcome of one authorization. */
export interface Decision {
  allowed: boolean;
  /** The explicit Deny that won, or the first Allow that matched; absent on default deny. */
  decidingStatement?: DecidingStatement;
  /** Human-readable explanation, e.g. `denied: no statement allowed iot:Publish on topic/a/b`. */
  reason: string;
}
