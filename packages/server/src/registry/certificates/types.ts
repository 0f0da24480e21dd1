/**
 * Device and claim certificates (AWS CreateCertificateFromCsr, DescribeCertificate, UpdateCertificate, ...).
 * Timestamps are epoch milliseconds; getters return null for a missing resource.
 */
import type { MarkerPage, MarkerPageRequest } from '../common-types.js';

/** AWS `CertificateStatus`. */
export type CertificateStatus = 'ACTIVE' | 'INACTIVE' | 'REVOKED' | 'PENDING_TRANSFER' | 'REGISTER_INACTIVE' | 'PENDING_ACTIVATION';

/** Every {@link CertificateStatus}, in AWS's enum order. */
export const CERTIFICATE_STATUSES: readonly CertificateStatus[] = Object.freeze([
  'ACTIVE',
  'INACTIVE',
  'REVOKED',
  'PENDING_TRANSFER',
  'REGISTER_INACTIVE',
  'PENDING_ACTIVATION',
] as const);

/** AWS `CertificateMode`. */
export type CertificateMode = 'DEFAULT' | 'SNI_ONLY';

/** `transferData` of a certificate (AWS `TransferData`), timestamps in ms. */
export interface TransferData {
  targetAccountId: string;
  transferMessage: string | null;
  rejectReason: string | null;
  transferDate: number | null;
  acceptDate: number | null;
  rejectDate: number | null;
}

/** A device (or claim) certificate. */
export interface CertificateRow {
  /** Lowercase hex SHA-256 of the DER (64 chars). */
  id: string;
  arn: string;
  pem: string;
  status: CertificateStatus;
  caCertificateId: string | null;
  mode: CertificateMode;
  notBefore: number;
  notAfter: number;
  subjectDn: string;
  issuerDn: string;
  /** Serial number, lowercase hex. */
  serial: string;
  createdAt: number;
  modifiedAt: number;
  /** Starts at 1, +1 per update. */
  customerVersion: number;
  /** UUID, renewed on every update. */
  generationId: string;
  /** Account owning the certificate (`ownedBy`). */
  ownedBy: string;
  previousOwnedBy: string | null;
  transferData: TransferData | null;
  /** Id of the certificate whose connection requested this one (fleet provisioning), if any. */
  issuedByPrincipal: string | null;
  /** Temporary claim certificates (CreateProvisioningClaim) are hidden from ListCertificates. */
  hidden: boolean;
  /** End of life of a temporary claim certificate; null otherwise. */
  expiresAt: number | null;
  /** The template a temporary claim certificate may provision with (CreateProvisioningClaim); null otherwise. */
  claimTemplateName: string | null;
}

/** Input of {@link CertificateStore.create}. */
export interface NewCertificate {
  id: string;
  pem: string;
  status: CertificateStatus;
  caCertificateId?: string | null;
  /** Default `DEFAULT`. */
  mode?: CertificateMode;
  notBefore: number;
  notAfter: number;
  subjectDn: string;
  issuerDn: string;
  serial: string;
  issuedByPrincipal?: string | null;
  hidden?: boolean;
  expiresAt?: number | null;
  /** Temporary claim certificates only: the template they are scoped to. */
  claimTemplateName?: string | null;
}

/** Input of {@link CertificateStore.list}. */
export interface ListCertificatesRequest extends MarkerPageRequest {
  /** Oldest first when true; newest first (AWS's default) otherwise. Order is by creation date. */
  ascending?: boolean;
  /** Include temporary claim certificates. Default false. */
  includeHidden?: boolean;
  /** Only certificates signed by this CA (ListCertificatesByCA). */
  caCertificateId?: string;
  /** Only certificates in this status. */
  status?: CertificateStatus;
}

/** Input of {@link CertificateStore.listExpiring}. */
export interface ListExpiringCertificatesRequest extends MarkerPageRequest {
  /** Statuses to include; default `ACTIVE` and `PENDING_TRANSFER` (as Device Defender's expiring check). */
  statuses?: CertificateStatus[];
}

/** The certificates store of a `Registry` (`registry.certificates`). */
export interface CertificateStore {
  /** Stores a certificate (CreateKeysAndCertificate, CreateCertificateFromCsr, ...). ResourceAlreadyExists if the id exists; ResourceNotFound for an unknown CA. */
  create(input: NewCertificate): Promise<CertificateRow>;
  /** DescribeCertificate: the certificate, or null. */
  get(id: string): Promise<CertificateRow | null>;
  /** ListCertificates / ListCertificatesByCA: certificates by creation date (newest first unless `ascending`). */
  list(req?: ListCertificatesRequest): Promise<MarkerPage<CertificateRow>>;
  /**
   * UpdateCertificate. Idempotent for the current status. CertificateState for a target of
   * PENDING_ACTIVATION or PENDING_TRANSFER, for leaving REVOKED, and while PENDING_TRANSFER.
   * Bumps customerVersion and generationId.
   */
  updateStatus(id: string, status: CertificateStatus): Promise<CertificateRow>;
  /**
   * DeleteCertificate. CertificateState if ACTIVE or PENDING_TRANSFER; DeleteConflict if attached to a
   * thing, or to a policy unless `force` (which detaches the policies).
   */
  delete(id: string, opts?: { force?: boolean }): Promise<void>;
  /**
   * fleetprov (the limits per claim certificate): what the certificate `principalId` issued through the
   * Fleet Provisioning API — how many of those certificates are still PENDING_ACTIVATION, and how many
   * were created in the last `windowMs` (by the registry clock). One statement, on the indexes
   * (issued_by_principal, status) and (issued_by_principal, created_at).
   *
   * With `lock`, inside a transaction, the principal's own certificate row is locked first
   * (PostgreSQL `SELECT … FOR NO KEY UPDATE`; SQLite transactions are `BEGIN IMMEDIATE` and serialise writers
   * already), so transactions counting for the same principal run one after the other and each sees
   * what the previous one committed, on every server sharing the database.
   */
  countIssuedBy(principalId: string, windowMs: number, opts?: { lock?: boolean }): Promise<IssuedCertificateCounts>;
  /**
   * fleetprov (the OCSP responder): the certificates with serial number `serial` (hex, any case, leading
   * zeros ignored), hidden ones included; on the serial index. Usually one; certificates of different
   * CAs may share a serial. At most 16.
   */
  listBySerial(serial: string): Promise<CertificateRow[]>;
  /** Number of certificates per status (every status present). Hidden ones only with `includeHidden`. */
  countByStatus(opts?: { includeHidden?: boolean }): Promise<Record<CertificateStatus, number>>;
  /** Certificates whose notAfter is before `before`, soonest first (hidden temporary claims excluded). */
  listExpiring(before: number, req?: ListExpiringCertificatesRequest): Promise<MarkerPage<CertificateRow>>;
  /**
   * Token sweeper: deletes, in one statement, certificates still PENDING_ACTIVATION that have an
   * ownership token and whose every token expired at or before `now` (with their tokens, policy and
   * thing attachments). Returns the deleted ids.
   */
  deleteExpiredPending(now: number): Promise<string[]>;
  /** Deletes hidden (temporary claim) certificates whose expiresAt is at or before `now` and that no thing uses. */
  deleteExpiredTemporary(now: number): Promise<string[]>;
  /** TransferCertificate: INACTIVE, unattached certificate → PENDING_TRANSFER. */
  transfer(id: string, req: { targetAccountId: string; transferMessage?: string | null }): Promise<CertificateRow>;
  /** AcceptCertificateTransfer: PENDING_TRANSFER → ACTIVE (setAsActive) or INACTIVE; ownership moves. */
  acceptTransfer(id: string, opts?: { setAsActive?: boolean }): Promise<CertificateRow>;
  /** RejectCertificateTransfer: PENDING_TRANSFER → INACTIVE with a reason. */
  rejectTransfer(id: string, rejectReason?: string | null): Promise<CertificateRow>;
  /** CancelCertificateTransfer: PENDING_TRANSFER → INACTIVE, transfer data cleared. */
  cancelTransfer(id: string): Promise<CertificateRow>;
}

/** What {@link CertificateStore.countIssuedBy} counts. */
export interface IssuedCertificateCounts {
  /** Certificates the principal issued that are still PENDING_ACTIVATION. */
  pending: number;
  /** Certificates the principal issued whose `createdAt` is within the window. */
  recent: number;
  /** `createdAt` of the oldest of those, or null when there is none. */
  oldestRecentAt: number | null;
  /** The registry clock's time the window ends at. */
  now: number;
}
