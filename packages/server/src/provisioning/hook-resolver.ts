/**
 * Which pre-provisioning hook a template runs. A template's `preProvisioningHook.targetArn` is:
 * - an `https://` or `http://` URL → that webhook, signed with the server's hook secret;
 * - the name or ARN of a function registered with `startServer({ preProvisioningHooks: { name: fn } })`
 *   (a Lambda ARN `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]` also matches `NAME`);
 * - anything else → a hook that always denies ("no such hook"), never a silent pass.
 * A template without a hook runs the server-wide `preProvisioningHook` function, if one is set.
 */
import type { TemplateRow } from '../registry/index.js';
import { HookCallError, type PreProvisioningHook } from './hook.js';
import { createWebhookHook, isWebhookTarget } from './webhook.js';
import { ProvisioningError } from './errors.js';

/** Options of {@link createHookResolver}. */
export interface HookResolverOptions {
  /** Run for every template that has no `preProvisioningHook` of its own. */
  defaultHook?: PreProvisioningHook;
  /** In-process hooks by name or ARN, selected by a template's `preProvisioningHook.targetArn`. */
  functions?: Readonly<Record<string, PreProvisioningHook>>;
  /** HMAC key webhook calls are signed with; without it webhook targets deny. */
  webhookSecret?: string;
  /** Extra CA certificates trusted for https webhooks. */
  webhookCa?: string | string[];
}

/** Picks the hook of a template, or undefined when it has none. */
export type HookResolver = (template: TemplateRow) => PreProvisioningHook | undefined;

const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/;

/** Most webhook hooks kept (one per distinct URL). */
const MAX_CACHED_WEBHOOKS = 1000;

/**
 * Builds the resolver the RegisterThing handler uses.
 * @throws {ProvisioningError} `InvalidArgument` when a registered hook is not a function
 */
export function createHookResolver(opts: HookResolverOptions): HookResolver {
  const functions = new Map<string, PreProvisioningHook>();
  for (const [name, fn] of Object.entries(opts.functions ?? {})) {
    if (typeof fn !== 'function') throw new ProvisioningError('InvalidArgument', `preProvisioningHooks.${name} must be a function`);
    functions.set(name, fn);
  }
  if (opts.defaultHook !== undefined && typeof opts.defaultHook !== 'function')
    throw new ProvisioningError('InvalidArgument', 'preProvisioningHook must be a function');
  const webhooks = new Map<string, PreProvisioningHook>();

  function failing(reason: string): PreProvisioningHook {
    return async () => {
      throw new HookCallError(reason);
    };
  }

  function webhook(target: string): PreProvisioningHook {
    if (opts.webhookSecret === undefined) return failing('the hook is a webhook but the server has no hook secret configured');
    let hook = webhooks.get(target);
    if (hook === undefined) {
      try {
        hook = createWebhookHook({
          url: target,
          secret: opts.webhookSecret,
          ...(opts.webhookCa !== undefined ? { ca: opts.webhookCa } : {}),
        });
      } catch {
        return failing('the hook target is not a valid http(s) URL');
      }
      if (webhooks.size >= MAX_CACHED_WEBHOOKS) webhooks.delete(webhooks.keys().next().value as string);
      webhooks.set(target, hook);
    }
    return hook;
  }

  return (template) => {
    const target = template.preProvisioningHook?.targetArn;
    if (target === undefined) return opts.defaultHook;
    if (isWebhookTarget(target)) return webhook(target);
    const direct = functions.get(target);
    if (direct !== undefined) return direct;
    const lambda = LAMBDA_ARN.exec(target);
    const byName = lambda?.[1] === undefined ? undefined : functions.get(lambda[1]);
    if (byName !== undefined) return byName;
    return failing(`no pre-provisioning hook ${JSON.stringify(target.slice(0, 128))} is registered on this server`);
  };
}
