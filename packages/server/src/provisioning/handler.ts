/**
 * The Fleet Provisioning route of the broker's topic router: {@link fleetProvisioningRequests}
 * recognises (and parses, once) the request topics; the handler runs the topic's operation, answers
 * on the matching `.../accepted` or `.../rejected` topic in the topic's format, and for every request
 * writes a log line and a provisioning event (accepted ones inside the operation's transaction).
 */
import { randomBytes } from 'node:crypto';
import {
  encodeErrorResponse,
  ERROR_STATUS_CODES,
  HOOK_TIMEOUT_MS,
  parseTopic,
  ProtocolError,
  replyTopic,
  type ErrorCode,
  type Operation,
  type ParsedTopic,
} from '@fleetprov/protocol';
import type { RouteHandler, RouteReply, RoutedRequest, TopicMatcher } from '../broker/index.js';
import { EXISTING_THING_POLICIES, type ExistingThingPolicy, type TemplateRow } from '../registry/index.js';
import { CertificateLimits, type CertificateLimitOptions } from './certificate-limits.js';
import type { ServiceContext } from '../service-context.js';
import { handleCreateCertificateFromCsr, handleCreateKeysAndCertificate } from './create-certificate.js';
import { ProvisioningError, rejection, ServiceRejection } from './errors.js';
import type { PreProvisioningHook } from './hook.js';
import { createHookResolver, type HookResolver } from './hook-resolver.js';
import { createOwnershipTokens, type OwnershipTokens } from './ownership-tokens.js';
import { handleRegisterThing, type RegistrationObserver } from './register-thing.js';
import { provisioningEvent, type RequestScope } from './request-scope.js';
import { TemplateCache } from './template-cache.js';
import { PrincipalThrottle, type ProvisioningThrottle, type ThrottleOptions } from './throttle.js';

/** Options of {@link createProvisioningHandler}. */
export interface ProvisioningHandlerOptions {
  /** Token service to use (e.g. shared with the control plane). Default: one created from the context. */
  tokens?: OwnershipTokens;
  /** Per-principal rate limit (default 50 requests/s, burst 100), or `false` for none. */
  throttle?: ThrottleOptions | false;
  /**
   * Builds the per-principal rate limit from the `throttle` options instead of an in-memory one, e.g.
   * one shared by the nodes of a cluster (cluster/throttle.ts).
   */
  throttleStore?: (options: { ratePerSecond: number; burst: number }) => ProvisioningThrottle;
  /**
   * Limits on the certificates one requesting certificate (a claim) may create, counted in the registry
   * (certificate-limits.ts): at most 500 PENDING_ACTIVATION at once and 10 per second (burst 50) by
   * default; `false` for none.
   */
  certificateLimits?: CertificateLimitOptions | false;
  /**
   * What RegisterThing does with an existing thing on templates without their own setting
   * (existing-thing.ts): `allow` (default, as AWS) or `owner`.
   */
  existingThingPolicy?: ExistingThingPolicy;
  /**
   * The server-wide pre-provisioning hook (docs/hooks-claims-events.md): called before RegisterThing's transaction for
   * every template WITHOUT a `preProvisioningHook` of its own (a template's own hook is resolved from
   * its targetArn instead; see hook-resolver.ts). Denial, failure or timeout → 403 AccessDenied,
   * nothing created.
   */
  preProvisioningHook?: PreProvisioningHook;
  /**
   * In-process hooks by name or ARN: a template whose `preProvisioningHook.targetArn` names one runs
   * it instead of `preProvisioningHook` (an http(s) URL runs a webhook; see hook-resolver.ts).
   */
  preProvisioningHooks?: Readonly<Record<string, PreProvisioningHook>>;
  /** HMAC key that signs webhook calls (see webhook.ts). Without it, webhook targets deny. */
  webhookSecret?: string;
  /** Extra CA certificates (PEM) trusted for https webhooks, besides Node's store. */
  webhookCa?: string | string[];
  /** Time the hook may take, ms. Default 5000 (AWS's hard limit). */
  hookTimeoutMs?: number;
  /** Called inside every accepted RegisterThing's transaction (certificate rotation bookkeeping). */
  onRegistered?: RegistrationObserver;
  /** Parsed templates kept in memory. Default 256. */
  templateCacheSize?: number;
  /** Called once per answered request, after its reply is ready (for metrics). Must not throw; errors are logged. */
  onOutcome?: (outcome: ProvisioningOutcome) => void;
  /** Called with the time the pre-provisioning hook took to answer, ms, each time it answers or fails (not while it hangs). */
  onPreProvisioningHookDuration?: (durationMs: number) => void;
}

/** What {@link ProvisioningHandlerOptions.onOutcome} receives. */
export interface ProvisioningOutcome {
  operation: Operation;
  /** RegisterThing only: the template name from the topic, as the device sent it (it may name no template). */
  templateName?: string;
  outcome: 'accepted' | 'rejected';
  /** Rejections only. */
  errorCode?: ErrorCode;
  /** From the start of handling to the reply being ready, ms. */
  durationMs: number;
}

/**
 * The Fleet Provisioning request topics (`$aws/certificates/create/<format>`,
 * `$aws/certificates/create-from-csr/<format>`, `$aws/provisioning-templates/<name>/provision/<format>`),
 * parsed with the protocol package's topic parser. Reply topics are not requests (clients may only
 * subscribe to them), and a will message may not be a request.
 */
export const fleetProvisioningRequests: TopicMatcher<ParsedTopic> = {
  description: 'Fleet Provisioning request',
  allowsWill: false,
  match(topic) {
    const parsed = parseTopic(topic);
    return parsed !== null && parsed.kind === 'request' ? parsed : null;
  },
};

/** Throttled requests of one principal produce at most one event and one warning per this many ms. */
const THROTTLE_REPORT_INTERVAL_MS = 1000;

/** What a rejected request is turned into. */
interface Refusal {
  code: ErrorCode;
  message: string;
  /** The error to log when it differs from the message (internal failures). */
  cause?: unknown;
  /** Facts for the event's details (a {@link ServiceRejection}'s `details`). */
  details?: Readonly<Record<string, unknown>>;
}

/** A device-facing refusal from anything an operation threw; internal details never leave the server. */
function toRefusal(err: unknown): Refusal {
  const cause = err instanceof ProtocolError && err.cause !== undefined ? { cause: err.cause } : {};
  const details = err instanceof ServiceRejection && err.details !== undefined ? { details: err.details } : {};
  if (err instanceof ProtocolError && err.code !== 'InternalFailure') return { code: err.code, message: err.message, ...cause, ...details };
  const reference = randomBytes(6).toString('hex');
  if (err instanceof ServiceRejection)
    return { code: 'InternalFailure', message: `${err.message} (reference ${reference})`, cause: err.cause ?? err };
  return {
    code: 'InternalFailure',
    message: `the server failed to process the request (reference ${reference}); retry later and report the reference if it persists`,
    cause: err,
  };
}

function checkOptions(opts: ProvisioningHandlerOptions): void {
  if (typeof opts !== 'object' || opts === null) throw new ProvisioningError('InvalidArgument', 'options must be an object');
  for (const name of ['preProvisioningHook', 'onOutcome', 'onPreProvisioningHookDuration', 'onRegistered'] as const) {
    if (opts[name] !== undefined && typeof opts[name] !== 'function')
      throw new ProvisioningError('InvalidArgument', `${name} must be a function`);
  }
  if (opts.existingThingPolicy !== undefined && !EXISTING_THING_POLICIES.includes(opts.existingThingPolicy)) {
    throw new ProvisioningError('InvalidArgument', `existingThingPolicy must be one of ${EXISTING_THING_POLICIES.join(', ')}`);
  }
  const timeout = opts.hookTimeoutMs;
  if (timeout !== undefined && (!Number.isInteger(timeout) || timeout < 1 || timeout > 600_000)) {
    throw new ProvisioningError('InvalidArgument', 'hookTimeoutMs must be an integer from 1 to 600000');
  }
}

/**
 * Creates the handler of the {@link fleetProvisioningRequests} route: the broker calls it for every
 * PUBLISH to a Fleet Provisioning request topic that `iot:Publish` allowed. Reads (or creates) the
 * ownership-token key from the registry settings first.
 * @throws {ProvisioningError} `InvalidArgument` for bad options, `InvalidTokenKey` for a malformed stored key
 */
export async function createProvisioningHandler(
  ctx: ServiceContext,
  opts: ProvisioningHandlerOptions = {},
): Promise<RouteHandler<ParsedTopic>> {
  checkOptions(opts);
  const tokens = opts.tokens ?? (await createOwnershipTokens(ctx));
  const throttle: ProvisioningThrottle | null = createThrottle(opts);
  const templates = new TemplateCache(opts.templateCacheSize);
  const log = ctx.logger.child({ component: 'provisioning' });
  const lastThrottleReport = new Map<string, { at: number; suppressed: number }>();
  const limits = opts.certificateLimits === false ? null : new CertificateLimits(opts.certificateLimits ?? {});
  const certificateDeps = { ctx, tokens, limits: limits?.disabled === true ? null : limits };
  const hooks: HookResolver = createHookResolver({
    ...(opts.preProvisioningHook !== undefined ? { defaultHook: opts.preProvisioningHook } : {}),
    ...(opts.preProvisioningHooks !== undefined ? { functions: opts.preProvisioningHooks } : {}),
    ...(opts.webhookSecret !== undefined ? { webhookSecret: opts.webhookSecret } : {}),
    ...(opts.webhookCa !== undefined ? { webhookCa: opts.webhookCa } : {}),
  });
  const registerDeps = {
    ctx,
    tokens,
    templates,
    resolveHook: (template: TemplateRow) => timedHook(hooks(template)),
    hookTimeoutMs: opts.hookTimeoutMs ?? HOOK_TIMEOUT_MS,
    onRegistered: opts.onRegistered,
    existingThingPolicy: opts.existingThingPolicy ?? 'allow',
  };

  /** The hook, reporting its duration to `onPreProvisioningHookDuration` when that is set. */
  function timedHook(hook: PreProvisioningHook | undefined): PreProvisioningHook | undefined {
    const report = opts.onPreProvisioningHookDuration;
    if (hook === undefined || report === undefined) return hook;
    return async (event, context) => {
      const start = performance.now();
      try {
        return await hook(event, context);
      } finally {
        notify(() => report(performance.now() - start), 'onPreProvisioningHookDuration');
      }
    };
  }

  /** Runs a caller's callback; a throwing callback is logged, never fails the request. */
  function notify(call: () => void, name: string): void {
    try {
      call();
    } catch (err) {
      log.error({ err }, `the ${name} callback threw`);
    }
  }

  function reportOutcome(scope: RequestScope, errorCode?: ErrorCode): void {
    const onOutcome = opts.onOutcome;
    if (onOutcome === undefined) return;
    const outcome: ProvisioningOutcome = {
      operation: scope.operation,
      ...(scope.templateName !== undefined ? { templateName: scope.templateName } : {}),
      outcome: errorCode === undefined ? 'accepted' : 'rejected',
      ...(errorCode !== undefined ? { errorCode } : {}),
      durationMs: performance.now() - scope.startedAt,
    };
    notify(() => onOutcome(outcome), 'onOutcome');
  }

  function run(topic: ParsedTopic, scope: RequestScope): Promise<Buffer> {
    switch (topic.operation) {
      case 'CreateKeysAndCertificate':
        return handleCreateKeysAndCertificate(certificateDeps, scope);
      case 'CreateCertificateFromCsr':
        return handleCreateCertificateFromCsr(certificateDeps, scope);
      case 'RegisterThing':
        return handleRegisterThing(registerDeps, scope, topic.templateName);
    }
  }

  /** Whether to report this throttled request (event + warning), and how many were silenced before it. */
  function throttleReport(principalId: string): { report: boolean; suppressed: number } {
    const now = performance.now();
    const last = lastThrottleReport.get(principalId);
    if (last !== undefined && now - last.at < THROTTLE_REPORT_INTERVAL_MS) {
      last.suppressed++;
      return { report: false, suppressed: 0 };
    }
    lastThrottleReport.delete(principalId);
    lastThrottleReport.set(principalId, { at: now, suppressed: 0 });
    if (lastThrottleReport.size > 10_000) lastThrottleReport.delete(lastThrottleReport.keys().next().value as string);
    return { report: true, suppressed: last?.suppressed ?? 0 };
  }

  async function reject(topic: ParsedTopic, scope: RequestScope, refusal: Refusal): Promise<RouteReply> {
    const reply: RouteReply = {
      topic: replyTopic(topic.operation, topic.format, 'rejected', scope.templateName),
      payload: encodeErrorResponse(topic.format, {
        statusCode: ERROR_STATUS_CODES[refusal.code],
        errorCode: refusal.code,
        errorMessage: refusal.message,
      }),
    };
    let report = true;
    let suppressed = 0;
    if (refusal.code === 'Throttling') ({ report, suppressed } = throttleReport(scope.principalId));
    if (!report) return reply;
    const fields = {
      operation: scope.operation,
      template: scope.templateName,
      clientId: scope.clientId,
      principal: scope.principalId,
      certificateId: scope.certificateId,
      errorCode: refusal.code,
      ...(refusal.code === 'InternalFailure' || refusal.cause instanceof Error ? { err: refusal.cause } : {}),
    };
    const line = `${scope.operation} from client ${JSON.stringify(scope.clientId)} rejected (${refusal.code}): ${refusal.message}`;
    if (refusal.code === 'InternalFailure') log.error(fields, line);
    else log.warn(fields, line);
    try {
      await ctx.registry.events.append(
        provisioningEvent(scope, 'rejected', refusal.message, {
          errorCode: refusal.code,
          at: ctx.now().getTime(),
          details: {
            ...refusal.details,
            statusCode: ERROR_STATUS_CODES[refusal.code],
            ...(suppressed > 0 ? { throttledSinceLastEvent: suppressed } : {}),
          },
        }),
      );
    } catch (eventErr) {
      log.error({ err: eventErr, operation: scope.operation }, `could not record the rejection of ${scope.operation} in the event log`);
    }
    return reply;
  }

  return async function onProvisioningRequest(req: RoutedRequest<ParsedTopic>): Promise<RouteReply | null> {
    const topic = req.parsed;
    const scope: RequestScope = {
      operation: topic.operation,
      format: topic.format,
      ...(topic.operation === 'RegisterThing' ? { templateName: topic.templateName } : {}),
      payload: req.payload,
      principalId: req.principal.certificateId,
      clientId: req.clientId,
      startedAt: performance.now(),
    };
    try {
      const wait = throttle === null ? 0 : await throttle.take(scope.principalId);
      if (wait > 0 && throttle !== null) {
        throw rejection(
          'Throttling',
          `rate exceeded: at most ${throttle.ratePerSecond} provisioning requests per second (burst ${throttle.burst}) per certificate; retry in ${wait} ms`,
        );
      }
      const payload = await run(topic, scope);
      log.info(
        {
          operation: scope.operation,
          template: scope.templateName,
          clientId: scope.clientId,
          principal: scope.principalId,
          certificateId: scope.certificateId,
          thingName: scope.thingName,
        },
        `${scope.operation} from client ${JSON.stringify(scope.clientId)} accepted${scope.thingName ? `: thing ${scope.thingName}` : ''}${scope.certificateId ? `, certificate ${scope.certificateId}` : ''}`,
      );
      reportOutcome(scope);
      return { topic: replyTopic(topic.operation, topic.format, 'accepted', scope.templateName), payload };
    } catch (err) {
      const refusal = toRefusal(err);
      const reply = await reject(topic, scope, refusal);
      reportOutcome(scope, refusal.code);
      return reply;
    }
  };
}

/** The handler's rate limit: none, in memory, or built by `throttleStore` with the same (checked) rate and burst. */
function createThrottle(opts: ProvisioningHandlerOptions): ProvisioningThrottle | null {
  if (opts.throttle === false) return null;
  const local = new PrincipalThrottle(opts.throttle ?? {});
  return opts.throttleStore === undefined ? local : opts.throttleStore({ ratePerSecond: local.ratePerSecond, burst: local.burst });
}
