/**
 * fleetprov-extension routes the console needs beyond AWS's API (SigV4 or a console session, like
 * every AWS operation; documented in docs/console.md):
 * - `GET  /fleetprov/stats`: counts (things, certificates by status, templates, policies) and
 *   provisioning requests per time bucket and outcome, from the event log;
 * - `GET  /fleetprov/console/events`: the provisioning event log, newest first, filtered;
 * - `POST /fleetprov/templates/validate`: a template body checked by the engine, the error at its JSON path;
 * - `POST /fleetprov/templates/render`: the provisioning plan of a body (or a stored template) for
 *   given parameters, against the registry's current things, changing nothing;
 * - `POST /fleetprov/policies/validate`: a policy document checked by the engine, the error at its JSON path;
 * - `POST /fleetprov/policies/simulate`: one request decided against stored policies and/or a draft document;
 * - `GET  /fleetprov/trust-anchor`: the root CA certificate devices trust, and the endpoint address
 *   (for the claim bundle);
 * - `POST /fleetprov/console/login-tokens`: a one-time login token for `fleetprov console-login`.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { CertificateStatus, EventOutcome, EventRow, Registry, TemplateType } from '../../registry/index.js';
import type { ConsoleSessions } from '../../console/sessions.js';
import { parseTemplate, planProvisioning, resolveTemplate, TemplateError } from '../../templates/index.js';
import { parsePolicy, PolicyCache, PolicyError } from '../../policy/index.js';
import type { NamedPolicy, PolicyContext } from '../../policy/types.js';
import { existingThing } from '../../provisioning/register-thing.js';
import { PROVISIONING_EVENT_TYPE } from '../../provisioning/request-scope.js';
import { ApiError, invalidRequest, resourceNotFound } from '../errors.js';
import {
  ATTRIBUTES,
  CERTIFICATE_ID,
  object,
  oneOf,
  POLICY_NAME,
  present,
  query,
  QUERY_INTEGER,
  queryInteger,
  RESOURCE_NAME,
  TEMPLATE_NAME,
  text,
  type Schema,
} from '../routes/schemas.js';
import type { RouteOptions } from '../routes/shared.js';

const TEMPLATE_TYPES: readonly TemplateType[] = ['FLEET_PROVISIONING', 'JITP'];
const OUTCOMES: readonly EventOutcome[] = ['accepted', 'rejected', 'info'];
const TEMPLATE_BODY = text(10240, 1);
const POLICY_DOCUMENT = text(1024 * 1024, 1);
const ACTION: Schema = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  pattern: '^[A-Za-z0-9:*]+$',
  description: 'an action like iot:Publish',
};
const TEXT_256 = text(256);
const RESOURCE = text(2048, 1);
/** Most stored policies one simulation may name. */
const MAX_SIMULATED_POLICIES = 10;
/** Most templates or policies counted by /fleetprov/stats (counting stops there). */
const MAX_COUNTED = 10_000;

/** An engine error as the console shows it: where (JSON path) and what. */
interface EngineErrorView {
  code: string;
  /** JSON path of the problem; `''` for the whole document. */
  path: string;
  /** The engine's message (with the path). */
  message: string;
  /** The message without the path. */
  detail: string;
}

function templateErrorView(err: TemplateError): EngineErrorView {
  const prefix = `${err.path}: `;
  const detail = err.path !== '' && err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  return { code: err.code, path: err.path, message: err.message, detail };
}

function policyErrorView(err: PolicyError): EngineErrorView {
  return { code: err.code, path: err.path, message: err.message, detail: err.detail };
}

/** Counts the items of a paged list (up to {@link MAX_COUNTED}); `capped` when counting stopped. */
async function countPaged<T>(
  list: (next?: string) => Promise<{ items: T[]; next?: string }>,
  keep: (item: T) => boolean = () => true,
): Promise<{ count: number; capped: boolean }> {
  let count = 0;
  let next: string | undefined;
  do {
    const page = await list(next);
    count += page.items.filter(keep).length;
    next = page.next;
  } while (next !== undefined && count < MAX_COUNTED);
  return { count, capped: next !== undefined };
}

function eventView(e: EventRow): object {
  return {
    id: e.id,
    at: e.at / 1000,
    type: e.type,
    operation: e.operation,
    templateName: e.templateName,
    certificateId: e.certificateId,
    thingName: e.thingName,
    clientId: e.clientId,
    outcome: e.outcome,
    errorCode: e.errorCode,
    message: e.message,
    details: e.details,
  };
}

async function storedPolicies(registry: Registry, names: readonly string[]): Promise<NamedPolicy[]> {
  const out: NamedPolicy[] = [];
  for (const name of names) {
    const policy = await registry.policies.get(name);
    if (policy === null) throw resourceNotFound(`The policy ${JSON.stringify(name)} does not exist.`);
    out.push({ policyName: policy.name, version: policy.defaultVersionId, document: policy.document });
  }
  return out;
}

/** Options of {@link consoleExtensionRoutes}. */
export interface ConsoleExtensionRouteOptions extends RouteOptions {
  /** The console's sessions (for login tokens). */
  sessions: ConsoleSessions;
}

/** The console's fleetprov-extension routes, as a Fastify plugin. */
export const consoleExtensionRoutes: FastifyPluginAsync<ConsoleExtensionRouteOptions> = async (app, { context: ctx, sessions }) => {
  const { registry } = ctx;
  const policyCache = new PolicyCache();

  app.get<{ Querystring: { windowSeconds?: string; bucketSeconds?: string } }>(
    '/fleetprov/stats',
    { schema: { querystring: query({ windowSeconds: QUERY_INTEGER, bucketSeconds: QUERY_INTEGER }) } },
    async (request) => {
      const windowSeconds = queryInteger(request.query.windowSeconds, 'windowSeconds', 60, 7 * 86_400) ?? 3600;
      const bucketSeconds = queryInteger(request.query.bucketSeconds, 'bucketSeconds', 1, 86_400) ?? 60;
      if (windowSeconds / bucketSeconds > 3600) throw invalidRequest('windowSeconds / bucketSeconds must be at most 3600 buckets.');
      const nowMs = ctx.now().getTime();
      const bucketMs = bucketSeconds * 1000;
      const since = Math.floor((nowMs - windowSeconds * 1000) / bucketMs) * bucketMs;
      const [things, certificates, withHidden, buckets, templates, enabledTemplates, policies] = await Promise.all([
        registry.things.count(),
        registry.certificates.countByStatus(),
        registry.certificates.countByStatus({ includeHidden: true }),
        registry.events.count({ since, bucketMs, types: [PROVISIONING_EVENT_TYPE] }),
        countPaged((next) =>
          registry.templates
            .list({ maxResults: 250, ...(next === undefined ? {} : { nextToken: next }) })
            .then((p) => ({ items: p.items, next: p.nextToken })),
        ),
        countPaged(
          (next) =>
            registry.templates
              .list({ maxResults: 250, ...(next === undefined ? {} : { nextToken: next }) })
              .then((p) => ({ items: p.items, next: p.nextToken })),
          (t) => t.enabled,
        ),
        countPaged((next) =>
          registry.policies
            .list({ pageSize: 250, ...(next === undefined ? {} : { marker: next }) })
            .then((p) => ({ items: p.items, next: p.nextMarker })),
        ),
      ]);
      const temporaryClaims = Object.fromEntries(
        Object.entries(withHidden).map(([status, n]) => [status, n - (certificates[status as CertificateStatus] ?? 0)]),
      );
      return {
        now: nowMs / 1000,
        things,
        certificatesByStatus: certificates,
        temporaryClaimCertificates: Object.values(temporaryClaims).reduce((a, b) => a + b, 0),
        templates: { total: templates.count, enabled: enabledTemplates.count, capped: templates.capped },
        policies: { total: policies.count, capped: policies.capped },
        provisioning: {
          since: since / 1000,
          bucketSeconds,
          buckets: buckets.map((b) => ({ start: b.start / 1000, outcome: b.outcome, count: b.count })),
        },
      };
    },
  );

  app.get('/fleetprov/trust-anchor', async () => ({ rootCertificatePem: ctx.ca.rootCertificatePem, endpointAddress: ctx.endpointAddress }));

  app.get<{
    Querystring: {
      limit?: string;
      beforeId?: string;
      outcome?: EventOutcome;
      thingName?: string;
      certificateId?: string;
      templateName?: string;
    };
  }>(
    '/fleetprov/console/events',
    {
      schema: {
        querystring: query({
          limit: QUERY_INTEGER,
          beforeId: QUERY_INTEGER,
          outcome: oneOf(OUTCOMES),
          thingName: RESOURCE_NAME,
          certificateId: CERTIFICATE_ID,
          templateName: TEMPLATE_NAME,
        }),
      },
    },
    async (request) => {
      const q = request.query;
      const limit = queryInteger(q.limit, 'limit', 1, 1000) ?? 50;
      const beforeId = queryInteger(q.beforeId, 'beforeId', 1, Number.MAX_SAFE_INTEGER);
      const { outcome, thingName, templateName } = q;
      const certificateId = q.certificateId?.toLowerCase();
      const events = await registry.events.list({
        newestFirst: true,
        // One more than asked tells whether another page follows (within the registry's 1000).
        limit: Math.min(limit + 1, 1000),
        ...(beforeId === undefined ? {} : { beforeId }),
        ...(outcome === undefined ? {} : { outcome }),
        ...(thingName === undefined ? {} : { thingName }),
        ...(certificateId === undefined ? {} : { certificateId }),
        ...(templateName === undefined ? {} : { templateName }),
      });
      const page = events.slice(0, limit);
      const more = page.length > 0 && (events.length > limit || page.length === 1000);
      return { events: page.map(eventView), ...(more ? { nextBeforeId: page[page.length - 1]!.id } : {}) };
    },
  );

  app.post<{ Body: { templateBody: string; type?: TemplateType | null } }>(
    '/fleetprov/templates/validate',
    { schema: { body: object({ templateBody: TEMPLATE_BODY, type: oneOf(TEMPLATE_TYPES) }, ['templateBody']) } },
    async (request) => {
      const templateBody = request.body.templateBody;
      const type = request.body.type ?? 'FLEET_PROVISIONING';
      try {
        const parsed = parseTemplate(templateBody, { type });
        return { valid: true, parameters: parsed.parameterNames, extensionsUsed: parsed.extensionsUsed, warnings: parsed.warnings };
      } catch (err) {
        if (err instanceof TemplateError) return { valid: false, error: templateErrorView(err) };
        throw err;
      }
    },
  );

  app.post<{
    Body: {
      templateBody?: string | null;
      type?: TemplateType | null;
      templateName?: string | null;
      parameters?: Record<string, string> | null;
      certificateId?: string | null;
    };
  }>(
    '/fleetprov/templates/render',
    {
      schema: {
        body: object({
          templateBody: TEMPLATE_BODY,
          type: oneOf(TEMPLATE_TYPES),
          templateName: TEMPLATE_NAME,
          parameters: ATTRIBUTES,
          certificateId: CERTIFICATE_ID,
        }),
      },
    },
    async (request) => {
      const body = request.body;
      let templateBody = present(body.templateBody);
      let type = present(body.type);
      const templateName = present(body.templateName);
      if ((templateBody === undefined) === (templateName === undefined))
        throw invalidRequest('Give exactly one of templateBody and templateName.');
      if (templateName !== undefined) {
        const stored = await registry.templates.get(templateName);
        if (stored === null) throw resourceNotFound(`The provisioning template ${JSON.stringify(templateName)} does not exist.`);
        templateBody = stored.body;
        type ??= stored.type;
      }
      const parameters = body.parameters ?? {};
      const certificateId = (body.certificateId ?? '0'.repeat(64)).toLowerCase();
      try {
        const parsed = parseTemplate(templateBody!, { type: type ?? 'FLEET_PROVISIONING' });
        const resolved = resolveTemplate(parsed, { parameters, certificate: { certificateId } });
        const existing = resolved.thing === undefined ? null : await existingThing(registry, resolved.thing.thingName);
        const plan = planProvisioning(resolved, existing);
        return { valid: true, plan, existingThing: existing !== null };
      } catch (err) {
        if (err instanceof TemplateError) return { valid: false, error: templateErrorView(err) };
        throw err;
      }
    },
  );

  app.post<{ Body: { policyDocument: string } }>(
    '/fleetprov/policies/validate',
    { schema: { body: object({ policyDocument: POLICY_DOCUMENT }, ['policyDocument']) } },
    async (request) => {
      const document = request.body.policyDocument;
      try {
        const parsed = parsePolicy(document);
        return { valid: true, statements: parsed.statements.length, warnings: parsed.warnings };
      } catch (err) {
        if (err instanceof PolicyError) return { valid: false, error: policyErrorView(err) };
        throw err;
      }
    },
  );

  app.post<{
    Body: {
      policyNames?: string[] | null;
      policyDocument?: string | null;
      draftPolicyName?: string | null;
      action: string;
      resource: string;
      clientId?: string | null;
      thingName?: string | null;
    };
  }>(
    '/fleetprov/policies/simulate',
    {
      schema: {
        body: object(
          {
            policyNames: { type: 'array', maxItems: MAX_SIMULATED_POLICIES, items: POLICY_NAME },
            policyDocument: POLICY_DOCUMENT,
            draftPolicyName: POLICY_NAME,
            action: ACTION,
            resource: RESOURCE,
            clientId: TEXT_256,
            thingName: RESOURCE_NAME,
          },
          ['action', 'resource'],
        ),
      },
    },
    async (request) => {
      const body = request.body;
      const policyNames = body.policyNames ?? [];
      const draft = present(body.policyDocument);
      const draftName = body.draftPolicyName ?? 'draft';
      if (policyNames.length === 0 && draft === undefined) throw invalidRequest('Give policyNames, a policyDocument, or both.');
      const action = body.action;
      const resourceText = body.resource;
      const clientId = present(body.clientId);
      const thingName = present(body.thingName);
      const policies = await storedPolicies(
        registry,
        policyNames.filter((n) => n !== draftName || draft === undefined),
      );
      if (draft !== undefined) {
        try {
          parsePolicy(draft);
        } catch (err) {
          if (err instanceof PolicyError) return { valid: false, error: policyErrorView(err) };
          throw err;
        }
        policies.push({ policyName: draftName, version: `draft-${policies.length}`, document: draft });
      }
      const context: PolicyContext = {};
      if (clientId !== undefined && clientId !== '') context.clientId = clientId;
      if (thingName !== undefined) {
        const thing = await registry.things.get(thingName);
        if (thing === null) throw resourceNotFound(`The thing ${JSON.stringify(thingName)} does not exist.`);
        context.thing = { thingName: thing.name, thingTypeName: thing.thingTypeName, attributes: thing.attributes, isAttached: true };
      }
      const resource = resourceText.replace(/^arn:[^:]*:iot:[^:]*:[^:]*:/, '');
      // Drafts change between calls: compile them outside the shared cache.
      const cache = draft === undefined ? policyCache : new PolicyCache();
      const decision = cache.compile(policies).authorize(action, resource, context);
      return {
        valid: true,
        decision: decision.allowed ? 'ALLOW' : 'DENY',
        decidingStatement: decision.decidingStatement ?? null,
        reason: decision.reason,
      };
    },
  );

  // A one-time login token for `fleetprov console-login`.
  app.post('/fleetprov/console/login-tokens', async (request) => {
    const who = request.awsAuth?.accessKeyId ?? request.sessionAuth?.accessKeyId;
    if (who === undefined) throw new ApiError('AccessDeniedException', 'Sign the request to mint a login token.');
    const { token, expiresAt } = sessions.mintLoginToken(who);
    request.log.info({ accessKeyId: who }, 'console login token minted');
    return { loginToken: token, expiresAt: expiresAt / 1000, loginPath: `/console/#login=${token}` };
  });
};
