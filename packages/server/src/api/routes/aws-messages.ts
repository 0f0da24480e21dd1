/**
 * The exact error codes and messages AWS IoT answers in situations scripts test for, each with
 * where its wording comes from. The registry reports these situations with its own typed errors
 * (and its own wording, for logs and engines); the routes translate them here so a client that
 * matches AWS's message or exception name behaves the same against fleetprov.
 *
 * Sources:
 * - [guide] AWS IoT Developer Guide, "Thing groups" (thing-groups.html), which quotes the CLI output;
 * - [cli] real AWS CLI / SDK outputs quoted in public GitHub repositories and issues;
 * - [moto] getmoto/moto `moto/iot/models.py` and `moto/iot/exceptions.py`, which reproduce AWS's
 *   messages (their tests assert them against boto3);
 * - [model] the botocore service model `botocore/data/iot/2015-05-28/service-2.json` (which
 *   exceptions an operation may answer).
 */
import type { RegistryError } from '../../registry/index.js';
import { ApiError } from '../errors.js';

/**
 * DeleteThing while a principal is attached: `InvalidRequestException` (400; the model lists no
 * DeleteConflictException for DeleteThing). [cli] "Cannot delete. Thing rdicdk-ruuvi is still
 * attached to one or more principals" (a CDK project's README quoting AWS); [moto] `ThingStillAttached`.
 */
export function thingStillAttached(thingName: string): ApiError {
  return new ApiError('InvalidRequestException', `Cannot delete. Thing ${thingName} is still attached to one or more principals`);
}

/**
 * DeleteThingGroup while child groups exist: `InvalidRequestException`. [guide] "Cannot delete
 * thing group : RedLights when there are still child groups attached to it." (the guide's CLI
 * output, with its full stop; moto drops it).
 */
export function thingGroupHasChildren(groupName: string): ApiError {
  return new ApiError(
    'InvalidRequestException',
    `Cannot delete thing group : ${groupName} when there are still child groups attached to it.`,
  );
}

/**
 * CreateThingGroup of an existing name with other properties: `ResourceAlreadyExistsException`
 * with `resourceId` (the group id) and `resourceArn`; an identical request returns the existing
 * group. [moto] `create_thing_group` ("this behavior is not documented, but AWS does it like that").
 */
export function thingGroupExists(groupName: string, groupId: string, groupArn: string): ApiError {
  return new ApiError(
    'ResourceAlreadyExistsException',
    `Thing Group ${groupName} already exists in current account with different properties`,
    {
      extra: { resourceId: groupId, resourceArn: groupArn },
    },
  );
}

/**
 * RegisterCertificate / RegisterCertificateWithoutCA of a certificate already in the registry:
 * `ResourceAlreadyExistsException` with `resourceId` (certificate id) and `resourceArn`.
 * [moto] `__raise_if_certificate_already_exists`.
 */
export function certificateAlreadyRegistered(certificateId: string, certificateArn: string): ApiError {
  return new ApiError('ResourceAlreadyExistsException', 'The certificate is already provisioned or registered', {
    extra: { resourceId: certificateId, resourceArn: certificateArn },
  });
}

/**
 * CreatePolicy of a taken name: `ResourceAlreadyExistsException` with `resourceId` (the name) and
 * `resourceArn`. [moto] `create_policy`.
 */
export function policyExists(policyName: string, policyArn: string): ApiError {
  return new ApiError('ResourceAlreadyExistsException', `Policy cannot be created - name already exists (name=${policyName})`, {
    extra: { resourceId: policyName, resourceArn: policyArn },
  });
}

/**
 * DeletePolicy while the policy is attached: `DeleteConflictException`. [cli] "The policy cannot be
 * deleted as the policy is attached to one or more principals (name=rdicdk-policy)"; [moto] `delete_policy`.
 */
export function policyAttached(policyName: string): ApiError {
  return new ApiError(
    'DeleteConflictException',
    `The policy cannot be deleted as the policy is attached to one or more principals (name=${policyName})`,
  );
}

/** DeletePolicy while non-default versions exist: `DeleteConflictException`. [moto] `delete_policy`. */
export function policyHasVersions(policyName: string): ApiError {
  return new ApiError(
    'DeleteConflictException',
    `Cannot delete the policy because it has one or more policy versions attached to it (name=${policyName})`,
  );
}

/**
 * DeleteCertificate of an ACTIVE certificate: `CertificateStateException` (406).
 * [moto] `_validation_delete` ("Certificate must be deactivated (not ACTIVE) before deletion." then " Id: <id>").
 */
export function certificateActive(certificateId: string): ApiError {
  return new ApiError('CertificateStateException', `Certificate must be deactivated (not ACTIVE) before deletion. Id: ${certificateId}`);
}

/** DeleteCertificate while things are attached: `DeleteConflictException`. [moto] `_validation_delete`. */
export function certificateHasThings(certificateArn: string): ApiError {
  return new ApiError('DeleteConflictException', `Things must be detached before deletion (arn: ${certificateArn})`);
}

/**
 * DeleteCertificate (without forceDelete) while policies are attached: `DeleteConflictException`.
 * [moto] `_validation_delete`.
 */
export function certificateHasPolicies(certificateArn: string): ApiError {
  return new ApiError('DeleteConflictException', `Certificate policies must be detached before deletion (arn: ${certificateArn})`);
}

/** ListThingPrincipals of an unknown thing: `ResourceNotFoundException`. [moto] `list_thing_principals`. */
export function thingPrincipalsOfUnknownThing(thingName: string): ApiError {
  return new ApiError(
    'ResourceNotFoundException',
    `Failed to list principals for thing ${thingName} because the thing does not exist in your account`,
  );
}

/** ListTargetsForPolicy of an unknown policy: `ResourceNotFoundException`. [moto] `list_targets_for_policy`. */
export function policyNotFoundForTargets(): ApiError {
  return new ApiError('ResourceNotFoundException', 'Policy not found');
}

/**
 * AttachPolicy to a thing-group ARN naming no group: `ResourceNotFoundException`. [moto] `_get_principal`.
 */
export function policyTargetGroupNotFound(targetArn: string): ApiError {
  return new ApiError('ResourceNotFoundException', `No thing group with ARN ${targetArn} exists`);
}

/**
 * AttachPolicy to a certificate ARN naming no certificate: `ResourceNotFoundException` with AWS's
 * generic wording. [moto] `_get_principal` / `ResourceNotFoundException` default message.
 */
export function policyTargetNotFound(): ApiError {
  return new ApiError('ResourceNotFoundException', 'The specified resource does not exist');
}

/**
 * AWS's error for a delete the registry refused (a {@link RegistryError} carrying a `refusal`), or
 * null for any other registry error.
 */
export function awsDeleteRefusal(err: RegistryError): ApiError | null {
  const id = err.resourceId ?? '';
  const arn = err.resourceArn ?? '';
  switch (err.refusal) {
    case 'thing-has-principals':
      return thingStillAttached(id);
    case 'group-has-children':
      return thingGroupHasChildren(id);
    case 'certificate-active':
      return certificateActive(id);
    case 'certificate-has-things':
      return certificateHasThings(arn);
    case 'certificate-has-policies':
      return certificateHasPolicies(arn);
    case 'policy-attached':
      return policyAttached(id);
    case 'policy-has-versions':
      return policyHasVersions(id);
    default:
      return null;
  }
}
