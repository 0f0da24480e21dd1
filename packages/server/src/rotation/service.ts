/**
 * The certificate-rotation state machine (docs/rotation.md), after the request → issue →
 * acknowledge → retire exchange of AWS's JITP rotation sample. All state is in the registry; every
 * transition is a conditional update (of two racing processes one wins), and each step is idempotent:
 *
 * - **request** (`requested`): an operator (`fleetprov rotate THING`) or a rotation policy asks a
 *   thing to rotate; the device is notified on `fleetprov/things/<thing>/rotation/notify`. A second
 *   request returns the open rotation.
 * - **issue** (`issued`): the device, connected with its CURRENT certificate, ran
 *   CreateCertificateFromCsr/CreateKeysAndCertificate + RegisterThing onto its own thing (AWS's
 *   re-provisioning pattern). A device-initiated rotation starts here. Issuing again before the new
 *   certificate ever connected supersedes it (set INACTIVE): the device never saved it.
 * - **acknowledge** (`acknowledged`): the NEW certificate connected (or published an ack). The
 *   old certificate is kept for a grace period.
 * - **retire** (`retired`): after the grace period the old certificate becomes INACTIVE (or
 *   REVOKED) and its connections are dropped.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { rotationNotifyTopic, type RotationNotice } from '@fleetprov/protocol';
import { rejection } from '../provisioning/errors.js';
import type { RegistrationObserver } from '../provisioning/register-thing.js';
import {
  isRegistryError,
  type CertificateRow,
  type NewEvent,
  type Registry,
  type RetireStatus,
  type RotationPolicyRow,
  type RotationReason,
  type RotationRow,
} from '../registry/index.js';
import type { ServiceContext } from '../service-context.js';
import { RotationError } from './errors.js';

/** Event `type` of the rotation rows in the provisioning event log. */
export const ROTATION_EVENT_TYPE = 'certificate-rotation';
/** Default grace period between the new certificate's first connection and the old one's retirement: 1 hour. */
export const DEFAULT_ROTATION_GRACE_MS = 3_600_000;
/** Default time between two passes of the rotation monitor: 60 s. */
export const DEFAULT_ROTATION_INTERVAL_MS = 60_000;
/** Default time between two notifications of a rotation that is still `requested`: 15 minutes. */
export const DEFAULT_RENOTIFY_INTERVAL_MS = 900_000;

const DAY_MS = 86_400_000;

/** Options of {@link RotationService}. */
export interface RotationOptions {
  /** Grace period when no rotation policy says otherwise, ms. Default 1 hour. */
  graceMs?: number;
  /** What retired certificates become when no policy says otherwise. Default INACTIVE. */
  retireStatus?: RetireStatus;
  /** Time between monitor passes (retire due rotations, apply policies, re-notify), ms. Default 60 000. */
  intervalMs?: number;
  /** Time between notifications of a still-requested rotation, ms. Default 15 minutes. */
  renotifyIntervalMs?: number;
  /** Publishes a server message (QoS 1) to subscribers allowed to receive it; without it nobody is notified. */
  publish?: (topic: string, payload: Buffer) => Promise<void>;
  /**
   * Asked before each periodic pass: false skips it (in a cluster, another node holds the monitor's
   * lease, cluster/lease.ts). `runOnce()` is not gated. Default: every pass runs.
   */
  shouldRun?: () => Promise<boolean>;
}

/** A certificate a rotation policy says is due (or will be within the horizon asked for). */
export interface DueCertificate {
  certificateId: string;
  thingName: string;
  notBefore: number;
  notAfter: number;
  /** When the policy makes it due. */
  dueAt: number;
  /** `age` (older than maxAgeDays) or `expiry` (within renewBeforeDays of notAfter, or past it). */
  reason: 'age' | 'expiry';
  /** notAfter has passed. */
  overdue: boolean;
  policy: { targetType: RotationPolicyRow['targetType']; targetName: string };
  /** The open rotation of the certificate, if any. */
  rotation: RotationRow | null;
}

/** What one monitor pass did. */
export interface RotationPassResult {
  retired: RotationRow[];
  requested: RotationRow[];
  notified: number;
}

function validMs(value: number | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > 366 * DAY_MS) {
    throw new RotationError('InvalidArgument', `${name} must be an integer from ${min} to ${366 * DAY_MS} ms`);
  }
  return value;
}

/** The rotation service of one server process (several may share one PostgreSQL registry). */
export class RotationService {
  readonly #ctx: ServiceContext;
  readonly #log: Logger;
  readonly #graceMs: number;
  readonly #retireStatus: RetireStatus;
  readonly #intervalMs: number;
  readonly #renotifyMs: number;
  readonly #publish: ((topic: string, payload: Buffer) => Promise<void>) | undefined;
  readonly #shouldRun: (() => Promise<boolean>) | undefined;
  #timer: NodeJS.Timeout | null = null;
  #pass: Promise<RotationPassResult> | null = null;

  constructor(ctx: ServiceContext, opts: RotationOptions = {}) {
    this.#ctx = ctx;
    this.#log = ctx.logger.child({ component: 'rotation' });
    this.#graceMs = validMs(opts.graceMs, 'graceMs', DEFAULT_ROTATION_GRACE_MS, 0);
    if (opts.retireStatus !== undefined && opts.retireStatus !== 'INACTIVE' && opts.retireStatus !== 'REVOKED') {
      throw new RotationError('InvalidArgument', 'retireStatus must be INACTIVE or REVOKED');
    }
    this.#retireStatus = opts.retireStatus ?? 'INACTIVE';
    this.#intervalMs = validMs(opts.intervalMs, 'intervalMs', DEFAULT_ROTATION_INTERVAL_MS, 10);
    this.#renotifyMs = validMs(opts.renotifyIntervalMs, 'renotifyIntervalMs', DEFAULT_RENOTIFY_INTERVAL_MS, 0);
    this.#publish = opts.publish;
    this.#shouldRun = opts.shouldRun;
  }

  /** Time between periodic monitor passes, ms. */
  get intervalMs(): number {
    return this.#intervalMs;
  }

  get #registry(): Registry {
    return this.#ctx.registry;
  }

  #now(): number {
    return this.#ctx.now().getTime();
  }

  #event(operation: string, rotation: RotationRow, message: string, details: Record<string, unknown> = {}): NewEvent {
    return {
      type: ROTATION_EVENT_TYPE,
      operation,
      templateName: rotation.templateName,
      certificateId: rotation.newCertificateId ?? rotation.oldCertificateId,
      thingName: rotation.thingName,
      outcome: 'info',
      message,
      at: this.#now(),
      details: {
        rotationId: rotation.id,
        state: rotation.state,
        oldCertificateId: rotation.oldCertificateId,
        newCertificateId: rotation.newCertificateId,
        ...details,
      },
    };
  }

  // ------------------------------------------------------------------ policies

  /** The rotation policy that governs a thing's certificate: its thing groups (nearest first), else its template. */
  async policyFor(tx: Registry, thingName: string, certificateId: string): Promise<RotationPolicyRow | null> {
    const policies = await tx.rotations.listPolicies();
    if (policies.length === 0) return null;
    const groupPolicies = new Map(policies.filter((p) => p.targetType === 'thing-group').map((p) => [p.targetName, p]));
    if (groupPolicies.size > 0 && (await tx.things.get(thingName)) !== null) {
      const direct = (await tx.thingGroups.listForThing(thingName, { maxResults: 250 })).items.map((g) => g.groupName).sort();
      for (const group of direct) {
        const hit = groupPolicies.get(group);
        if (hit !== undefined) return hit;
      }
      for (const group of direct) {
        const ancestors = await tx.thingGroups.listAncestors(group);
        for (const a of ancestors.reverse()) {
          const hit = groupPolicies.get(a.groupName);
          if (hit !== undefined) return hit;
        }
      }
    }
    const template = await tx.rotations.getCertificateTemplate(certificateId);
    if (template === null) return null;
    return policies.find((p) => p.targetType === 'template' && p.targetName === template) ?? null;
  }

  #graceOf(policy: RotationPolicyRow | null): number {
    return policy?.graceSeconds === null || policy?.graceSeconds === undefined ? this.#graceMs : policy.graceSeconds * 1000;
  }

  // ------------------------------------------------------------------ issue (RegisterThing)

  /**
   * Inside every accepted RegisterThing's transaction: records which template registered the
   * certificate; when the requester is a device certificate (attached to a thing), allows it to
   * provision only onto its own thing and records the rotation (issue).
   */
  readonly onRegistered: RegistrationObserver = async (tx, r) => {
    await tx.rotations.recordCertificateTemplate(r.certificateId, r.templateName);
    if (r.thingName === undefined || r.principalId === r.certificateId) return;
    let things: string[];
    try {
      things = (await tx.thingPrincipals.listForPrincipal(r.principalId, { maxResults: 250 })).items.map((t) => t.thingName);
    } catch (err) {
      if (isRegistryError(err, 'ResourceNotFound')) return;
      throw err;
    }
    if (things.length === 0) return; // a claim certificate: first provisioning, not a rotation
    if (!things.includes(r.thingName)) {
      throw rejection(
        'AccessDenied',
        `certificate ${r.principalId} is attached to thing ${things.join(', ')}, not ${r.thingName}: a device certificate may only rotate the certificate of its own thing; fix the template parameters`,
      );
    }
    const now = this.#now();
    const open = await tx.rotations.getOpen(r.principalId);
    let rotation: RotationRow;
    if (open === null) {
      const principal = await tx.certificates.get(r.principalId);
      const expired = principal !== null && principal.notAfter < now;
      const policy = await this.policyFor(tx, r.thingName, r.principalId);
      rotation = await tx.rotations.create({
        id: randomUUID(),
        thingName: r.thingName,
        oldCertificateId: r.principalId,
        newCertificateId: r.certificateId,
        state: 'issued',
        reason: expired ? 'recovery' : 'device',
        templateName: r.templateName,
        retireStatus: policy?.retireStatus ?? this.#retireStatus,
        graceMs: this.#graceOf(policy),
      });
      await tx.events.append(
        this.#event(
          'Issue',
          rotation,
          `certificate ${r.principalId} of thing ${r.thingName} rotated to ${r.certificateId} (device-initiated)`,
        ),
      );
      return;
    }
    if (open.thingName !== r.thingName) {
      throw rejection(
        'ResourceConflict',
        `certificate ${r.principalId} has a rotation pending for thing ${open.thingName}; finish or cancel it first`,
      );
    }
    switch (open.state) {
      case 'requested':
        rotation = await tx.rotations.update(
          open.id,
          { state: 'issued', newCertificateId: r.certificateId, issuedAt: now, templateName: r.templateName },
          { expectedStates: ['requested'] },
        );
        await tx.events.append(
          this.#event(
            'Issue',
            rotation,
            `certificate ${r.principalId} of thing ${r.thingName} rotated to ${r.certificateId} (requested ${open.reason})`,
          ),
        );
        return;
      case 'issued': {
        // The device asks again before its previous replacement ever connected: it never stored
        // that one (crash, lost reply). Retire the orphan and issue the new one.
        const orphan = open.newCertificateId;
        const superseded = orphan === null ? open.superseded : [...open.superseded, orphan].slice(-100);
        if (orphan !== null) {
          const cert = await tx.certificates.get(orphan);
          if (cert !== null && cert.status === 'ACTIVE') await tx.certificates.updateStatus(orphan, 'INACTIVE');
        }
        rotation = await tx.rotations.update(
          open.id,
          { newCertificateId: r.certificateId, issuedAt: now, superseded, templateName: r.templateName },
          { expectedStates: ['issued'] },
        );
        await tx.events.append(
          this.#event(
            'Supersede',
            rotation,
            `certificate ${orphan ?? '(none)'} never connected: superseded by ${r.certificateId} and set INACTIVE`,
            { superseded: orphan },
          ),
        );
        return;
      }
      default:
        throw rejection(
          'ResourceConflict',
          `certificate ${r.principalId} was already rotated: certificate ${open.newCertificateId ?? '?'} connected at ${new Date(open.acknowledgedAt ?? now).toISOString()}; connect with that certificate instead`,
        );
    }
  };

  // ------------------------------------------------------------------ recovery after expiry

  /**
   * Whether an ACTIVE but expired certificate may connect to rotate (opt-in): the template that
   * registered it has a rotation policy with `allowExpiredRecovery`, the connection's client id is a
   * thing the certificate is attached to, and the expiry is within `recoveryWindowDays`.
   * @returns the template the recovery connection may use, or null
   */
  async recoveryGrant(cert: CertificateRow, clientId: string): Promise<{ templateName: string } | null> {
    const registry = this.#registry;
    const template = await registry.rotations.getCertificateTemplate(cert.id);
    if (template === null) return null;
    const policy = await registry.rotations.getPolicy('template', template);
    if (policy === null || !policy.allowExpiredRecovery) return null;
    if (policy.recoveryWindowDays !== null && this.#now() > cert.notAfter + policy.recoveryWindowDays * DAY_MS) return null;
    const things = (await registry.thingPrincipals.listForPrincipal(cert.id, { maxResults: 250 })).items.map((t) => t.thingName);
    if (!things.includes(clientId)) return null;
    const open = await registry.rotations.getOpen(cert.id);
    if (open !== null && open.state === 'acknowledged') return null; // already replaced by a working certificate
    return { templateName: policy.rotationTemplate ?? template };
  }

  // ------------------------------------------------------------------ acknowledge

  /**
   * The new certificate of an issued rotation proved it works (it connected, or published an ack):
   * starts the grace period (and retires at once when it is 0). Idempotent.
   * @returns the rotation whose replacement `certificateId` is, or null when there is none
   */
  async acknowledge(certificateId: string, via: 'connect' | 'ack'): Promise<RotationRow | null> {
    const rotation = await this.#registry.rotations.getByNewCertificate(certificateId);
    if (rotation === null || rotation.state !== 'issued') return rotation;
    const now = this.#now();
    let updated: RotationRow;
    try {
      updated = await this.#registry.transaction(async (tx) => {
        const u = await tx.rotations.update(
          rotation.id,
          { state: 'acknowledged', acknowledgedAt: now, retireAfter: now + rotation.graceMs },
          { expectedStates: ['issued'] },
        );
        await tx.events.append(
          this.#event(
            'Acknowledge',
            u,
            `certificate ${certificateId} of thing ${u.thingName} works (${via === 'connect' ? 'connected' : 'acknowledged'}); certificate ${u.oldCertificateId} retires at ${new Date(now + u.graceMs).toISOString()}`,
          ),
        );
        return u;
      });
    } catch (err) {
      if (!isRegistryError(err, 'Conflict')) throw err;
      return this.#registry.rotations.get(rotation.id); // another process or request got there first
    }
    this.#log.info(
      { rotationId: updated.id, thingName: updated.thingName, certificateId, via },
      `rotation of thing ${updated.thingName} acknowledged by certificate ${certificateId}`,
    );
    if (updated.graceMs === 0) return this.retire(updated);
    return updated;
  }

  /** Broker `connected` listener: a connection of a rotation's new certificate acknowledges it. */
  onConnected(certificateId: string): void {
    this.acknowledge(certificateId, 'connect').catch((err: unknown) => {
      this.#log.error(
        { err, certificateId },
        `recording the first connection of certificate ${certificateId} for its rotation failed; the next acknowledgement or restart retries`,
      );
    });
  }

  // ------------------------------------------------------------------ retire

  /** Retires the old certificate of an acknowledged rotation (INACTIVE or REVOKED) and drops its connections. Idempotent. */
  async retire(rotation: RotationRow): Promise<RotationRow> {
    const now = this.#now();
    let retired: RotationRow;
    let changed = false;
    try {
      retired = await this.#registry.transaction(async (tx) => {
        const u = await tx.rotations.update(rotation.id, { state: 'retired', retiredAt: now }, { expectedStates: ['acknowledged'] });
        const old: CertificateRow | null = await tx.certificates.get(u.oldCertificateId);
        changed = false;
        if (old !== null && old.status !== 'REVOKED' && old.status !== u.retireStatus) {
          await tx.certificates.updateStatus(old.id, u.retireStatus);
          changed = true;
        }
        await tx.events.append(
          this.#event(
            'Retire',
            u,
            `certificate ${u.oldCertificateId} of thing ${u.thingName} retired (${old === null ? 'already deleted' : u.retireStatus})`,
          ),
        );
        return u;
      });
    } catch (err) {
      if (!isRegistryError(err, 'Conflict')) throw err;
      return (await this.#registry.rotations.get(rotation.id)) ?? rotation;
    }
    if (changed)
      this.#ctx.disconnectCertificate(
        retired.oldCertificateId,
        `retired by the rotation to certificate ${retired.newCertificateId ?? '?'}`,
      );
    this.#log.info(
      { rotationId: retired.id, thingName: retired.thingName, certificateId: retired.oldCertificateId },
      `certificate ${retired.oldCertificateId} of thing ${retired.thingName} retired (${retired.retireStatus})`,
    );
    return retired;
  }

  /** Retires every acknowledged rotation whose grace period is over. */
  async retireDue(): Promise<RotationRow[]> {
    const out: RotationRow[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.#registry.rotations.list({
        states: ['acknowledged'],
        retireBefore: this.#now(),
        maxResults: 100,
        ...(nextToken === undefined ? {} : { nextToken }),
      });
      for (const r of page.items) out.push(await this.retire(r));
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    return out;
  }

  // ------------------------------------------------------------------ request + notify

  /**
   * Asks a thing to rotate its ACTIVE certificates (operator or policy) and notifies it. A thing with
   * an open rotation gets that rotation back (a duplicate request returns the same result).
   * @throws {RotationError} `NotFound` for an unknown thing, `Conflict` when it has no ACTIVE certificate
   */
  async request(
    thingName: string,
    opts: { reason?: RotationReason; templateName?: string | null; certificateId?: string } = {},
  ): Promise<RotationRow[]> {
    const registry = this.#registry;
    if ((await registry.things.get(thingName)) === null) throw new RotationError('NotFound', `thing ${thingName} does not exist`);
    const principals = (await registry.thingPrincipals.listForThing(thingName, { maxResults: 250 })).items;
    const out: RotationRow[] = [];
    for (const p of principals) {
      if (opts.certificateId !== undefined && p.certificateId !== opts.certificateId) continue;
      const cert = await registry.certificates.get(p.certificateId);
      if (cert === null || cert.status !== 'ACTIVE') continue;
      const open = await registry.rotations.getOpen(cert.id);
      if (open !== null) {
        out.push(open);
        continue;
      }
      // The replacement of an unfinished rotation is not rotated again.
      const asNew = await registry.rotations.getByNewCertificate(cert.id);
      if (asNew !== null && (asNew.state === 'issued' || asNew.state === 'acknowledged')) {
        out.push(asNew);
        continue;
      }
      const policy = await this.policyFor(registry, thingName, cert.id);
      try {
        const created = await registry.transaction(async (tx) => {
          const r = await tx.rotations.create({
            id: randomUUID(),
            thingName,
            oldCertificateId: cert.id,
            state: 'requested',
            reason: opts.reason ?? 'operator',
            templateName: opts.templateName ?? policy?.rotationTemplate ?? null,
            retireStatus: policy?.retireStatus ?? this.#retireStatus,
            graceMs: this.#graceOf(policy),
          });
          await tx.events.append(
            this.#event('Request', r, `rotation of certificate ${cert.id} of thing ${thingName} requested (${r.reason})`),
          );
          return r;
        });
        out.push(created);
      } catch (err) {
        if (!isRegistryError(err, 'ResourceAlreadyExists')) throw err;
        const raced = await registry.rotations.getOpen(cert.id);
        if (raced !== null) out.push(raced);
      }
    }
    if (out.length === 0) {
      throw new RotationError(
        'Conflict',
        opts.certificateId === undefined
          ? `thing ${thingName} has no ACTIVE certificate to rotate`
          : `certificate ${opts.certificateId} is not an ACTIVE certificate of thing ${thingName}`,
      );
    }
    const unique = [...new Map(out.map((r) => [r.id, r])).values()];
    for (const r of unique) if (r.state === 'requested') await this.notify(r);
    return unique;
  }

  /** Publishes the rotation notice of a requested rotation and records when. Never throws. */
  async notify(rotation: RotationRow): Promise<boolean> {
    if (this.#publish === undefined) return false;
    const payload = Buffer.from(
      JSON.stringify({
        rotationId: rotation.id,
        thingName: rotation.thingName,
        state: rotation.state,
        reason: rotation.reason,
        certificateId: rotation.oldCertificateId,
        ...(rotation.templateName === null ? {} : { templateName: rotation.templateName }),
        requestedAt: new Date(rotation.requestedAt).toISOString(),
      } satisfies RotationNotice),
    );
    try {
      await this.#publish(rotationNotifyTopic(rotation.thingName), payload);
      await this.#registry.rotations.update(rotation.id, { notifiedAt: this.#now() });
      return true;
    } catch (err) {
      this.#log.warn(
        { err, rotationId: rotation.id, thingName: rotation.thingName },
        `notifying thing ${rotation.thingName} of its rotation failed; the monitor retries`,
      );
      return false;
    }
  }

  /**
   * Certificates the rotation policies make due by `now + horizonMs`, soonest first (only ACTIVE
   * certificates attached to a thing).
   */
  async dueCertificates(horizonMs = 0): Promise<DueCertificate[]> {
    const registry = this.#registry;
    const now = this.#now();
    const seen = new Set<string>();
    const out: DueCertificate[] = [];
    const consider = async (thingName: string, certificateId: string): Promise<void> => {
      if (seen.has(certificateId)) return;
      seen.add(certificateId);
      const cert = await registry.certificates.get(certificateId);
      if (cert === null || cert.status !== 'ACTIVE') return;
      const policy = await this.policyFor(registry, thingName, certificateId);
      if (policy === null) return;
      const candidates: Array<{ at: number; reason: 'age' | 'expiry' }> = [];
      if (policy.maxAgeDays !== null) candidates.push({ at: cert.notBefore + policy.maxAgeDays * DAY_MS, reason: 'age' });
      if (policy.renewBeforeDays !== null) candidates.push({ at: cert.notAfter - policy.renewBeforeDays * DAY_MS, reason: 'expiry' });
      if (cert.notAfter <= now) candidates.push({ at: cert.notAfter, reason: 'expiry' });
      if (candidates.length === 0) return;
      const first = candidates.reduce((a, b) => (b.at < a.at ? b : a));
      if (first.at > now + horizonMs) return;
      out.push({
        certificateId,
        thingName,
        notBefore: cert.notBefore,
        notAfter: cert.notAfter,
        dueAt: first.at,
        reason: first.reason,
        overdue: cert.notAfter <= now,
        policy: { targetType: policy.targetType, targetName: policy.targetName },
        rotation: await registry.rotations.getOpen(certificateId),
      });
    };
    for (const policy of await registry.rotations.listPolicies()) {
      if (policy.targetType === 'template') {
        let nextToken: string | undefined;
        do {
          const page = await registry.rotations.listCertificatesByTemplate(policy.targetName, {
            maxResults: 250,
            ...(nextToken === undefined ? {} : { nextToken }),
          });
          for (const id of page.items) {
            const things = await registry.thingPrincipals.listForPrincipal(id, { maxResults: 1 }).catch(() => ({ items: [] }));
            const thing = things.items[0];
            if (thing !== undefined) await consider(thing.thingName, id);
          }
          nextToken = page.nextToken;
        } while (nextToken !== undefined);
      } else {
        if ((await registry.thingGroups.get(policy.targetName)) === null) continue;
        let nextToken: string | undefined;
        do {
          const page = await registry.thingGroups.listThings(policy.targetName, {
            recursive: true,
            maxResults: 250,
            ...(nextToken === undefined ? {} : { nextToken }),
          });
          for (const thingName of page.items) {
            for (const p of (await registry.thingPrincipals.listForThing(thingName, { maxResults: 250 })).items)
              await consider(thingName, p.certificateId);
          }
          nextToken = page.nextToken;
        } while (nextToken !== undefined);
      }
    }
    return out.sort((a, b) => a.dueAt - b.dueAt || a.certificateId.localeCompare(b.certificateId));
  }

  // ------------------------------------------------------------------ monitor

  /** One monitor pass: retire what is due, request rotations the policies make due, re-notify. */
  runOnce(): Promise<RotationPassResult> {
    this.#pass ??= this.#runPass().finally(() => {
      this.#pass = null;
    });
    return this.#pass;
  }

  async #runPass(): Promise<RotationPassResult> {
    const retired = await this.retireDue();
    const requested: RotationRow[] = [];
    for (const due of await this.dueCertificates()) {
      if (due.rotation !== null) continue;
      try {
        requested.push(...(await this.request(due.thingName, { reason: due.reason, certificateId: due.certificateId })));
      } catch (err) {
        if (!(err instanceof RotationError)) throw err;
      }
    }
    let notified = 0;
    const now = this.#now();
    let nextToken: string | undefined;
    do {
      const page = await this.#registry.rotations.list({
        states: ['requested'],
        maxResults: 100,
        ...(nextToken === undefined ? {} : { nextToken }),
      });
      for (const r of page.items) {
        if (requested.some((x) => x.id === r.id)) continue;
        if (r.notifiedAt === null || now - r.notifiedAt >= this.#renotifyMs) if (await this.notify(r)) notified++;
      }
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    return { retired, requested, notified };
  }

  /** Starts the periodic monitor (unref'd timer). */
  start(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => {
      if (this.#pass !== null) return;
      const gate = this.#shouldRun?.() ?? Promise.resolve(true);
      gate
        .then((run) => (run && this.#timer !== null ? this.runOnce() : null))
        .catch((err: unknown) => this.#log.error({ err }, 'rotation monitor pass failed; retrying at the next interval'));
    }, this.#intervalMs);
    this.#timer.unref();
  }

  /** Stops the monitor and waits for a running pass. */
  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#pass?.catch(() => undefined);
  }
}
