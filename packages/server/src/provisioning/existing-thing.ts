/**
 * The existing-thing policy of RegisterThing (docs/decisions.md, "Claim certificates"): whether a
 * RegisterThing whose template names a thing that exists already may attach its certificate to it.
 *
 * AWS provisions an existing thing for any holder of any claim certificate allowed on the template
 * (only a pre-provisioning hook can refuse), so a leaked claim certificate can take over any device
 * whose serial it knows. Under `owner` fleetprov refuses that unless the request comes from
 * - a certificate attached to the thing (the device itself, re-provisioning or rotating), or
 * - the certificate whose RegisterThing first attached a certificate to the thing (its provisioner,
 *   normally the claim certificate of the factory that made the device).
 * A thing nobody provisioned yet (created with CreateThing, no certificate attached) is provisioned by
 * whoever comes first, who becomes its provisioner. `allow` (the default) keeps AWS's behaviour.
 *
 * The setting is per template (`registry.templateProtections`), else the server's default.
 */
import type { ExistingThingPolicy, Registry } from '../registry/index.js';
import { rejection } from './errors.js';

/** What the check needs to know about the request. */
export interface ExistingThingRequest {
  thingName: string;
  templateName: string;
  /** Certificate id of the requesting connection. */
  principalId: string;
  /** The server's default policy, for templates without their own. */
  defaultPolicy: ExistingThingPolicy;
}

/** The effective policy of a template: its own, else `defaultPolicy`. */
export async function existingThingPolicyOf(
  tx: Registry,
  templateName: string,
  defaultPolicy: ExistingThingPolicy,
): Promise<ExistingThingPolicy> {
  return (await tx.templateProtections.get(templateName))?.existingThing ?? defaultPolicy;
}

async function isAttached(tx: Registry, thingName: string, certificateId: string): Promise<boolean> {
  const page = await tx.thingPrincipals.listForThing(thingName, { maxResults: 250 });
  if (page.items.some((p) => p.certificateId === certificateId)) return true;
  if (page.nextToken === undefined) return false;
  // More than 250 certificates on one thing: look from the certificate's side.
  const things = await tx.thingPrincipals.listForPrincipal(certificateId, { maxResults: 250 });
  return things.items.some((t) => t.thingName === thingName);
}

async function hasPrincipals(tx: Registry, thingName: string): Promise<boolean> {
  return (await tx.thingPrincipals.listForThing(thingName, { maxResults: 1 })).items.length > 0;
}

/**
 * Inside RegisterThing's transaction, for a thing that exists: refuses (403 AccessDenied, nothing
 * created) when the template's policy is `owner` and the requester may not provision the thing;
 * otherwise records the requester as the thing's provisioner if it has none yet.
 * @throws {ServiceRejection} `AccessDenied`
 */
export async function checkExistingThing(tx: Registry, request: ExistingThingRequest): Promise<void> {
  const { thingName, templateName, principalId } = request;
  const policy = await existingThingPolicyOf(tx, templateName, request.defaultPolicy);
  let provisioner = await tx.things.getProvisioner(thingName);
  if (provisioner === principalId) return;
  if (policy === 'allow') {
    if (provisioner === null) await tx.things.recordProvisioner(thingName, principalId);
    return;
  }
  if (await isAttached(tx, thingName, principalId)) return;
  if (provisioner === null && !(await hasPrincipals(tx, thingName))) {
    // Never provisioned: the first requester takes it. Of two racing, the second finds the first recorded.
    provisioner = await tx.things.recordProvisioner(thingName, principalId);
    if (provisioner === principalId) return;
  }
  throw rejection(
    'AccessDenied',
    `thing ${thingName} already exists and belongs to another certificate: template ${templateName} lets only a certificate ` +
      'attached to the thing, or the claim certificate that first provisioned it, provision it again (existing-thing policy "owner"); ' +
      'an administrator can delete the thing or allow re-provisioning',
    undefined,
    { reason: 'ExistingThingNotOwned', existingThingPolicy: policy, thingName, provisionedBy: provisioner },
  );
}
