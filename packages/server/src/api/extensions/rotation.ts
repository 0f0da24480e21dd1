/**
 * fleetprov's control-plane extension for certificate rotation (docs/rotation.md), under
 * `/fleetprov/` so it can never collide with an AWS operation. SigV4-signed (or a console session) like every
 * AWS operation:
 *
 * - `GET /fleetprov/certificates/expiring?days=N` — ACTIVE certificates whose notAfter is within N days (or past);
 * - `GET /fleetprov/rotations?state=&thingName=` — rotations (paginated with nextToken/maxResults);
 * - `GET /fleetprov/rotations/due?days=N` — certificates the rotation policies make due within N days;
 * - `POST /fleetprov/things/{thingName}/rotation` — request a rotation (idempotent while one is open);
 * - `GET|PUT|DELETE /fleetprov/rotation-policies/{template|thing-group}/{name}`, `GET /fleetprov/rotation-policies`.
 */
import type { FastifyPluginAsync } from 'fastify';
import {
  ROTATION_STATES,
  type RotationPolicyRow,
  type RotationPolicyTargetType,
  type RotationRow,
  type RotationState,
} from '../../registry/index.js';
import type { RotationService } from '../../rotation/index.js';
import { invalidRequest, resourceNotFound } from '../errors.js';
import {
  BOOLEAN,
  integer,
  object,
  oneOf,
  params,
  present,
  query,
  QUERY_INTEGER,
  queryInteger,
  RESOURCE_NAME,
  TEMPLATE_NAME,
  TOKEN_PAGING,
  tokenPage,
  type TokenPagingQuery,
} from '../routes/schemas.js';
import { compact, epochSeconds, quoteValue, type RouteOptions } from '../routes/shared.js';

/** Options of {@link rotationRoutes}. */
export interface RotationRouteOptions extends RouteOptions {
  rotation: RotationService;
}

const DAY_MS = 86_400_000;
const TARGET_TYPES: readonly RotationPolicyTargetType[] = ['template', 'thing-group'];
/** Largest look-ahead of the expiring and due lists, days (100 years). */
const MAX_DAYS = 36_600;

function rotationJson(r: RotationRow): Record<string, unknown> {
  return compact({
    rotationId: r.id,
    thingName: r.thingName,
    state: r.state,
    reason: r.reason,
    oldCertificateId: r.oldCertificateId,
    newCertificateId: r.newCertificateId,
    templateName: r.templateName,
    retireStatus: r.retireStatus,
    graceSeconds: r.graceMs / 1000,
    requestedAt: epochSeconds(r.requestedAt),
    issuedAt: r.issuedAt === null ? null : epochSeconds(r.issuedAt),
    acknowledgedAt: r.acknowledgedAt === null ? null : epochSeconds(r.acknowledgedAt),
    retireAfter: r.retireAfter === null ? null : epochSeconds(r.retireAfter),
    retiredAt: r.retiredAt === null ? null : epochSeconds(r.retiredAt),
    supersededCertificateIds: r.superseded,
    notifiedAt: r.notifiedAt === null ? null : epochSeconds(r.notifiedAt),
  });
}

function policyJson(p: RotationPolicyRow): Record<string, unknown> {
  return compact({
    targetType: p.targetType,
    targetName: p.targetName,
    maxAgeDays: p.maxAgeDays,
    renewBeforeDays: p.renewBeforeDays,
    rotationTemplate: p.rotationTemplate,
    graceSeconds: p.graceSeconds,
    retireStatus: p.retireStatus,
    allowExpiredRecovery: p.allowExpiredRecovery,
    recoveryWindowDays: p.recoveryWindowDays,
    createdAt: epochSeconds(p.createdAt),
    modifiedAt: epochSeconds(p.modifiedAt),
  });
}

const DAYS_QUERY = query({ days: QUERY_INTEGER });
const POLICY_PARAMS = params({ targetType: oneOf(TARGET_TYPES), targetName: RESOURCE_NAME });

interface PolicyParams {
  targetType: RotationPolicyTargetType;
  targetName: string;
}

/** The rotation extension routes, as a Fastify plugin. */
export const rotationRoutes: FastifyPluginAsync<RotationRouteOptions> = async (app, { context: ctx, rotation }) => {
  const { registry } = ctx;

  app.get<{ Querystring: { days?: string } }>(
    '/fleetprov/certificates/expiring',
    { schema: { querystring: DAYS_QUERY } },
    async (request) => {
      const days = queryInteger(request.query.days, 'days', 0, MAX_DAYS) ?? 30;
      const now = ctx.now().getTime();
      const certificates: Record<string, unknown>[] = [];
      let marker: string | undefined;
      do {
        const page = await registry.certificates.listExpiring(now + days * DAY_MS, {
          pageSize: 250,
          ...(marker === undefined ? {} : { marker }),
        });
        for (const c of page.items) {
          const things = (await registry.thingPrincipals.listForPrincipal(c.id, { maxResults: 250 })).items.map((t) => t.thingName);
          const open = await registry.rotations.getOpen(c.id);
          certificates.push(
            compact({
              certificateId: c.id,
              certificateArn: c.arn,
              status: c.status,
              notAfter: epochSeconds(c.notAfter),
              expired: c.notAfter <= now,
              daysLeft: Math.floor((c.notAfter - now) / DAY_MS),
              thingNames: things,
              rotationState: open?.state ?? null,
            }),
          );
        }
        marker = page.nextMarker;
      } while (marker !== undefined && certificates.length < 10_000);
      return { certificates };
    },
  );

  app.get<{ Querystring: TokenPagingQuery & { state?: RotationState; thingName?: string } }>(
    '/fleetprov/rotations',
    { schema: { querystring: query({ ...TOKEN_PAGING, state: oneOf(ROTATION_STATES), thingName: RESOURCE_NAME }) } },
    async (request) => {
      const { state, thingName } = request.query;
      const page = await registry.rotations.list({
        ...tokenPage(request.query),
        ...(state === undefined ? {} : { states: [state] }),
        ...(thingName === undefined ? {} : { thingName }),
      });
      return compact({ rotations: page.items.map(rotationJson), nextToken: page.nextToken });
    },
  );

  app.get<{ Querystring: { days?: string } }>('/fleetprov/rotations/due', { schema: { querystring: DAYS_QUERY } }, async (request) => {
    const days = queryInteger(request.query.days, 'days', 0, MAX_DAYS) ?? 0;
    const due = await rotation.dueCertificates(days * DAY_MS);
    const now = ctx.now().getTime();
    return {
      certificates: due.map((d) =>
        compact({
          certificateId: d.certificateId,
          thingName: d.thingName,
          reason: d.reason,
          dueAt: epochSeconds(d.dueAt),
          due: d.dueAt <= now,
          overdue: d.overdue,
          notBefore: epochSeconds(d.notBefore),
          notAfter: epochSeconds(d.notAfter),
          policy: d.policy,
          rotationState: d.rotation?.state ?? null,
        }),
      ),
    };
  });

  app.post<{ Params: { thingName: string }; Body: { templateName?: string | null } }>(
    '/fleetprov/things/:thingName/rotation',
    { schema: { params: params({ thingName: RESOURCE_NAME }), body: object({ templateName: TEMPLATE_NAME }) } },
    async (request) => {
      const thingName = request.params.thingName;
      const templateName = present(request.body.templateName);
      if (templateName !== undefined && (await registry.templates.get(templateName)) === null) {
        throw resourceNotFound(`The provisioning template ${quoteValue(templateName)} does not exist.`);
      }
      const rotations = await rotation.request(thingName, { reason: 'operator', ...(templateName === undefined ? {} : { templateName }) });
      return { rotations: rotations.map(rotationJson) };
    },
  );

  app.get('/fleetprov/rotation-policies', async () => ({ policies: (await registry.rotations.listPolicies()).map(policyJson) }));

  app.get<{ Params: PolicyParams }>(
    '/fleetprov/rotation-policies/:targetType/:targetName',
    { schema: { params: POLICY_PARAMS } },
    async (request) => {
      const { targetType, targetName } = request.params;
      const policy = await registry.rotations.getPolicy(targetType, targetName);
      if (policy === null) throw resourceNotFound(`No rotation policy for ${targetType} ${quoteValue(targetName)}.`);
      return policyJson(policy);
    },
  );

  app.put<{
    Params: PolicyParams;
    Body: {
      maxAgeDays?: number | null;
      renewBeforeDays?: number | null;
      rotationTemplate?: string | null;
      allowExpiredRecovery?: boolean | null;
      graceSeconds?: number | null;
      retireStatus?: 'INACTIVE' | 'REVOKED' | null;
      recoveryWindowDays?: number | null;
    };
  }>(
    '/fleetprov/rotation-policies/:targetType/:targetName',
    {
      schema: {
        params: POLICY_PARAMS,
        body: object({
          maxAgeDays: integer(1, MAX_DAYS),
          renewBeforeDays: integer(1, MAX_DAYS),
          rotationTemplate: TEMPLATE_NAME,
          allowExpiredRecovery: BOOLEAN,
          graceSeconds: integer(0, 366 * 86_400),
          retireStatus: oneOf(['INACTIVE', 'REVOKED']),
          recoveryWindowDays: integer(1, MAX_DAYS),
        }),
      },
    },
    async (request) => {
      const { targetType, targetName } = request.params;
      const body = request.body;
      const maxAgeDays = present(body.maxAgeDays);
      const renewBeforeDays = present(body.renewBeforeDays);
      if (maxAgeDays === undefined && renewBeforeDays === undefined)
        throw invalidRequest('Give maxAgeDays, renewBeforeDays or both: a rotation policy needs a rule.');
      const rotationTemplate = present(body.rotationTemplate);
      if (rotationTemplate !== undefined && (await registry.templates.get(rotationTemplate)) === null) {
        throw resourceNotFound(`The provisioning template ${quoteValue(rotationTemplate)} does not exist.`);
      }
      const allowExpiredRecovery = present(body.allowExpiredRecovery);
      if (allowExpiredRecovery === true && targetType !== 'template')
        throw invalidRequest('allowExpiredRecovery is only allowed on template policies.');
      const policy = await registry.rotations.putPolicy({
        targetType,
        targetName,
        maxAgeDays: maxAgeDays ?? null,
        renewBeforeDays: renewBeforeDays ?? null,
        rotationTemplate: rotationTemplate ?? null,
        graceSeconds: body.graceSeconds ?? null,
        retireStatus: body.retireStatus ?? 'INACTIVE',
        allowExpiredRecovery: allowExpiredRecovery ?? false,
        recoveryWindowDays: body.recoveryWindowDays ?? null,
      });
      return policyJson(policy);
    },
  );

  app.delete<{ Params: PolicyParams }>(
    '/fleetprov/rotation-policies/:targetType/:targetName',
    { schema: { params: POLICY_PARAMS } },
    async (request) => {
      const { targetType, targetName } = request.params;
      if (!(await registry.rotations.deletePolicy(targetType, targetName)))
        throw resourceNotFound(`No rotation policy for ${targetType} ${quoteValue(targetName)}.`);
      return {};
    },
  );
};
