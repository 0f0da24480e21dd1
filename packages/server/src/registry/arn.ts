/**
 * ARNs of registry resources: `arn:aws:iot:<region>:<accountId>:<type>/<name>`.
 */

/** Region used when none is configured. */
export const DEFAULT_REGION = 'us-east-1';
/**
 * Account id used when none is configured: twelve zeros, a value no real AWS account has, so ARNs of
 * a default fleetprov install are recognisably local.
 */
export const DEFAULT_ACCOUNT_ID = '000000000000';

/** Resource types appearing in IoT ARNs, as AWS spells them. */
export type ArnResourceType =
  'cert' | 'cacert' | 'thing' | 'thingtype' | 'thinggroup' | 'billinggroup' | 'policy' | 'provisioningtemplate' | 'rolealias';

/** The parts of an IoT ARN. */
export interface ParsedArn {
  region: string;
  accountId: string;
  resourceType: string;
  /** Everything after the first `/` of the resource part. */
  resourceName: string;
}

const ACCOUNT_RE = /^[0-9]{12}$/;
/**
 * An AWS region code: a two-letter prefix, one or more words and a number (`us-east-1`,
 * `eu-central-2`, `us-gov-west-1`, `cn-northwest-1`, `us-isob-east-1`), at most 32 characters.
 */
const REGION_RE = /^(?=.{1,32}$)[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}$/;

/** The rule {@link isValidRegion} applies, for messages. */
export const REGION_RULE = 'an AWS region code such as us-east-1 or eu-central-1';
/** The rule {@link isValidAccountId} applies, for messages. */
export const ACCOUNT_ID_RULE = 'exactly 12 digits, such as 123456789012';

/** Checks a region string. */
export function isValidRegion(region: string): boolean {
  return REGION_RE.test(region);
}

/** Checks a 12-digit account id. */
export function isValidAccountId(accountId: string): boolean {
  return ACCOUNT_RE.test(accountId);
}

/** Builds ARNs for one region and account. */
export class ArnBuilder {
  readonly region: string;
  readonly accountId: string;

  constructor(region: string = DEFAULT_REGION, accountId: string = DEFAULT_ACCOUNT_ID) {
    if (!isValidRegion(region)) throw new TypeError(`invalid region ${JSON.stringify(region)}: ${REGION_RULE} expected`);
    if (!isValidAccountId(accountId)) throw new TypeError(`invalid accountId ${JSON.stringify(accountId)}: ${ACCOUNT_ID_RULE} expected`);
    this.region = region;
    this.accountId = accountId;
  }

  /** `arn:aws:iot:<region>:<account>:<type>/<name>`. */
  of(type: ArnResourceType, name: string): string {
    return `arn:aws:iot:${this.region}:${this.accountId}:${type}/${name}`;
  }

  /** Certificate ARN. */
  certificate(id: string): string {
    return this.of('cert', id);
  }

  /** CA certificate ARN. */
  caCertificate(id: string): string {
    return this.of('cacert', id);
  }

  /** Thing ARN. */
  thing(name: string): string {
    return this.of('thing', name);
  }

  /** Thing type ARN. */
  thingType(name: string): string {
    return this.of('thingtype', name);
  }

  /** Thing group ARN. */
  thingGroup(name: string): string {
    return this.of('thinggroup', name);
  }

  /** Billing group ARN. */
  billingGroup(name: string): string {
    return this.of('billinggroup', name);
  }

  /** Role alias ARN. */
  roleAlias(alias: string): string {
    return this.of('rolealias', alias);
  }

  /** Policy ARN. */
  policy(name: string): string {
    return this.of('policy', name);
  }

  /** Provisioning template ARN. */
  provisioningTemplate(name: string): string {
    return this.of('provisioningtemplate', name);
  }
}

/** Splits an IoT ARN; null when `arn` is not one. */
export function parseIotArn(arn: string): ParsedArn | null {
  if (typeof arn !== 'string' || arn.length > 4096) return null;
  const m = /^arn:aws[a-z-]*:iot:([^:]*):([^:]*):([^/]+)\/(.+)$/s.exec(arn);
  if (!m) return null;
  return { region: m[1] ?? '', accountId: m[2] ?? '', resourceType: m[3] ?? '', resourceName: m[4] ?? '' };
}
