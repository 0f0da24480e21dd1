/**
 * The pre-provisioning hook extension point (spec §3). AWS calls a Lambda before RegisterThing
 * creates anything; fleetprov takes an in-process function here (the transport to an external hook
 * comes later). Denial, failure, a malformed answer or no answer within the timeout all deny the
 * request with 403 AccessDenied, and nothing is created.
 */
import { coerceToString, HOOK_TIMEOUT_MS, isForbiddenKey, REGISTER_THING_PARAMETER_LIMITS, type WireValue } from '@fleetprov/protocol';
import type { TemplateRow } from '../registry/index.js';

/** The hook's input, shaped like AWS's payloadVersion 2020-04-01 event. */
export interface PreProvisioningHookEvent {
  /** Certificate id of the connection that called RegisterThing (the claim certificate). */
  claimCertificateId: string;
  /** The certificate being provisioned. */
  certificateId: string;
  certificatePem: string;
  templateArn: string;
  clientId: string;
  /** RegisterThing `parameters` exactly as the device sent them (after string coercion). */
  parameters: Record<string, string>;
}

/** The hook's answer. `allowProvisioning` must be `true` (or `"true"`) to proceed. */
export interface PreProvisioningHookResult {
  allowProvisioning: boolean | string;
  /** Merged into the device's parameters; overrides win. Values are coerced to strings. */
  parameterOverrides?: Record<string, unknown>;
}

/** Facts the hook may use besides the AWS-shaped event. */
export interface PreProvisioningHookContext {
  /** The template being provisioned (its `preProvisioningHook` field says what AWS would call). */
  template: TemplateRow;
}

/** A pre-provisioning hook. */
export type PreProvisioningHook = (event: PreProvisioningHookEvent, context: PreProvisioningHookContext) => Promise<PreProvisioningHookResult>;

/** Outcome of {@link runPreProvisioningHook}. */
export type HookOutcome =
  | { allowed: true; parameters: Record<string, string>; overridden: string[] }
  | { allowed: false; reason: string; cause?: unknown };

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Calls the hook with a timeout and validates its answer.
 * @returns the parameters to evaluate the template with (device parameters + overrides), or a denial reason for the log
 */
export async function runPreProvisioningHook(
  hook: PreProvisioningHook,
  event: PreProvisioningHookEvent,
  context: PreProvisioningHookContext,
  timeoutMs: number = HOOK_TIMEOUT_MS,
): Promise<HookOutcome> {
  let timer: NodeJS.Timeout | undefined;
  let answer: unknown;
  try {
    answer = await Promise.race([
      Promise.resolve().then(() => hook(event, context)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    return { allowed: false, reason: `the pre-provisioning hook failed: ${err instanceof Error ? err.message : String(err)}`, cause: err };
  } finally {
    clearTimeout(timer);
  }
  if (!isPlainRecord(answer)) return { allowed: false, reason: 'the pre-provisioning hook returned no object' };
  const allow = answer.allowProvisioning;
  if (allow !== true && allow !== 'true') {
    return { allowed: false, reason: `the pre-provisioning hook answered allowProvisioning=${JSON.stringify(allow) ?? 'undefined'}` };
  }
  const parameters: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const key of Object.keys(event.parameters)) parameters[key] = event.parameters[key] as string;
  const overridden: string[] = [];
  const overrides = answer.parameterOverrides;
  if (overrides !== undefined && overrides !== null) {
    if (!isPlainRecord(overrides)) return { allowed: false, reason: 'the pre-provisioning hook returned parameterOverrides that is not an object' };
    const keys = Object.keys(overrides);
    if (keys.length > REGISTER_THING_PARAMETER_LIMITS.maxEntries) {
      return { allowed: false, reason: `the pre-provisioning hook returned more than ${REGISTER_THING_PARAMETER_LIMITS.maxEntries} parameterOverrides` };
    }
    for (const key of keys) {
      if (isForbiddenKey(key) || key.length > REGISTER_THING_PARAMETER_LIMITS.maxKeyChars) {
        return { allowed: false, reason: `the pre-provisioning hook returned an unusable parameter name ${JSON.stringify(key.slice(0, 64))}` };
      }
      const coerced = coerceToString(overrides[key] as WireValue);
      if ('reason' in coerced || coerced.value.length > REGISTER_THING_PARAMETER_LIMITS.maxValueChars) {
        return { allowed: false, reason: `the pre-provisioning hook returned an unusable value for parameter ${JSON.stringify(key.slice(0, 64))}` };
      }
      parameters[key] = coerced.value;
      overridden.push(key);
    }
  }
  return { allowed: true, parameters, overridden };
}
