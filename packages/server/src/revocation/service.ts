/**
 * Revocation published for relying parties other than fleetprov's own broker: the CRL of each
 * issuing CA and the OCSP answers, both read from the registry's certificate statuses.
 *
 * - REVOKED certificates are revoked (reason unspecified, revocation time = the status change);
 *   INACTIVE and REGISTER_INACTIVE ones are on hold (`certificateHold`: they may become ACTIVE again
 *   and then leave the CRL); every other status is good. Expired certificates leave the CRL.
 * - The CRL is cached and rebuilt when a committed registry change moves a certificate into or out of
 *   those statuses ({@link RevocationService.onChanges}), when it is older than `crlRefreshMs`
 *   (default daily; nextUpdate is thisUpdate + `crlValidityMs`, default two days), and — on a cluster
 *   node, which does not see the other nodes' changes — when older than `crlMaxAgeMs`.
 * - OCSP reads the registry on every request (certificates by serial, indexed), so it is never stale.
 */
import type { Logger } from 'pino';
import type { CertificateRow, Registry, RegistryChange } from '../registry/index.js';
import { buildCrl, type RevokedEntry } from '../pki/crl.js';
import { answerOcspRequest, type CertificateRevocationStatus, type OcspAnswer } from '../pki/ocsp.js';
import type { RevocationSigner } from '../pki/revocation-signer.js';

const HOUR_MS = 3_600_000;
/** Statuses published as revoked (REVOKED) or on hold (the others). */
const REVOKED_STATUSES = ['REVOKED', 'INACTIVE', 'REGISTER_INACTIVE'] as const;

/** Options of {@link RevocationService}. */
export interface RevocationServiceOptions {
  registry: Registry;
  /** The issuing CAs whose revocation is published (today one). */
  signers: readonly RevocationSigner[];
  /** The AuthorityKeyIdentifier (hex) of a stored certificate, or null (e.g. parsed through the facts cache). */
  authorityKeyIdOf: (row: CertificateRow) => string | null;
  logger: Logger;
  /** Clock. Default `() => new Date()`. */
  now?: () => Date;
  /** Rebuild a CRL at least this often, ms. Default 24 hours. */
  crlRefreshMs?: number;
  /** nextUpdate - thisUpdate of every CRL, ms. Default twice `crlRefreshMs`. */
  crlValidityMs?: number;
  /** Rebuild a CRL served that is older than this, ms (cluster nodes). Default `crlRefreshMs`. */
  crlMaxAgeMs?: number;
}

interface CachedCrl {
  der: Buffer;
  builtAt: number;
}

/** Publishes the CRLs and answers OCSP for the server's issuing CAs. */
export class RevocationService {
  readonly #o: Required<Omit<RevocationServiceOptions, 'now'>> & { now: () => Date };
  readonly #crls = new Map<string, Promise<CachedCrl>>();
  #lastCrlNumber = 0n;
  #timer: NodeJS.Timeout | null = null;

  constructor(options: RevocationServiceOptions) {
    const refresh = options.crlRefreshMs ?? 24 * HOUR_MS;
    if (!Number.isSafeInteger(refresh) || refresh < 1000) throw new RangeError('crlRefreshMs must be an integer of at least 1000');
    const validity = options.crlValidityMs ?? 2 * refresh;
    if (!Number.isSafeInteger(validity) || validity < refresh) throw new RangeError('crlValidityMs must be at least crlRefreshMs');
    this.#o = {
      ...options,
      now: options.now ?? (() => new Date()),
      crlRefreshMs: refresh,
      crlValidityMs: validity,
      crlMaxAgeMs: Math.min(options.crlMaxAgeMs ?? refresh, refresh),
    };
  }

  /** The issuing CAs served. */
  get signers(): readonly RevocationSigner[] {
    return this.#o.signers;
  }

  /** Starts the periodic rebuild (every `crlRefreshMs`). */
  start(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => this.#rebuildAll('scheduled'), this.#o.crlRefreshMs);
    this.#timer.unref();
  }

  /** Stops the periodic rebuild. */
  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /**
   * The current CRL (DER) of CA `caId`, or null for a CA this server does not serve.
   * @throws whatever the registry throws while building it
   */
  async crl(caId: string): Promise<Buffer | null> {
    const signer = this.#o.signers.find((s) => s.caId === caId);
    if (signer === undefined) return null;
    let cached = this.#crls.get(caId);
    if (cached !== undefined) {
      const current = await cached.catch(() => null);
      if (current === null || this.#o.now().getTime() - current.builtAt >= this.#o.crlMaxAgeMs) cached = undefined;
    }
    if (cached === undefined) cached = this.#rebuild(signer);
    return (await cached).der;
  }

  /**
   * Committed registry changes (the observer's `onCommit`): rebuilds the CRLs when a certificate
   * entered or left a revoked status. Resolves once rebuilt; never rejects (failures are logged and
   * the next request rebuilds).
   */
  async onChanges(changes: readonly RegistryChange[]): Promise<void> {
    const relevant = changes.some((c) => c.kind === 'certificate' && (isRevokedStatus(c.status) || isRevokedStatus(c.previousStatus)));
    if (relevant) await this.#rebuildAll('certificate status change');
  }

  /** Answers a DER OCSP request (never throws; see pki/ocsp.ts). */
  answerOcsp(body: Buffer): Promise<OcspAnswer> {
    return answerOcspRequest(body, this.#o.signers, (signer, serial) => this.#status(signer, serial), this.#o.now());
  }

  async #rebuildAll(why: string): Promise<void> {
    await Promise.all(
      this.#o.signers.map(async (signer) => {
        try {
          await this.#rebuild(signer);
        } catch (err) {
          this.#o.logger.error({ err, caId: signer.caId }, `could not rebuild the CRL (${why}); the next request retries`);
        }
      }),
    );
  }

  #rebuild(signer: RevocationSigner): Promise<CachedCrl> {
    const build = this.#build(signer);
    this.#crls.set(signer.caId, build);
    build.catch(() => {
      if (this.#crls.get(signer.caId) === build) this.#crls.delete(signer.caId);
    });
    return build;
  }

  async #build(signer: RevocationSigner): Promise<CachedCrl> {
    const now = this.#o.now();
    const entries: RevokedEntry[] = [];
    for (const status of REVOKED_STATUSES) {
      let marker: string | undefined;
      do {
        const page = await this.#o.registry.certificates.list({
          status,
          includeHidden: true,
          ascending: true,
          pageSize: 250,
          ...(marker !== undefined ? { marker } : {}),
        });
        for (const row of page.items) {
          if (row.notAfter <= now.getTime() || !this.#issuedBy(row, signer)) continue;
          entries.push({
            serialNumber: row.serial,
            revokedAt: new Date(row.modifiedAt),
            ...(status === 'REVOKED' ? {} : { reason: 'certificateHold' as const }),
          });
        }
        marker = page.nextMarker;
      } while (marker !== undefined);
    }
    const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const number = BigInt(now.getTime());
    this.#lastCrlNumber = number > this.#lastCrlNumber ? number : this.#lastCrlNumber + 1n;
    const der = await buildCrl(signer, {
      entries,
      thisUpdate,
      nextUpdate: new Date(thisUpdate.getTime() + this.#o.crlValidityMs),
      crlNumber: this.#lastCrlNumber,
    });
    this.#o.logger.debug({ caId: signer.caId, entries: entries.length }, 'CRL rebuilt');
    return { der, builtAt: now.getTime() };
  }

  #issuedBy(row: CertificateRow, signer: RevocationSigner): boolean {
    if (row.caCertificateId !== null) return false; // registered under a customer CA (JITP/JITR)
    return this.#o.authorityKeyIdOf(row) === signer.keyIdentifier;
  }

  async #status(signer: RevocationSigner, serial: string): Promise<CertificateRevocationStatus> {
    const rows = (await this.#o.registry.certificates.listBySerial(serial)).filter((row) => this.#issuedBy(row, signer));
    const row = rows[0];
    if (row === undefined) return { status: 'unknown' };
    if (row.status === 'REVOKED') return { status: 'revoked', revokedAt: new Date(row.modifiedAt) };
    if (isRevokedStatus(row.status)) return { status: 'revoked', revokedAt: new Date(row.modifiedAt), reason: 'certificateHold' };
    return { status: 'good' };
  }
}

function isRevokedStatus(status: string | null): boolean {
  return status !== null && (REVOKED_STATUSES as readonly string[]).includes(status);
}
