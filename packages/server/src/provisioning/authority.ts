/**
 * The broker's authority backed by the registry and the policy engine: who a client certificate is
 * (registered, ACTIVE, within its validity), which IoT policies apply (the certificate's, plus the
 * thing-group policies of the thing whose name equals the client id), and the policy variables of the
 * connection (thing variables: the thing whose name equals the client id, or the certificate's
 * exclusively attached thing). `authorize` is synchronous and uses a compiled policy set; the set is refreshed in the
 * background at most every `policyRefreshIntervalMs`, so policy changes reach live connections
 * within that time (AWS: minutes) without ever blocking a packet.
 */
import type { Logger } from 'pino';
import type { AuthenticationResult, BrokerAuthority, ConnectAttempt, Principal } from '../broker/index.js';
import { CertificateFactsCache, certificateId as certificateIdOf, toPolicyDn, type CertificateFacts } from '../pki/index.js';
import { PolicyCache, PolicyError, type CompiledPolicySet, type Decision, type NamedPolicy, type PolicyContext } from '../policy/index.js';
import type { CertificateRow } from '../registry/index.js';
import type { ServiceContext } from '../service-context.js';
import { ProvisioningError } from './errors.js';
import { temporaryClaimPolicy } from './temporary-claim.js';

/** Default time between background refreshes of a connection's policies: 30 s. */
export const DEFAULT_POLICY_REFRESH_INTERVAL_MS = 30_000;

/** Options of {@link createRegistryAuthority}. */
export interface RegistryAuthorityOptions {
  /** A connection's policies, thing and certificate status are re-read at most this often (ms). Default 30 000. */
  policyRefreshIntervalMs?: number;
  /** Compiled-policy cache shared by every connection. Default: a new one. */
  policyCache?: PolicyCache;
  /**
   * Extension point for just-in-time registration (JITP/JITR, see jitp.ts): called when a CONNECT
   * presents a certificate the registry does not know. Return a result to use it, or null to refuse
   * the certificate as unregistered.
   */
  unregisteredCertificateHook?: (attempt: ConnectAttempt, certificateId: string) => Promise<AuthenticationResult | null>;
  /**
   * Called (and awaited; errors are logged) when a CONNECT presents a certificate that is still
   * PENDING_ACTIVATION, before it is refused: JITR republishes the registered event (as AWS does).
   */
  pendingCertificateHook?: (certificate: CertificateRow) => Promise<void>;
  /** Monotonic clock for refresh timing, ms. Default `performance.now`. */
  clock?: () => number;
  /**
   * Recovery after expiry (opt-in, docs/rotation.md): called when an ACTIVE certificate is past its
   * notAfter. Returning a template lets the connection in with a principal restricted to
   * CreateCertificateFromCsr and that template's RegisterThing (and only as far as the
   * certificate's own policies allow too); null refuses it as expired.
   */
  expiredCertificateRecovery?: (cert: CertificateRow, clientId: string) => Promise<{ templateName: string } | null>;
}

/** The authority, with its policy cache exposed (for stats and invalidation). */
export interface RegistryAuthority extends BrokerAuthority {
  /** The compiled-policy cache shared by every connection. */
  readonly policyCache: PolicyCache;
  /** Stops background refreshes (connections keep their last policies). */
  close(): void;
}

/** What a principal decides with: replaced wholesale by each refresh. */
interface PrincipalState {
  /** Null when every request must be denied (`denyReason` says why). */
  readonly set: CompiledPolicySet | null;
  readonly denyReason: string;
  /** True when the certificate itself may no longer connect (gone, not ACTIVE, expired). */
  readonly certificateRefused: boolean;
  readonly context: PolicyContext;
}

/** Why a certificate in this state may not connect, or null when it may. */
function statusRefusal(cert: CertificateRow, now: number, ignoreExpiry = false): string | null {
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

/**
 * Creates the registry-backed authority the broker authenticates and authorizes with.
 * @throws {ProvisioningError} `InvalidArgument` for a refresh interval that is not a positive integer
 */
export function createRegistryAuthority(ctx: ServiceContext, opts: RegistryAuthorityOptions = {}): RegistryAuthority {
  const refreshMs = opts.policyRefreshIntervalMs ?? DEFAULT_POLICY_REFRESH_INTERVAL_MS;
  if (!Number.isInteger(refreshMs) || refreshMs < 1 || refreshMs > 86_400_000) {
    throw new ProvisioningError('InvalidArgument', 'policyRefreshIntervalMs must be an integer from 1 to 86400000');
  }
  const cache = opts.policyCache ?? new PolicyCache();
  const clock = opts.clock ?? (() => performance.now());
  const log: Logger = ctx.logger.child({ component: 'authority' });
  let closed = false;

  /** Reads the certificate's status, policies and thing; compiles the policies. Never throws for bad data. */
  async function loadState(certId: string, base: PolicyContext, known?: CertificateRow, ignoreExpiry = false): Promise<PrincipalState> {
    const registry = ctx.registry;
    const cert = known ?? (await registry.getCertificate(certId));
    if (cert === null) return { set: null, denyReason: `certificate ${certId} no longer exists`, certificateRefused: true, context: base };
    const refusal = statusRefusal(cert, ctx.now().getTime(), ignoreExpiry);
    if (refusal !== null) return { set: null, denyReason: refusal, certificateRefused: true, context: base };
    // A temporary claim (CreateProvisioningClaim) has only its implicit policy, scoped to its template.
    if (cert.claimTemplateName !== null) return { set: cache.compile([temporaryClaimPolicy(cert.claimTemplateName)]), denyReason: '', certificateRefused: false, context: base };
    const clientId = base.clientId ?? '';
    const principal = await registry.getPoliciesForPrincipal(certId);
    // Thing variables and group policies: the thing named like the client id, else (newer AWS
    // docs) the thing the certificate is exclusively attached to.
    const attached = principal.things.find((t) => t.thingName === clientId) ?? principal.things.find((t) => t.exclusive);
    let thing: PolicyContext['thing'] = null;
    if (attached !== undefined) {
      const row = await registry.getThing(attached.thingName);
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
      log.error({ certificateId: certId, clientId, policyName: err.policyName, err: err.message }, `certificate ${certId}: ${reason}`);
      return { set: null, denyReason: reason, certificateRefused: false, context };
    }
  }

  class RegistryPrincipal implements Principal {
    readonly certificateId: string;
    #state: PrincipalState;
    #loadedAt: number;
    #refreshing = false;
    readonly #base: PolicyContext;

    constructor(certId: string, state: PrincipalState, base: PolicyContext) {
      this.certificateId = certId;
      this.#state = state;
      this.#base = base;
      this.#loadedAt = clock();
    }

    get context(): PolicyContext {
      return this.#state.context;
    }

    authorize(action: string, resource: string): Decision {
      if (!this.#refreshing && !closed && clock() - this.#loadedAt >= refreshMs) this.#refresh();
      const state = this.#state;
      if (state.set === null) return { allowed: false, reason: state.denyReason };
      return state.set.authorize(action, resource, state.context);
    }

    /** Re-reads the principal in the background; keeps the current state if that fails. */
    #refresh(): void {
      this.#refreshing = true;
      loadState(this.certificateId, this.#base).then(
        (state) => {
          this.#state = state;
          this.#loadedAt = clock();
          this.#refreshing = false;
        },
        (err: unknown) => {
          this.#loadedAt = clock();
          this.#refreshing = false;
          if (!closed) log.warn({ certificateId: this.certificateId, err }, `refreshing the policies of certificate ${this.certificateId} failed; keeping the previous ones`);
        },
      );
    }
  }

  /**
   * Certificate facts by id (a certificate id is the hash of the certificate, so its facts never
   * change): parsing X.509 on every CONNECT was a visible share of the broker's CPU. Shared with the
   * provisioning handlers through the context, so a newly issued certificate is never parsed.
   */
  const facts = ctx.certificateFacts ?? new CertificateFactsCache();

  async function authenticate(attempt: ConnectAttempt): Promise<AuthenticationResult> {
    const certId = certificateIdOf(attempt.peerCertificate);
    const cert = await ctx.registry.getCertificate(certId);
    if (cert === null) {
      if (opts.unregisteredCertificateHook !== undefined) {
        const result = await opts.unregisteredCertificateHook(attempt, certId);
        if (result !== null) return result;
      }
      return { ok: false, reason: `certificate ${certId} is not registered; register it (RegisterCertificate) or provision a new one` };
    }
    const now = ctx.now().getTime();
    const refusal = statusRefusal(cert, now);
    let recovery: { templateName: string } | null = null;
    if (refusal !== null) {
      if (cert.status === 'PENDING_ACTIVATION' && opts.pendingCertificateHook !== undefined) {
        await opts.pendingCertificateHook(cert).catch((err: unknown) => log.error({ certificateId: certId, err }, 'pendingCertificateHook failed'));
      }
      const expiredOnly = cert.status === 'ACTIVE' && cert.expiresAt === null && now > cert.notAfter && statusRefusal(cert, now, true) === null;
      if (expiredOnly && opts.expiredCertificateRecovery !== undefined) recovery = await opts.expiredCertificateRecovery(cert, attempt.clientId);
      if (recovery === null) return { ok: false, reason: refusal };
      log.warn({ certificateId: certId, clientId: attempt.clientId, template: recovery.templateName }, `certificate ${certId} expired at ${new Date(cert.notAfter).toISOString()}: connected in recovery mode (rotation with template ${recovery.templateName} only)`);
    }
    let certificate: NonNullable<PolicyContext['certificate']>;
    try {
      certificate = certificateContext(facts.factsOf(certId, cert.pem));
    } catch (err) {
      log.error({ certificateId: certId, err }, `the stored PEM of certificate ${certId} cannot be parsed`);
      return { ok: false, reason: `certificate ${certId} is stored in a form the server cannot read` };
    }
    const base: PolicyContext = { clientId: attempt.clientId, sourceIp: attempt.sourceIp, certificate, thing: null };
    const state = await loadState(certId, base, cert, recovery !== null);
    if (state.certificateRefused) return { ok: false, reason: state.denyReason };
    if (recovery !== null) return { ok: true, principal: recoveryPrincipal(certId, state, attempt.clientId, recovery.templateName) };
    return { ok: true, principal: new RegistryPrincipal(certId, state, base) };
  }

  /**
   * The principal of an expired certificate in recovery mode: only the CSR flow and RegisterThing on
   * one template, intersected with the certificate's own policies; never refreshed (the
   * certificate's policies are frozen for this connection; deactivating it still drops it).
   */
  function recoveryPrincipal(certId: string, state: PrincipalState, clientId: string, templateName: string): Principal {
    const allowed = new Set<string>([`iot:Connect client/${clientId}`]);
    for (const fmt of ['json', 'cbor']) {
      for (const base of [`$aws/certificates/create-from-csr/${fmt}`, `$aws/provisioning-templates/${templateName}/provision/${fmt}`]) {
        allowed.add(`iot:Publish topic/${base}`);
        for (const outcome of ['accepted', 'rejected']) {
          allowed.add(`iot:Receive topic/${base}/${outcome}`);
          allowed.add(`iot:Subscribe topicfilter/${base}/${outcome}`);
        }
      }
    }
    return {
      certificateId: certId,
      context: state.context,
      authorize(action: string, resource: string): Decision {
        if (!allowed.has(`${action} ${resource}`)) {
          return { allowed: false, reason: `certificate ${certId} is expired and connected in recovery mode: only CreateCertificateFromCsr and RegisterThing on template ${templateName} are allowed` };
        }
        if (state.set === null) return { allowed: false, reason: state.denyReason };
        return state.set.authorize(action, resource, state.context);
      },
    };
  }

  return {
    policyCache: cache,
    authenticate,
    close() {
      closed = true;
    },
  };
}
