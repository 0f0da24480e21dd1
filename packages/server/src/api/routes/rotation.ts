/**
 * fleetprov's control-plane extension for certificate rotation (docs/rotation.md), under
 * `/fleetprov/` so it can never collide with an AWS operation. SigV4-signed like every route:
 *
 * - `GET /fleetprov/certificates/expiring?days=N` — ACTIVE certificates whose notAfter is within N days (or past);
 * - `GET /fleetprov/rotations?state=&thingName=` — rotations (paginated with nextToken/maxResults);
 * - `GET /fleetprov/rotations/due?days=N` — certificates the rotation policies make due within N days;
 * - `POST /fleetprov/things/{thingName}/rotation` — request a rotation (idempotent while one is open);
 * - `GET|PUT|DELETE /fleetprov/rotation-policies/{template|thing-group}/{name}`, `GET /fleetprov/rotation-policies`.
 */
import type { FastifyRequest } from 'fastify';
import { ROTATION_STATES, type RotationPolicyRow, type RotationPolicyTargetType, type RotationRow } from '../../registry/index.js';
import { RotationError, type RotationService } from '../../rotation/index.js';
import type { ServiceContext } from '../../service-context.js';
import type { ApiApp } from '../app.js';
import { ApiError, invalidRequest, resourceNotFound } from '../errors.js';
import { operation } from './errors-map.js';
import {
  bodyObject,
  checkEnum,
  optionalBoolean,
  optionalEnum,
  optionalInteger,
  optionalString,
  pathParam,
  queryEnum,
  queryInteger,
  queryString,
  quoteValue,
  RESOURCE_NAME,
  TEMPLATE_NAME,
  tokenPageRequest,
} from './input.js';
import { compact, epochSeconds } from './shared.js';

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

function rotationErrorToApi(err: unknown): unknown {
  if (!(err instanceof RotationError)) return err;
  if (err.code === 'NotFound') return resourceNotFound(err.message);
  if (err.code === 'Conflict') return new ApiError('ConflictException', err.message, { cause: err });
  return invalidRequest(err.message);
}

function policyTarget(request: FastifyRequest): { targetType: RotationPolicyTargetType; targetName: string } {
  const targetType = checkEnum((request.params as Record<string, unknown>).targetType, 'targetType', TARGET_TYPES);
  const targetName = pathParam(request, 'targetName', RESOURCE_NAME);
  return { targetType, targetName };
}

/** Registers the rotation extension routes. */
export function registerRotationRoutes(app: ApiApp, ctx: ServiceContext, rotation: RotationService): void {
  const { registry } = ctx;

  app.get(
    '/fleetprov/certificates/expiring',
    operation(async (request) => {
      const days = queryInteger(request, 'days', 0, MAX_DAYS) ?? 30;
      const now = ctx.now().getTime();
      const certificates: Record<string, unknown>[] = [];
      let marker: string | undefined;
      do {
        const page = await registry.certificates.listExpiring(now + days * DAY_MS, { pageSize: 250, ...(marker === undefined ? {} : { marker }) });
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
    }),
  );

  app.get(
    '/fleetprov/rotations',
    operation(async (request) => {
      const state = queryEnum(request, 'state', ROTATION_STATES);
      const thingName = queryString(request, 'thingName', RESOURCE_NAME);
      const page = await registry.rotations.list({ ...tokenPageRequest(request), ...(state === undefined ? {} : { states: [state] }), ...(thingName === undefined ? {} : { thingName }) });
      return compact({ rotations: page.items.map(rotationJson), nextToken: page.nextToken });
    }),
  );

  app.get(
    '/fleetprov/rotations/due',
    operation(async (request) => {
      const days = queryInteger(request, 'days', 0, MAX_DAYS) ?? 0;
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
    }),
  );

  app.post(
    '/fleetprov/things/:thingName/rotation',
    operation(async (request) => {
      const thingName = pathParam(request, 'thingName', RESOURCE_NAME);
      const body = request.body === undefined || request.body === null || request.body === '' ? {} : bodyObject(request);
      const templateName = optionalString(body, 'templateName', TEMPLATE_NAME);
      if (templateName !== undefined && (await registry.templates.get(templateName)) === null) {
        throw resourceNotFound(`The provisioning template ${quoteValue(templateName)} does not exist.`);
      }
      try {
        const rotations = await rotation.request(thingName, { reason: 'operator', ...(templateName === undefined ? {} : { templateName }) });
        return { rotations: rotations.map(rotationJson) };
      } catch (err) {
        throw rotationErrorToApi(err);
      }
    }),
  );

  app.get(
    '/fleetprov/rotation-policies',
    operation(async () => ({ policies: (await registry.rotations.listPolicies()).map(policyJson) })),
  );

  app.get(
    '/fleetprov/rotation-policies/:targetType/:targetName',
    operation(async (request) => {
      const { targetType, targetName } = policyTarget(request);
      const policy = await registry.rotations.getPolicy(targetType, targetName);
      if (policy === null) throw resourceNotFound(`No rotation policy for ${targetType} ${quoteValue(targetName)}.`);
      return policyJson(policy);
    }),
  );

  app.put(
    '/fleetprov/rotation-policies/:targetType/:targetName',
    operation(async (request) => {
      const { targetType, targetName } = policyTarget(request);
      const body = bodyObject(request);
      const maxAgeDays = optionalInteger(body, 'maxAgeDays', 1, MAX_DAYS);
      const renewBeforeDays = optionalInteger(body, 'renewBeforeDays', 1, MAX_DAYS);
      if (maxAgeDays === undefined && renewBeforeDays === undefined) throw invalidRequest('Give maxAgeDays, renewBeforeDays or both: a rotation policy needs a rule.');
      const rotationTemplate = optionalString(body, 'rotationTemplate', TEMPLATE_NAME);
      if (rotationTemplate !== undefined && (await registry.templates.get(rotationTemplate)) === null) {
        throw resourceNotFound(`The provisioning template ${quoteValue(rotationTemplate)} does not exist.`);
      }
      const allowExpiredRecovery = optionalBoolean(body, 'allowExpiredRecovery');
      if (allowExpiredRecovery === true && targetType !== 'template') throw invalidRequest('allowExpiredRecovery is only allowed on template policies.');
      const policy = await registry.rotations.putPolicy({
        targetType,
        targetName,
        maxAgeDays: maxAgeDays ?? null,
        renewBeforeDays: renewBeforeDays ?? null,
        rotationTemplate: rotationTemplate ?? null,
        graceSeconds: optionalInteger(body, 'graceSeconds', 0, 366 * 86_400) ?? null,
        retireStatus: optionalEnum(body, 'retireStatus', ['INACTIVE', 'REVOKED'] as const) ?? 'INACTIVE',
        allowExpiredRecovery: allowExpiredRecovery ?? false,
        recoveryWindowDays: optionalInteger(body, 'recoveryWindowDays', 1, MAX_DAYS) ?? null,
      });
      return policyJson(policy);
    }),
  );

  app.delete(
    '/fleetprov/rotation-policies/:targetType/:targetName',
    operation(async (request) => {
      const { targetType, targetName } = policyTarget(request);
      if (!(await registry.rotations.deletePolicy(targetType, targetName))) throw resourceNotFound(`No rotation policy for ${targetType} ${quoteValue(targetName)}.`);
      return {};
    }),
  );
}
