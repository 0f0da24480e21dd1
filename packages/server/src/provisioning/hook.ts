/**
 * Pre-provisioning hooks (AWS: pre-provisioning-hook.html). AWS calls a Lambda before RegisterThing creates anything;
 * fleetprov calls a {@link PreProvisioningHook}: an in-process function, or a webhook (webhook.ts)
 * chosen by the template's `preProvisioningHook.targetArn` (hook-resolver.ts). Deny by default: a
 * denial, an error, a malformed answer or no answer within the timeout rejects the request with
 * 403 AccessDenied, with a reason that says which, and nothing is created.
 */
import { HOOK_TIMEOUT_MS, isForbiddenKey, REGISTER_THING_PARAMETER_LIMITS } from '@fleetprov/protocol';
import type { TemplateRow } from '../registry/index.js';

/** The hook's input: exactly AWS's payloadVersion 2020-04-01 Lambda event. */
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

/** The hook's answer (AWS's Lambda response). `allowProvisioning` must be the boolean `true` to proceed. */
export interface PreProvisioningHookResult {
  allowProvisioning: boolean;
  /** Replace device parameters of the same name (and add new ones). Values must be strings. */
  parameterOverrides?: Record<string, string>;
}

/** Facts the hook may use besides the AWS-shaped event. */
export interface PreProvisioningHookContext {
  /** The template being provisioned (its `preProvisioningHook` field says what AWS would call). */
  template: TemplateRow;
  /** Aborted when the hook's time is up: a hook doing I/O should stop then. */
  signal: AbortSignal;
}

/** A pre-provisioning hook. Its answer is validated (see {@link runPreProvisioningHook}); anything but `allowProvisioning: true` denies. */
export type PreProvisioningHook = (event: PreProvisioningHookEvent, context: PreProvisioningHookContext) => Promise<unknown>;

/**
 * A hook failure whose message is safe to show the device and the event log (a category such as
 * "answered HTTP 500", never a stack or a response body). Hooks throw it to explain a failure.
 */
export class HookCallError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HookCallError';
  }
}

/** Outcome of {@link runPreProvisioningHook}. */
export type HookOutcome =
  { allowed: true; parameters: Record<string, string>; overridden: string[] } | { allowed: false; reason: string; cause?: unknown };

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What a value is, for messages (`the string "true"`, `a number`, `null`). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}…` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `the ${typeof value} ${JSON.stringify(value)}`;
}

/**
 * Checks a hook's answer: `allowProvisioning` must be the boolean `true` (a string `"true"` is
 * malformed) and `parameterOverrides`, when present, an object of string values.
 * @returns the merged parameters, or the reason the answer denies
 */
export function validateHookAnswer(answer: unknown, deviceParameters: Record<string, string>): HookOutcome {
  if (!isPlainRecord(answer))
    return { allowed: false, reason: `the hook returned a malformed reply (${describeValue(answer)} instead of a JSON object)` };
  const allow = answer.allowProvisioning;
  if (allow === false) return { allowed: false, reason: 'the hook denied provisioning (allowProvisioning is false)' };
  if (allow !== true) {
    return {
      allowed: false,
      reason: `the hook returned a malformed reply: allowProvisioning must be the boolean true or false, got ${describeValue(allow)}`,
    };
  }
  const parameters: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const key of Object.keys(deviceParameters)) parameters[key] = deviceParameters[key] as string;
  const overridden: string[] = [];
  const overrides = answer.parameterOverrides;
  if (overrides === undefined || overrides === null) return { allowed: true, parameters, overridden };
  if (!isPlainRecord(overrides)) {
    return {
      allowed: false,
      reason: `the hook returned a malformed reply: parameterOverrides must be an object of strings, got ${describeValue(overrides)}`,
    };
  }
  const keys = Object.keys(overrides);
  if (keys.length > REGISTER_THING_PARAMETER_LIMITS.maxEntries) {
    return {
      allowed: false,
      reason: `the hook returned a malformed reply: more than ${REGISTER_THING_PARAMETER_LIMITS.maxEntries} parameterOverrides`,
    };
  }
  for (const key of keys) {
    const shown = JSON.stringify(key.slice(0, 64));
    if (key.length === 0 || isForbiddenKey(key) || key.length > REGISTER_THING_PARAMETER_LIMITS.maxKeyChars) {
      return { allowed: false, reason: `the hook returned a malformed reply: unusable parameter name ${shown} in parameterOverrides` };
    }
    const value = overrides[key];
    if (typeof value !== 'string') {
      return {
        allowed: false,
        reason: `the hook returned a malformed reply: parameterOverrides.${key.slice(0, 64)} must be a string, got ${describeValue(value)}`,
      };
    }
    if (value.length > REGISTER_THING_PARAMETER_LIMITS.maxValueChars) {
      return {
        allowed: false,
        reason: `the hook returned a malformed reply: parameterOverrides.${key.slice(0, 64)} is longer than ${REGISTER_THING_PARAMETER_LIMITS.maxValueChars} characters`,
      };
    }
    parameters[key] = value;
    overridden.push(key);
  }
  return { allowed: true, parameters, overridden };
}

/**
 * Calls the hook with a timeout (aborting `context.signal` when it expires) and validates its answer.
 * @returns the parameters to evaluate the template with (device parameters + overrides), or a denial reason
 */
export async function runPreProvisioningHook(
  hook: PreProvisioningHook,
  event: PreProvisioningHookEvent,
  context: { template: TemplateRow },
  timeoutMs: number = HOOK_TIMEOUT_MS,
): Promise<HookOutcome> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let answer: unknown;
  try {
    answer = await Promise.race([
      Promise.resolve().then(() => hook(event, { template: context.template, signal: controller.signal })),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const err = new HookCallError(`the hook did not answer within ${timeoutMs} ms (timeout)`);
          controller.abort(err);
          reject(err);
        }, timeoutMs);
      }),
    ]);
  } catch (err) {
    const reason = err instanceof HookCallError ? err.message : 'the hook failed with an error';
    return { allowed: false, reason, cause: err };
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return validateHookAnswer(answer, event.parameters);
}
