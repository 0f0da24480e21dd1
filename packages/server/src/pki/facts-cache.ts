/**
 * A bounded cache of {@link CertificateFacts} by certificate id. A certificate id is the hash of the
 * certificate, so its facts never change and caching them is always safe; what the cache saves is
 * parsing X.509 on every CONNECT. The provisioning handlers put in the facts of certificates they
 * issue (known without parsing), so a device's first connection with its new certificate costs no
 * parse either. A cache, not state: a miss (another server process, a restart) parses the PEM.
 */
import { parseCertificateFacts, type CertificateFacts } from './cert-facts.js';

/** Default number of certificates kept. */
export const DEFAULT_FACTS_CACHE_SIZE = 10_000;

/** Certificate facts by id, least recently added evicted first. */
export class CertificateFactsCache {
  readonly #entries = new Map<string, CertificateFacts>();
  readonly #max: number;

  /** @param maxEntries most certificates kept (default {@link DEFAULT_FACTS_CACHE_SIZE}) */
  constructor(maxEntries: number = DEFAULT_FACTS_CACHE_SIZE) {
    this.#max = Math.max(1, Math.floor(maxEntries));
  }

  /** Number of cached certificates. */
  get size(): number {
    return this.#entries.size;
  }

  /** Adds the facts of a certificate (e.g. one just issued). */
  remember(facts: CertificateFacts): void {
    if (this.#entries.has(facts.certificateId)) return;
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(facts.certificateId, facts);
  }

  /**
   * The facts of certificate `certificateId` whose PEM is `pem`: cached, or parsed and cached.
   * The caller vouches that `pem` is the certificate with that id (e.g. both come from the registry).
   * @throws {PkiError} `InvalidCertificate` when the PEM must be parsed and cannot be
   */
  factsOf(certificateId: string, pem: string): CertificateFacts {
    const cached = this.#entries.get(certificateId);
    if (cached !== undefined) return cached;
    const facts = parseCertificateFacts(pem);
    this.remember(facts);
    return facts;
  }
}
