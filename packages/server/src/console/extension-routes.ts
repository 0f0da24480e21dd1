/**
 * fleetprov-extension routes the console needs beyond AWS's API (SigV4 or a console session, like
 * every control-plane route; documented in docs/console.md):
 * - `GET  /fleetprov/stats`: counts (things, certificates by status, templates, policies) and
 *   provisioning requests per time bucket and outcome, from the event log;
 * - `GET  /fleetprov/console/events`: the provisioning event log, newest first, filtered;
 * - `POST /fleetprov/templates/validate`: a template body checked by the engine, the error at its JSON path;
 * - `POST /fleetprov/templates/render`: the provisioning plan of a body (or a stored template) for
 *   given parameters, against the registry's current things, changing nothing;
 * - `POST /fleetprov/policies/validate`: a policy document checked by the engine, the error at its JSON path;
 * - `POST /fleetprov/policies/simulate`: one request decided against stored policies and/or a draft document;
 * - `GET  /fleetprov/trust-anchor`: the root CA certificate devices trust, and the endpoint address
 *   (for the claim bundle).
 */
import type { CertificateStatus, EventOutcome, EventRow, Registry, TemplateType } from '../registry/index.js';
import type { ServiceContext } from '../service-context.js';
import type { ApiApp } from '../api/app.js';
import { invalidRequest, resourceNotFound } from '../api/errors.js';
import { operation } from '../api/routes/errors-map.js';
import {
  attributeMap,
  bodyObject,
  checkString,
  has,
  optionalEnum,
  optionalString,
  POLICY_NAME,
  queryEnum,
  queryInteger,
  queryString,
  RESOURCE_NAME,
  TEMPLATE_NAME,
  CERTIFICATE_ID,
  type StringRule,
} from '../api/routes/input.js';
import { parseTemplate, planProvisioning, resolveTemplate, TemplateError } from '../templates/index.js';
import { parsePolicy, PolicyCache, PolicyError } from '../policy/index.js';
import type { NamedPolicy, PolicyContext } from '../policy/types.js';
import { existingThing } from '../provisioning/register-thing.js';
import { PROVISIONING_EVENT_TYPE } from '../provisioning/request-scope.js';

const TEMPLATE_TYPES: readonly TemplateType[] = ['FLEET_PROVISIONING', 'JITP'];
const OUTCOMES: readonly EventOutcome[] = ['accepted', 'rejected', 'info'];
const TEMPLATE_BODY: StringRule = { min: 1, max: 10240 };
const POLICY_DOCUMENT: StringRule = { min: 1, max: 1024 * 1024 };
const ACTION: StringRule = { min: 1, max: 128, pattern: /^[A-Za-z0-9:*]+$/, patternText: 'an action like iot:Publish' };
const TEXT_256: StringRule = { max: 256 };
const RESOURCE: StringRule = { min: 1, max: 2048 };
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
async function countPaged<T>(list: (next?: string) => Promise<{ items: T[]; next?: string }>, keep: (item: T) => boolean = () => true): Promise<{ count: number; capped: boolean }> {
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

/** Registers the console's fleetprov-extension routes. */
export function registerConsoleExtensionRoutes(app: ApiApp, ctx: ServiceContext): void {
  const { registry } = ctx;
  const policyCache = new PolicyCache();

  app.get(
    '/fleetprov/stats',
    operation(async (request) => {
      const windowSeconds = queryInteger(request, 'windowSeconds', 60, 7 * 86_400) ?? 3600;
      const bucketSeconds = queryInteger(request, 'bucketSeconds', 1, 86_400) ?? 60;
      if (windowSeconds / bucketSeconds > 3600) throw invalidRequest('windowSeconds / bucketSeconds must be at most 3600 buckets.');
      const nowMs = ctx.now().getTime();
      const bucketMs = bucketSeconds * 1000;
      const since = Math.floor((nowMs - windowSeconds * 1000) / bucketMs) * bucketMs;
      const [things, certificates, withHidden, buckets, templates, enabledTemplates, policies] = await Promise.all([
        registry.things.count(),
        registry.certificates.countByStatus(),
        registry.certificates.countByStatus({ includeHidden: true }),
        registry.events.count({ since, bucketMs, types: [PROVISIONING_EVENT_TYPE] }),
        countPaged((next) => registry.templates.list({ maxResults: 250, ...(next === undefined ? {} : { nextToken: next }) }).then((p) => ({ items: p.items, next: p.nextToken }))),
        countPaged(
          (next) => registry.templates.list({ maxResults: 250, ...(next === undefined ? {} : { nextToken: next }) }).then((p) => ({ items: p.items, next: p.nextToken })),
          (t) => t.enabled,
        ),
        countPaged((next) => registry.policies.list({ pageSize: 250, ...(next === undefined ? {} : { marker: next }) }).then((p) => ({ items: p.items, next: p.nextMarker }))),
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
    }),
  );

  app.get(
    '/fleetprov/trust-anchor',
    operation(async () => ({ rootCertificatePem: ctx.ca.rootCertificatePem, endpointAddress: ctx.endpointAddress })),
  );

  app.get(
    '/fleetprov/console/events',
    operation(async (request) => {
      const limit = queryInteger(request, 'limit', 1, 1000) ?? 50;
      const beforeId = queryInteger(request, 'beforeId', 1, Number.MAX_SAFE_INTEGER);
      const outcome = queryEnum(request, 'outcome', OUTCOMES);
      const thingName = queryString(request, 'thingName', RESOURCE_NAME);
      const certificateId = queryString(request, 'certificateId', CERTIFICATE_ID)?.toLowerCase();
      const templateName = queryString(request, 'templateName', TEMPLATE_NAME);
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
    }),
  );

  app.post(
    '/fleetprov/templates/validate',
    operation(async (request) => {
      const body = bodyObject(request);
      const templateBody = checkString(body.templateBody, 'templateBody', TEMPLATE_BODY);
      const type = optionalEnum(body, 'type', TEMPLATE_TYPES) ?? 'FLEET_PROVISIONING';
      try {
        const parsed = parseTemplate(templateBody, { type });
        return { valid: true, parameters: parsed.parameterNames, extensionsUsed: parsed.extensionsUsed, warnings: parsed.warnings };
      } catch (err) {
        if (err instanceof TemplateError) return { valid: false, error: templateErrorView(err) };
        throw err;
      }
    }),
  );

  app.post(
    '/fleetprov/templates/render',
    operation(async (request) => {
      const body = bodyObject(request);
      let templateBody = optionalString(body, 'templateBody', TEMPLATE_BODY);
      let type = optionalEnum(body, 'type', TEMPLATE_TYPES);
      const templateName = optionalString(body, 'templateName', TEMPLATE_NAME);
      if ((templateBody === undefined) === (templateName === undefined)) throw invalidRequest('Give exactly one of templateBody and templateName.');
      if (templateName !== undefined) {
        const stored = await registry.templates.get(templateName);
        if (stored === null) throw resourceNotFound(`The provisioning template ${JSON.stringify(templateName)} does not exist.`);
        templateBody = stored.body;
        type ??= stored.type;
      }
      const parameters = has(body, 'parameters') ? attributeMap(body.parameters, 'parameters') : {};
      const certificateId = (optionalString(body, 'certificateId', CERTIFICATE_ID) ?? '0'.repeat(64)).toLowerCase();
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
    }),
  );

  app.post(
    '/fleetprov/policies/validate',
    operation(async (request) => {
      const document = checkString(bodyObject(request).policyDocument, 'policyDocument', POLICY_DOCUMENT);
      try {
        const parsed = parsePolicy(document);
        return { valid: true, statements: parsed.statements.length, warnings: parsed.warnings };
      } catch (err) {
        if (err instanceof PolicyError) return { valid: false, error: policyErrorView(err) };
        throw err;
      }
    }),
  );

  app.post(
    '/fleetprov/policies/simulate',
    operation(async (request) => {
      const body = bodyObject(request);
      const names = has(body, 'policyNames') ? body.policyNames : [];
      if (!Array.isArray(names) || names.length > MAX_SIMULATED_POLICIES) throw invalidRequest(`policyNames must be a list of at most ${MAX_SIMULATED_POLICIES} policy names.`);
      const policyNames = names.map((n, i) => checkString(n, `policyNames[${i}]`, POLICY_NAME));
      const draft = optionalString(body, 'policyDocument', POLICY_DOCUMENT);
      const draftName = optionalString(body, 'draftPolicyName', POLICY_NAME) ?? 'draft';
      if (policyNames.length === 0 && draft === undefined) throw invalidRequest('Give policyNames, a policyDocument, or both.');
      const action = checkString(body.action, 'action', ACTION);
      const resourceText = checkString(body.resource, 'resource', RESOURCE);
      const clientId = optionalString(body, 'clientId', TEXT_256);
      const thingName = optionalString(body, 'thingName', RESOURCE_NAME);
      const policies = await storedPolicies(registry, policyNames.filter((n) => n !== draftName || draft === undefined));
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
      return { valid: true, decision: decision.allowed ? 'ALLOW' : 'DENY', decidingStatement: decision.decidingStatement ?? null, reason: decision.reason };
    }),
  );
}
