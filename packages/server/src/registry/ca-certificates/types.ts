/**
 * Registered CA certificates (AWS RegisterCACertificate, DescribeCACertificate, UpdateCACertificate, ...).
 * Timestamps are epoch milliseconds; getters return null for a missing resource.
 */
import type { CertificateMode } from '../certificates/types.js';
import type { MarkerPage, MarkerPageRequest } from '../common-types.js';

/** AWS `CACertificateStatus`. */
export type CaCertificateStatus = 'ACTIVE' | 'INACTIVE';

/** AWS `AutoRegistrationStatus`. */
export type AutoRegistrationStatus = 'ENABLE' | 'DISABLE';

/** A CA's `registrationConfig` (JITP). */
export interface RegistrationConfig {
  templateBody?: string;
  roleArn?: string;
  templateName?: string;
}

/** A registered CA certificate. */
export interface CaCertificateRow {
  id: string;
  arn: string;
  pem: string;
  status: CaCertificateStatus;
  autoRegistration: AutoRegistrationStatus;
  mode: CertificateMode;
  registrationConfig: RegistrationConfig | null;
  subjectDn: string;
  notBefore: number;
  notAfter: number;
  ownedBy: string;
  createdAt: number;
  modifiedAt: number;
  customerVersion: number;
  generationId: string;
}

/** Input of {@link CaCertificateStore.create}. */
export interface NewCaCertificate {
  id: string;
  pem: string;
  status: CaCertificateStatus;
  autoRegistration: AutoRegistrationStatus;
  /** Default `DEFAULT`. */
  mode?: CertificateMode;
  registrationConfig?: RegistrationConfig | null;
  subjectDn: string;
  notBefore: number;
  notAfter: number;
}

/** Input of {@link CaCertificateStore.update}. */
export interface CaCertificateUpdate {
  status?: CaCertificateStatus;
  autoRegistration?: AutoRegistrationStatus;
  /** Replaces the registration config; `null` removes it. */
  registrationConfig?: RegistrationConfig | null;
  /** AWS `removeAutoRegistration`: sets auto-registration to DISABLE. */
  removeAutoRegistration?: boolean;
}

/** Input of {@link CaCertificateStore.list}. */
export interface ListCaCertificatesRequest extends MarkerPageRequest {
  ascending?: boolean;
  /** Only CAs whose registrationConfig names this template. */
  templateName?: string;
  /** Only CAs with exactly this subject DN (as stored: RFC 4514-style, encoding order); finds a certificate's issuer. */
  subjectDn?: string;
}

/** The cA certificates store of a `Registry` (`registry.caCertificates`). */
export interface CaCertificateStore {
  /** RegisterCACertificate: stores a CA. ResourceAlreadyExists; LimitExceeded beyond the same-subject limit. */
  create(input: NewCaCertificate): Promise<CaCertificateRow>;
  /** DescribeCACertificate: the CA, or null. */
  get(id: string): Promise<CaCertificateRow | null>;
  /** ListCACertificates: CAs by creation date (newest first unless `ascending`). */
  list(req?: ListCaCertificatesRequest): Promise<MarkerPage<CaCertificateRow>>;
  /** UpdateCACertificate. Bumps customerVersion. */
  update(id: string, update: CaCertificateUpdate): Promise<CaCertificateRow>;
  /** DeleteCACertificate. CertificateState if ACTIVE. */
  delete(id: string): Promise<void>;
}
