/**
 * The principals of registered certificates: which IoT policies apply (the certificate's, plus the
 * thing-group policies of the thing whose name equals the client id; a temporary claim has only its
 * implicit policy), the policy variables of the connection, and the certificate status checks.
 * `authorize` is synchronous and uses a compiled policy set, refreshed in the background at most every
 * `refreshMs`, so policy changes reach live connections within that time without blocking a packet.
 */
import type { Logger } from 'pino';
import type { AuthenticationResult, Principal } from '../../broker/index.js';
import { CertificateFactsCache, toPolicyDn, type CertificateFacts } from '../../pki/index.js';
import {
  type PolicyCache,
  PolicyError,
  type CompiledPolicySet,
  type Decision,
  type NamedPolicy,
  type PolicyContext,
} from '../../policy/index.js';
import type { CertificateRow } from '../../registry/index.js';
import type { ServiceContext } from '../../service-context.js';
import { temporaryClaimPolicy } from '../temporary-claim.js';
import type { OnboardingAttempt } from './method.js';

/** What a principal decides with: replaced wholesale by each refresh. */
interface PrincipalState {
  /** Null when every request must be denied (`denyReason` says why). */
  readonly set: CompiledPolicySet | null;
  readonly denyReason: string;
  /** True when the certificate itself may no longer connect (gone, not ACTIVE, expired). */
  readonly certificateRefused: boolean;
  readonly context: PolicyContext;
}

/**
 * Why a certificate in this state may not connect at `now`, or null when it may. With
 * `ignoreExpiry`, a passed notAfter is not a reason (expiry recovery).
 */
export function statusRefusal(cert: CertificateRow, now: number, ignoreExpiry = false): string | null {
  switch (cert.status) {
    case 'ACTIVE':
      break;
    case 'PENDING_ACTIVATION':
      if (cert.caCertificateId !== null) {
        return `certificate ${cert.id} (auto-registered from CA ${cert.caCertificateId}) is PENDING_ACTIVATION: activate it with UpdateCertificate, then reconnect`;
      }
      return `certificate ${cert.id} is PENDING_ACTIVATION: register it with RegisterThing (over the connection that created it) before connecting with it`;
    case 'INACTIVE':
      return `certificate ${cert.id} is INACTIVE: activate it with UpdateCertificate to connect`;
    case 'REVOKED':
      return `certificate ${cert.id} is REVOKED: a revoked certificate can never connect again`;
    default:
      return `certificate ${cert.id} is ${cert.status}: only ACTIVE certificates can connect`;
  }
  if (cert.expiresAt !== null && now >= cert.expiresAt) {
    return `temporary claim certificate ${cert.id} expired at ${new Date(cert.expiresAt).toISOString()}`;
  }
  if (now > cert.notAfter && !ignoreExpiry) return `certificate expired at ${new Date(cert.notAfter).toISOString()}`;
  if (now < cert.notBefore) return `certificate is not valid before ${new Date(cert.notBefore).toISOString()}`;
  return null;
}

/** The certificate facts policy variables read. */
function certificateContext(facts: CertificateFacts): NonNullable<PolicyContext['certificate']> {
  return {
    subject: toPolicyDn(facts.subject),
    issuer: toPolicyDn(facts.issuer),
    subjectAltNames: facts.subjectAltNames,
    issuerAltNames: facts.issuerAltNames,
    serialNumber: facts.serialNumber,
  };
}

/** Options of {@link PrincipalFactory}. */
export interface PrincipalFactoryOptions {
  /** A principal's policies, thing and certificate status are re-read at most this often (ms). */
  refreshMs: number;
  /** Compiled-policy cache shared by every connection. */
  policyCache: PolicyCache;
  /** Monotonic clock for refresh timing, ms. */
  clock: () => number;
  /** The authority's logger. */
  log: Logger;
}

/** Builds the principals of registered certificates, for the onboarding methods. */
export class PrincipalFactory {
  readonly #ctx: ServiceContext;
  readonly #opts: PrincipalFactoryOptions;
  /**
   * Certificate facts by id (a certificate id is the hash of the certificate, so its facts never
   * change): parsing X.509 on every CONNECT was a visible share of the broker's CPU. Shared with the
   * provisioning handlers through the context, so a newly issued certificate is never parsed.
   */
  readonly #facts: CertificateFactsCache;
  #closed = false;

  constructor(ctx: ServiceContext, opts: PrincipalFactoryOptions) {
    this.#ctx = ctx;
    this.#opts = opts;
    this.#facts = ctx.certificateFacts ?? new CertificateFactsCache();
  }

  /** Stops background refreshes (connections keep their last policies). */
  close(): void {
    this.#closed = true;
  }

  /** The principal of a registered certificate that may connect (its status was checked), refreshed in the background. */
  async principal(attempt: OnboardingAttempt, cert: CertificateRow): Promise<AuthenticationResult> {
    const base = this.#baseContext(attempt, cert);
    if (typeof base === 'string') return { ok: false, reason: base };
    const state = await this.#loadState(cert.id, base, cert);
    if (state.certificateRefused) return { ok: false, reason: state.denyReason };
    const { clock, refreshMs, log } = this.#opts;
    const refresher: Refresher = { reload: () => this.#loadState(cert.id, base), clock, refreshMs, log, isClosed: () => this.#closed };
    return { ok: true, principal: new RefreshingPrincipal(refresher, cert.id, state) };
  }

  /**
   * The principal of an expired certificate in recovery mode: only the CSR flow and RegisterThing on
   * one template, intersected with the certificate's own policies; never refreshed (the
   * certificate's policies are frozen for this connection; deactivating it still drops it).
   */
  async recoveryPrincipal(attempt: OnboardingAttempt, cert: CertificateRow, templateName: string): Promise<AuthenticationResult> {
    const base = this.#baseContext(attempt, cert);
    if (typeof base === 'string') return { ok: false, reason: base };
    const state = await this.#loadState(cert.id, base, cert, true);
    if (state.certificateRefused) return { ok: false, reason: state.denyReason };
    const certId = cert.id;
    const allowed = new Set<string>([`iot:Connect client/${attempt.clientId}`]);
    for (const fmt of ['json', 'cbor']) {
      for (const topic of [`$aws/certificates/create-from-csr/${fmt}`, `$aws/provisioning-templates/${templateName}/provision/${fmt}`]) {
        allowed.add(`iot:Publish topic/${topic}`);
        for (const outcome of ['accepted', 'rejected']) {
          allowed.add(`iot:Receive topic/${topic}/${outcome}`);
          allowed.add(`iot:Subscribe topicfilter/${topic}/${outcome}`);
        }
      }
    }
    const principal: Principal = {
      certificateId: certId,
      context: state.context,
      authorize(action: string, resource: string): Decision {
        if (!allowed.has(`${action} ${resource}`)) {
          return {
            allowed: false,
            reason: `certificate ${certId} is expired and connected in recovery mode: only CreateCertificateFromCsr and RegisterThing on template ${templateName} are allowed`,
          };
        }
        if (state.set === null) return { allowed: false, reason: state.denyReason };
        return state.set.authorize(action, resource, state.context);
      },
    };
    return { ok: true, principal };
  }

  /** The policy context before the thing is known, or the refusal when the stored PEM cannot be read. */
  #baseContext(attempt: OnboardingAttempt, cert: CertificateRow): PolicyContext | string {
    let certificate: NonNullable<PolicyContext['certificate']>;
    try {
      certificate = certificateContext(this.#facts.factsOf(cert.id, cert.pem));
    } catch (err) {
      this.#opts.log.error({ certificateId: cert.id, err }, `the stored PEM of certificate ${cert.id} cannot be parsed`);
      return `certificate ${cert.id} is stored in a form the server cannot read`;
    }
    return { clientId: attempt.clientId, sourceIp: attempt.sourceIp, certificate, thing: null };
  }

  /** Reads the certificate's status, policies and thing; compiles the policies. Never throws for bad data. */
  async #loadState(certId: string, base: PolicyContext, known?: CertificateRow, ignoreExpiry = false): Promise<PrincipalState> {
    const registry = this.#ctx.registry;
    const cache = this.#opts.policyCache;
    const cert = known ?? (await registry.certificates.get(certId));
    if (cert === null) return { set: null, denyReason: `certificate ${certId} no longer exists`, certificateRefused: true, context: base };
    const refusal = statusRefusal(cert, this.#ctx.now().getTime(), ignoreExpiry);
    if (refusal !== null) return { set: null, denyReason: refusal, certificateRefused: true, context: base };
    // A temporary claim (CreateProvisioningClaim) has only its implicit policy, scoped to its template.
    if (cert.claimTemplateName !== null)
      return {
        set: cache.compile([temporaryClaimPolicy(cert.claimTemplateName)]),
        denyReason: '',
        certificateRefused: false,
        context: base,
      };
    const clientId = base.clientId ?? '';
    const principal = await registry.policies.getForPrincipal(certId);
    // Thing variables and group policies: the thing named like the client id, else (newer AWS
    // docs) the thing the certificate is exclusively attached to.
    const attached = principal.things.find((t) => t.thingName === clientId) ?? principal.things.find((t) => t.exclusive);
    let thing: PolicyContext['thing'] = null;
    if (attached !== undefined) {
      const row = await registry.things.get(attached.thingName);
      if (row !== null) thing = { thingName: row.name, thingTypeName: row.thingTypeName, attributes: row.attributes, isAttached: true };
    }
    const context: PolicyContext = { ...base, thing };
    const policies: NamedPolicy[] = [...principal.certificate, ...(attached?.policies ?? [])].map((p) => ({
      policyName: p.policyName,
      version: p.version,
      document: p.document,
    }));
    try {
      return { set: cache.compile(policies), denyReason: '', certificateRefused: false, context };
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err;
      const reason = `every request is denied because an attached policy is invalid: ${err.message}`;
      this.#opts.log.error(
        { certificateId: certId, clientId, policyName: err.policyName, err: err.message },
        `certificate ${certId}: ${reason}`,
      );
      return { set: null, denyReason: reason, certificateRefused: false, context };
    }
  }
}

/** How a {@link RefreshingPrincipal} re-reads its state. */
interface Refresher {
  /** Reads the principal's current state. */
  reload(): Promise<PrincipalState>;
  clock(): number;
  refreshMs: number;
  log: Logger;
  /** True once the authority closed: no more refreshes. */
  isClosed(): boolean;
}

/** A registered certificate's principal: decides with its last state, re-read in the background when stale. */
class RefreshingPrincipal implements Principal {
  readonly certificateId: string;
  readonly #refresher: Refresher;
  #state: PrincipalState;
  #loadedAt: number;
  #refreshing = false;
  /** A forced refresh arrived while one was running. */
  #again = false;

  constructor(refresher: Refresher, certId: string, state: PrincipalState) {
    this.#refresher = refresher;
    this.certificateId = certId;
    this.#state = state;
    this.#loadedAt = refresher.clock();
  }

  get context(): PolicyContext {
    return this.#state.context;
  }

  authorize(action: string, resource: string): Decision {
    const refresher = this.#refresher;
    if (!this.#refreshing && !refresher.isClosed() && refresher.clock() - this.#loadedAt >= refresher.refreshMs) this.#refresh();
    const state = this.#state;
    if (state.set === null) return { allowed: false, reason: state.denyReason };
    return state.set.authorize(action, resource, state.context);
  }

  /**
   * Re-reads the principal now (a policy, attachment or thing change, possibly on another node).
   * When a re-read is already running it may have read the registry before the change: another
   * one follows it.
   */
  refresh(): void {
    if (this.#refresher.isClosed()) return;
    if (this.#refreshing) this.#again = true;
    else this.#refresh();
  }

  /** Whether policy `policyName` is one of this principal's (or its policies could not be compiled). */
  usesPolicy(policyName: string): boolean {
    const state = this.#state;
    if (state.set === null) return !state.certificateRefused;
    return state.set.members.some((m) => m.policyName === policyName);
  }

  /** Re-reads the principal in the background; keeps the current state if that fails. */
  #refresh(): void {
    this.#refreshing = true;
    this.#again = false;
    const refresher = this.#refresher;
    const done = (): void => {
      this.#loadedAt = refresher.clock();
      this.#refreshing = false;
      if (this.#again && !refresher.isClosed()) this.#refresh();
    };
    refresher.reload().then(
      (state) => {
        this.#state = state;
        done();
      },
      (err: unknown) => {
        done();
        if (!refresher.isClosed())
          refresher.log.warn(
            { certificateId: this.certificateId, err },
            `refreshing the policies of certificate ${this.certificateId} failed; keeping the previous ones`,
          );
      },
    );
  }
}
