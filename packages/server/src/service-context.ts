import type { Logger } from 'pino';
import type { ReauthorizeScope } from './broker/index.js';
import type { Registry } from './registry/index.js';
import {
  parseCertificateFacts,
  type CertificateAuthority,
  type CertificateFacts,
  type CertificateFactsCache,
  type KeyPool,
} from './pki/index.js';

/** Key algorithm for keys fleetprov generates (CreateKeysAndCertificate). */
export type GeneratedKeyAlgorithm = 'rsa-2048' | 'ec-p256';

/**
 * Everything the provisioning handlers, the broker authority and the control-plane routes share.
 * Built once by `startServer`; no state that matters lives here — it is all in the registry.
 */
export interface ServiceContext {
  registry: Registry;
  ca: CertificateAuthority;
  /** Pre-generated key pairs for CreateKeysAndCertificate (RSA-2048 is slow to generate). */
  keyPool: KeyPool;
  logger: Logger;
  region: string;
  accountId: string;
  /** Validity of device certificates fleetprov issues, in days (default 365). */
  certificateValidityDays: number;
  /**
   * A fixed expiry for every issued device certificate instead of `certificateValidityDays`,
   * e.g. AWS's own choice `2049-12-31T23:59:59Z`.
   */
  certificateNotAfter?: Date;
  /** Key algorithm of CreateKeysAndCertificate (AWS: RSA-2048). */
  keyAlgorithm: GeneratedKeyAlgorithm;
  /** Host name devices connect to (DescribeEndpoint). */
  endpointAddress: string;
  /** Drops live MQTT connections of a certificate (after deactivate/revoke/delete); returns how many. */
  disconnectCertificate(certificateId: string, reason: string): number;
  /**
   * Re-reads now the policies of the live connections in `scope` (after a policy, attachment or
   * thing change), on this node and, in a cluster, on every node. Optional: without it live
   * connections see such changes at their next periodic refresh.
   */
  reauthorize?(scope: ReauthorizeScope): void;
  /** Current time (tests may fix it). */
  now(): Date;
  /**
   * Facts of certificates by id, shared by the provisioning handlers (which add the certificates
   * they issue) and the broker authority (which reads them on CONNECT). Optional: without it each
   * side parses what it needs.
   */
  certificateFacts?: CertificateFactsCache;
}

/** The validity options of a device certificate issued now under `ctx`'s settings. */
export function issuedCertificateValidity(ctx: ServiceContext): { validityDays: number; notAfter?: Date; now: Date } {
  return ctx.certificateNotAfter !== undefined
    ? { validityDays: ctx.certificateValidityDays, notAfter: ctx.certificateNotAfter, now: ctx.now() }
    : { validityDays: ctx.certificateValidityDays, now: ctx.now() };
}

/**
 * The facts of certificate `certificateId` whose PEM is `pem`, from the context's cache when it has one.
 * @throws {PkiError} `InvalidCertificate` when the PEM must be parsed and cannot be
 */
export function certificateFactsOf(ctx: ServiceContext, certificateId: string, pem: string): CertificateFacts {
  return ctx.certificateFacts !== undefined ? ctx.certificateFacts.factsOf(certificateId, pem) : parseCertificateFacts(pem);
}
