/**
 * RegisterThing (AWS: fleet-provision-api.html#register-thing and provision-template.html): checks
 * the template and the ownership token, runs the pre-provisioning hook, evaluates the template, then
 * applies the plan in ONE registry transaction — consume the token, create or update the thing,
 * (for an existing thing, check the existing-thing policy first: existing-thing.ts), create inline
 * policies, attach policies and the thing to the certificate, set the certificate's status, append
 * the event. A failure at any step leaves the registry as it was (the token stays
 * unused).
 */
import { encodeRegisterThingResponse, parseRegisterThingRequest } from '@fleetprov/protocol';
import { parsePolicy, PolicyError } from '../policy/index.js';
import { isRegistryError, type ExistingThingPolicy, type Registry, type TemplateRow } from '../registry/index.js';
import {
  planProvisioning,
  resolveTemplate,
  TemplateError,
  type ExistingThing,
  type ParsedTemplate,
  type ProvisioningPlan,
  type ResolvedTemplate,
  type ThingPlan,
} from '../templates/index.js';
import { certificateFactsOf, type ServiceContext } from '../service-context.js';
import { rejection } from './errors.js';
import { checkExistingThing } from './existing-thing.js';
import { runPreProvisioningHook, type PreProvisioningHook } from './hook.js';
import { OwnershipTokenError, type OwnershipTokenClaims, type OwnershipTokens } from './ownership-tokens.js';
import { provisioningEvent, type RequestScope } from './request-scope.js';
import type { TemplateCache } from './template-cache.js';

/** What RegisterThing needs. */
export interface RegisterThingDeps {
  ctx: ServiceContext;
  tokens: OwnershipTokens;
  templates: TemplateCache;
  /** The pre-provisioning hook of a template, if it has one (see hook-resolver.ts). */
  resolveHook: (template: TemplateRow) => PreProvisioningHook | undefined;
  hookTimeoutMs: number;
  /** Called inside the transaction once the plan is applied (rotation bookkeeping); throwing rejects and rolls back. */
  onRegistered?: RegistrationObserver | undefined;
  /** The existing-thing policy of templates without their own (existing-thing.ts). */
  existingThingPolicy: ExistingThingPolicy;
}

/** What {@link RegisterThingDeps.onRegistered} learns about an applied RegisterThing. */
export interface AppliedRegistration {
  /** Certificate id of the requesting connection (claim, or the old certificate during rotation). */
  principalId: string;
  /** The certificate just registered. */
  certificateId: string;
  /** The thing the certificate was attached to, if the template has one. */
  thingName: string | undefined;
  templateName: string;
  /** Status the template gave the certificate. */
  certificateStatus: string;
}

/** Observes an applied RegisterThing inside its transaction (`tx`). */
export type RegistrationObserver = (tx: Registry, registration: AppliedRegistration) => Promise<void>;

/** The template by name, usable for fleet provisioning. */
async function loadTemplate(ctx: ServiceContext, name: string): Promise<TemplateRow> {
  const template = await ctx.registry.templates.get(name);
  if (template === null) {
    throw rejection(
      'ResourceNotFound',
      `template ${name} does not exist; create it with CreateProvisioningTemplate or fix the template name in the topic`,
    );
  }
  if (template.type !== 'FLEET_PROVISIONING') {
    throw rejection('AccessDenied', `template ${name} is a ${template.type} template; RegisterThing needs a FLEET_PROVISIONING template`);
  }
  if (!template.enabled) {
    throw rejection('AccessDenied', `template ${name} is disabled; enable it with UpdateProvisioningTemplate`);
  }
  return template;
}

function parsedTemplate(deps: RegisterThingDeps, template: TemplateRow): ParsedTemplate {
  try {
    return deps.templates.get(template);
  } catch (err) {
    // Bodies are validated when stored; one that no longer parses is the operator's problem.
    throw rejection('InternalFailure', `template ${template.name} is not valid in this server version; an administrator must fix it`, err);
  }
}

/** Checks the token, its row and its certificate before anything else runs. */
async function openToken(
  deps: RegisterThingDeps,
  scope: RequestScope,
  token: string,
): Promise<{ claims: OwnershipTokenClaims; certificatePem: string }> {
  const { ctx, tokens } = deps;
  const opened = tokens.open(token, scope.principalId);
  if (!opened.ok) throw opened.error;
  const claims = opened.claims;
  scope.certificateId = claims.certificateId;
  const row = await ctx.registry.tokens.get(claims.tokenId);
  if (row === null) throw new OwnershipTokenError('invalid');
  if (row.usedAt !== null) throw new OwnershipTokenError('used');
  const certificate = await ctx.registry.certificates.get(claims.certificateId);
  if (certificate === null) {
    throw rejection(
      'InvalidCertificateOwnershipToken',
      `certificate ${claims.certificateId} no longer exists; call CreateKeysAndCertificate or CreateCertificateFromCsr again`,
    );
  }
  if (certificate.status !== 'PENDING_ACTIVATION') {
    throw rejection(
      'InvalidCertificateOwnershipToken',
      `certificate ${claims.certificateId} is ${certificate.status}, not PENDING_ACTIVATION, so it cannot be registered; call CreateKeysAndCertificate or CreateCertificateFromCsr again`,
    );
  }
  return { claims, certificatePem: certificate.pem };
}

/** Evaluates the template; maps engine errors to what the device must fix. */
function resolve(
  ctx: ServiceContext,
  template: ParsedTemplate,
  name: string,
  parameters: Record<string, string>,
  certificateId: string,
  certificatePem: string,
): ResolvedTemplate {
  const facts = certificateFactsOf(ctx, certificateId, certificatePem);
  try {
    return resolveTemplate(template, { parameters, certificate: { certificateId, subject: facts.subject } });
  } catch (err) {
    throw templateRejection(err, name);
  }
}

function templateRejection(err: unknown, templateName: string): unknown {
  if (!(err instanceof TemplateError)) return err;
  switch (err.code) {
    case 'MissingParameter': {
      const parameter = err.parameter ?? err.path;
      return rejection(
        'InvalidPayload',
        `missing parameter ${parameter}: template ${templateName} needs a value for "${parameter}"; add it to "parameters"`,
        err,
      );
    }
    case 'ResourceConflict':
      return rejection('ResourceConflict', `template ${templateName}: ${err.message}`, err);
    case 'EvaluationError':
      return rejection('InvalidPayload', `template ${templateName} cannot be evaluated with these parameters: ${err.message}`, err);
    default:
      return rejection('InternalFailure', `template ${templateName} is not valid; an administrator must fix it`, err);
  }
}

/** All pages of a thing's group names. */
async function thingGroupNames(tx: Registry, thingName: string): Promise<string[]> {
  const names: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await tx.thingGroups.listForThing(thingName, { maxResults: 250, ...(nextToken === undefined ? {} : { nextToken }) });
    names.push(...page.items.map((g) => g.groupName));
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return names;
}

/** The thing as the template engine sees it (also used by JITP). */
export async function existingThing(tx: Registry, thingName: string): Promise<ExistingThing | null> {
  const thing = await tx.things.get(thingName);
  if (thing === null) return null;
  return {
    thingName: thing.name,
    thingTypeName: thing.thingTypeName,
    attributes: thing.attributes,
    thingGroups: await thingGroupNames(tx, thing.name),
    billingGroup: thing.billingGroupName,
  };
}

/** Thing types, thing groups and the billing group the plan names must exist: AWS does not create them. */
async function requireThingDependencies(tx: Registry, plan: ThingPlan, templateName: string): Promise<void> {
  if (plan.thingTypeName !== null && (await tx.things.getType(plan.thingTypeName)) === null) {
    throw rejection(
      'InvalidPayload',
      `thing type ${plan.thingTypeName} named by template ${templateName} does not exist; create it with CreateThingType`,
    );
  }
  for (const group of plan.thingGroups) {
    if ((await tx.thingGroups.get(group)) === null) {
      throw rejection(
        'InvalidPayload',
        `thing group ${group} named by template ${templateName} does not exist; create it with CreateThingGroup`,
      );
    }
  }
  if (plan.billingGroup !== null && (await tx.billingGroups.get(plan.billingGroup)) === null) {
    throw rejection(
      'InvalidPayload',
      `billing group ${plan.billingGroup} named by template ${templateName} does not exist; create it with CreateBillingGroup`,
    );
  }
}

/**
 * Creates or updates the planned thing (also used by JITP). A thing created with `provisionedBy`
 * records it as its provisioner (RegisterThing; a thing of that name created meanwhile is then a
 * conflict, never silently shared).
 */
export async function applyThing(
  tx: Registry,
  plan: ThingPlan,
  existing: ExistingThing | null,
  templateName: string,
  provisionedBy?: string,
): Promise<void> {
  if (plan.action === 'unchanged') return;
  await requireThingDependencies(tx, plan, templateName);
  if (plan.action === 'create' || existing === null) {
    await tx.things.create({
      name: plan.thingName,
      thingTypeName: plan.thingTypeName,
      attributes: plan.attributes,
      billingGroupName: plan.billingGroup,
      ...(provisionedBy === undefined ? {} : { provisionedBy }),
    });
    for (const group of plan.thingGroups) await tx.thingGroups.addThing(group, plan.thingName);
    return;
  }
  // The plan holds the final attribute set: replace, not merge.
  await tx.things.update(plan.thingName, {
    attributes: plan.attributes,
    merge: false,
    ...(plan.thingTypeName === null ? (existing.thingTypeName ? { removeThingType: true } : {}) : { thingTypeName: plan.thingTypeName }),
    ...(plan.billingGroup === null ? (existing.billingGroup ? { removeBillingGroup: true } : {}) : { billingGroupName: plan.billingGroup }),
  });
  for (const group of existing.thingGroups) if (!plan.thingGroups.includes(group)) await tx.thingGroups.removeThing(group, plan.thingName);
  for (const group of plan.thingGroups) if (!existing.thingGroups.includes(group)) await tx.thingGroups.addThing(group, plan.thingName);
}

/** Creates inline policies and attaches the planned policies to the certificate (also used by JITP). */
export async function applyPolicies(tx: Registry, plan: ProvisioningPlan, certificateId: string, templateName: string): Promise<void> {
  for (const policy of plan.policies) {
    if (policy.kind === 'inline') {
      if ((await tx.policies.get(policy.policyName)) === null) {
        try {
          parsePolicy(policy.document);
        } catch (err) {
          if (err instanceof PolicyError) {
            throw rejection(
              'InvalidPayload',
              `template ${templateName}: the inline policy of resource ${policy.logicalId} is not a valid IoT policy (${err.message}); fix the template`,
              err,
            );
          }
          throw err;
        }
        try {
          await tx.policies.create({ name: policy.policyName, document: policy.document });
        } catch (err) {
          // Another RegisterThing created the same inline policy (same document, same hash name).
          if (!isRegistryError(err, 'ResourceAlreadyExists')) throw err;
        }
      }
    }
    try {
      // attach checks that the policy exists (no lookup first).
      await tx.policies.attach(policy.policyName, { type: 'certificate', id: certificateId });
    } catch (err) {
      if (isRegistryError(err, 'ResourceNotFound') && err.resourceType === 'policy') {
        throw rejection(
          'InvalidPayload',
          `policy ${policy.policyName} named by template ${templateName} does not exist; create it with CreatePolicy`,
          err,
        );
      }
      throw err;
    }
  }
}

/** Registry failures inside the transaction, as what the device is told (also used by JITP). */
export function registryRejection(err: unknown, templateName: string): unknown {
  if (!isRegistryError(err)) return err;
  switch (err.code) {
    case 'InvalidRequest':
    case 'LimitExceeded':
    case 'ResourceNotFound':
      return rejection('InvalidPayload', `template ${templateName} cannot be applied: ${err.message}`, err);
    case 'ResourceAlreadyExists':
    case 'VersionConflict':
    case 'Conflict':
      return rejection(
        'ResourceConflict',
        `template ${templateName} cannot be applied: ${err.message}; another request changed the same resource, retry`,
        err,
      );
    default:
      return err;
  }
}

/** The RegisterThing operation. */
export async function handleRegisterThing(deps: RegisterThingDeps, scope: RequestScope, templateName: string): Promise<Buffer> {
  const { ctx, tokens } = deps;
  const request = parseRegisterThingRequest(scope.format, scope.payload);
  const template = await loadTemplate(ctx, templateName);
  const parsed = parsedTemplate(deps, template);
  const { claims, certificatePem } = await openToken(deps, scope, request.certificateOwnershipToken);
  const deviceParameters: Record<string, string> = request.parameters ?? (Object.create(null) as Record<string, string>);

  let parameters = deviceParameters;
  let overridden: string[] = [];
  const hook = deps.resolveHook(template);
  if (hook !== undefined) {
    const outcome = await runPreProvisioningHook(
      hook,
      {
        claimCertificateId: scope.principalId,
        certificateId: claims.certificateId,
        certificatePem,
        templateArn: template.arn,
        clientId: scope.clientId,
        parameters: deviceParameters,
      },
      { template },
      deps.hookTimeoutMs,
    );
    if (!outcome.allowed) {
      throw rejection(
        'AccessDenied',
        `provisioning with template ${templateName} was denied by its pre-provisioning hook: ${outcome.reason}`,
        new Error(outcome.reason, { cause: outcome.cause }),
      );
    }
    parameters = outcome.parameters;
    overridden = outcome.overridden;
  }

  const resolved = resolve(deps.ctx, parsed, templateName, parameters, claims.certificateId, certificatePem);
  if (resolved.thing !== undefined) scope.thingName = resolved.thing.thingName;

  const plan = await ctx.registry.transaction(
    async (tx) => {
      await tokens.consume(claims, tx);
      const certificate = await tx.certificates.get(claims.certificateId);
      if (certificate === null || certificate.status !== 'PENDING_ACTIVATION') {
        throw rejection(
          'InvalidCertificateOwnershipToken',
          `certificate ${claims.certificateId} is no longer PENDING_ACTIVATION; call CreateKeysAndCertificate or CreateCertificateFromCsr again`,
        );
      }
      try {
        const existing = resolved.thing === undefined ? null : await existingThing(tx, resolved.thing.thingName);
        let planned: ProvisioningPlan;
        try {
          planned = planProvisioning(resolved, existing);
        } catch (err) {
          throw templateRejection(err, templateName);
        }
        if (planned.thing !== undefined && existing !== null) {
          await checkExistingThing(tx, {
            thingName: planned.thing.thingName,
            templateName,
            principalId: scope.principalId,
            defaultPolicy: deps.existingThingPolicy,
          });
        }
        if (planned.thing !== undefined) await applyThing(tx, planned.thing, existing, templateName, scope.principalId);
        await applyPolicies(tx, planned, claims.certificateId, templateName);
        if (planned.thing !== undefined) await tx.thingPrincipals.attach(planned.thing.thingName, claims.certificateId);
        if (planned.certificate !== undefined) await tx.certificates.updateStatus(claims.certificateId, planned.certificate.status);
        const status = planned.certificate?.status ?? 'PENDING_ACTIVATION';
        if (deps.onRegistered !== undefined) {
          await deps.onRegistered(tx, {
            principalId: scope.principalId,
            certificateId: claims.certificateId,
            thingName: planned.thing?.thingName,
            templateName,
            certificateStatus: status,
          });
        }
        await tx.events.appendAtCommit(
          provisioningEvent(
            scope,
            'accepted',
            planned.thing === undefined
              ? `certificate ${claims.certificateId} registered (${status})`
              : `thing ${planned.thing.thingName} ${planned.thing.action === 'create' ? 'created' : planned.thing.action === 'update' ? 'updated' : 'unchanged'}; certificate ${claims.certificateId} attached (${status})`,
            {
              at: ctx.now().getTime(),
              details: {
                resources: planned.resources,
                certificateStatus: status,
                ...(planned.thing === undefined ? {} : { thingAction: planned.thing.action }),
                ...(overridden.length === 0 ? {} : { parameterOverrides: overridden }),
              },
            },
          ),
        );
        return planned;
      } catch (err) {
        throw registryRejection(err, templateName);
      }
      // Every failure above rejects the request and rolls everything back (see TransactionOptions).
    },
    { allOrNothing: true },
  );

  if (plan.certificate === undefined) {
    deps.ctx.logger.warn(
      { component: 'provisioning', template: templateName, certificateId: claims.certificateId },
      `template ${templateName} has no AWS::IoT::Certificate resource: certificate ${claims.certificateId} stays PENDING_ACTIVATION`,
    );
  }
  return encodeRegisterThingResponse(scope.format, {
    deviceConfiguration: plan.deviceConfiguration,
    ...(plan.thing === undefined ? {} : { thingName: plan.thing.thingName }),
  });
}
