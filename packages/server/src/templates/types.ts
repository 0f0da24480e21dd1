/**
 * Types of the provisioning-template engine. The engine is pure: it takes data and returns data.
 * `parseTemplate` validates a template body once (at CreateProvisioningTemplate time);
 * `resolveTemplate` evaluates it for one device; `planProvisioning` applies OverrideSettings against
 * the existing thing (if any). `evaluateTemplate` does the last two in one call.
 */

/** Override behaviour for a property of an existing resource. */
export type OverrideAction = 'DO_NOTHING' | 'REPLACE' | 'FAIL' | 'MERGE';

/** Template type, as in CreateProvisioningTemplate `type`. It decides which features a template may use. */
export type TemplateType = 'FLEET_PROVISIONING' | 'JITP';

/** Options of `parseTemplate`. */
export interface ParseOptions {
  /** Template type; default `FLEET_PROVISIONING` (the AWS default). */
  type?: TemplateType;
}

/** Certificate status a template may set. */
export type TemplateCertificateStatus = 'ACTIVE' | 'INACTIVE';

/**
 * Facts about the certificate being provisioned, used for the special parameters
 * `AWS::IoT::Certificate::Id` and (JITP) `AWS::IoT::Certificate::<SubjectField>`.
 */
export interface CertificateFacts {
  /** Lowercase hex SHA-256 of the certificate DER. */
  certificateId: string;
  /**
   * Subject DN attributes by short name, each with all its values in order
   * (keys: `C`, `O`, `OU`, `dnQualifier`, `ST`, `CN`, `serialNumber`).
   */
  subject?: Readonly<Record<string, readonly string[]>>;
}

/** The thing as it exists in the registry before provisioning. */
export interface ExistingThing {
  thingName: string;
  thingTypeName?: string | null;
  attributes: Readonly<Record<string, string>>;
  thingGroups: readonly string[];
  billingGroup?: string | null;
}

/** A parsed, validated template; opaque to callers except for what is listed. */
export interface ParsedTemplate {
  /** The original JSON body as parsed. */
  readonly body: Readonly<Record<string, unknown>>;
  /** Declared parameter names (including special `AWS::IoT::Certificate::*` ones). */
  readonly parameterNames: readonly string[];
  /** fleetprov extensions the template uses (e.g. `Conditions`, `Fn::If`); empty if AWS-compatible. */
  readonly extensionsUsed: readonly string[];
  /** Non-fatal remarks (e.g. "no AWS::IoT::Thing resource: RegisterThing will return an empty thingName"). */
  readonly warnings: readonly string[];
  /** The type the template was validated for. */
  readonly templateType: TemplateType;
}

/** The thing resource after intrinsics are resolved (before overrides). */
export interface ResolvedThing {
  logicalId: string;
  thingName: string;
  /** undefined when the template does not set the property. */
  attributes?: Record<string, string>;
  thingTypeName?: string;
  thingGroups?: string[];
  billingGroup?: string;
  /** Override per property key, normalised to AttributePayload / ThingTypeName / ThingGroups / BillingGroup. */
  overrides: Partial<Record<'AttributePayload' | 'ThingTypeName' | 'ThingGroups' | 'BillingGroup', OverrideAction>>;
}

/** A policy resource after resolution. */
export type ResolvedPolicy =
  | { logicalId: string; kind: 'named'; policyName: string }
  | {
      logicalId: string;
      kind: 'inline';
      /** 40 uppercase hex digits: SHA-1 of the canonical document text, as AWS names unnamed inline policies. */
      policyName: string;
      /** The policy document as a JSON string. */
      document: string;
    };

/** The result of evaluating a template for one device (before overrides). */
export interface ResolvedTemplate {
  /** Final parameter values (device parameters, defaults and special parameters). */
  parameters: Record<string, string>;
  thing?: ResolvedThing;
  certificate?: { logicalId: string; certificateId: string; status: TemplateCertificateStatus; statusOverride?: OverrideAction };
  policies: ResolvedPolicy[];
  deviceConfiguration: Record<string, string>;
}

/** What must happen to the thing. */
export interface ThingPlan {
  logicalId: string;
  thingName: string;
  /** create: no thing yet; update: exists and changes; unchanged: exists, nothing to change. */
  action: 'create' | 'update' | 'unchanged';
  /** Desired final state. */
  attributes: Record<string, string>;
  thingTypeName: string | null;
  thingGroups: string[];
  billingGroup: string | null;
}

/** Everything RegisterThing must apply, in one transaction. */
export interface ProvisioningPlan {
  parameters: Record<string, string>;
  thing?: ThingPlan;
  certificate?: { logicalId: string; certificateId: string; status: TemplateCertificateStatus };
  /** Policies to create (inline, if absent) and attach to the certificate. */
  policies: ResolvedPolicy[];
  deviceConfiguration: Record<string, string>;
  /** Logical id → ARN-less resource id (thing name, certificate id, policy name), like REST RegisterThing's resourceArns. */
  resources: Record<string, string>;
}

/** Inputs of `resolveTemplate`. */
export interface ResolveInput {
  /** Device parameters (already coerced to strings by the protocol layer). */
  parameters: Readonly<Record<string, string>>;
  certificate: CertificateFacts;
}

/** Inputs of one evaluation. */
export interface EvaluationInput {
  /** Device parameters (already coerced to strings by the protocol layer). */
  parameters: Readonly<Record<string, string>>;
  certificate: CertificateFacts;
  /** The existing thing with the resolved name, or null/undefined if none. */
  existingThing?: ExistingThing | null;
}
