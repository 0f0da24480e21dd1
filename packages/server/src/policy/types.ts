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

/** Policy language versions accepted in `Version`. */
export type PolicyVersion = '2012-10-17' | '2008-10-17';

/** Options of {@link ParsedPolicy} parsing (`parsePolicy`). */
export interface ParsePolicyOptions {
  /**
   * Maximum document size in characters, whitespace excluded (AWS counts it that way).
   * AWS's quota is 2048; fleetprov defaults to 20480 so that generous self-hosted policies
   * work, and never accepts more than 1 MiB of input whatever this says.
   */
  maxChars?: number;
}

/** A condition operator split into its parts, e.g. `ForAnyValue:StringLikeIfExists`. */
export interface ConditionOperatorParts {
  /** The base operator, e.g. `StringLike`. */
  base: ConditionBaseOperator;
  /** `ForAnyValue:` / `ForAllValues:` set qualifier, if any. */
  qualifier: 'ForAnyValue' | 'ForAllValues' | null;
  /** Whether the operator ends in `IfExists`. */
  ifExists: boolean;
}

/** Base condition operators the engine understands. */
export type ConditionBaseOperator =
  | 'StringEquals'
  | 'StringNotEquals'
  | 'StringEqualsIgnoreCase'
  | 'StringNotEqualsIgnoreCase'
  | 'StringLike'
  | 'StringNotLike'
  | 'Bool'
  | 'ArnEquals'
  | 'ArnLike'
  | 'ArnNotEquals'
  | 'ArnNotLike'
  | 'NumericEquals'
  | 'NumericNotEquals'
  | 'NumericLessThan'
  | 'NumericLessThanEquals'
  | 'NumericGreaterThan'
  | 'NumericGreaterThanEquals'
  | 'IpAddress'
  | 'NotIpAddress'
  | 'Null';

/** One `operator → key → values` triple of a statement's `Condition`. */
export interface ParsedCondition extends ConditionOperatorParts {
  /** The operator as written, e.g. `ForAllValues:StringEquals`. */
  operator: string;
  /** The condition key as written, e.g. `iot:Certificate.Subject.Organization.List`. */
  key: string;
  /** Whether the key names a context value the engine knows (unknown keys are always absent). */
  knownKey: boolean;
  /** The policy values, scalars converted to strings as IAM does. */
  values: readonly string[];
}

/** One validated statement. */
export interface ParsedStatement {
  /** 0-based position in the document's Statement list. */
  index: number;
  sid?: string;
  effect: 'Allow' | 'Deny';
  /** `Action` patterns, or `NotAction` ones when `notAction` is true. */
  actions: readonly string[];
  notAction: boolean;
  /** `Resource` entries, or `NotResource` ones when `notResource` is true. */
  resources: readonly string[];
  notResource: boolean;
  conditions: readonly ParsedCondition[];
}

/** A validated policy document. Produced by `parsePolicy`; consumed by the evaluators. */
export interface ParsedPolicy {
  version: PolicyVersion;
  id?: string;
  statements: readonly ParsedStatement[];
  /** Size in characters, whitespace excluded (what AWS's 2048 quota counts). */
  size: number;
  /** Things that are legal but probably mistakes (unknown variables, unknown iot actions...). */
  warnings: readonly string[];
}

/** A parsed policy with the name (and optionally the version) it is attached under. */
export interface NamedParsedPolicy {
  policyName: string;
  version?: string;
  policy: ParsedPolicy;
}
