/**
 * Types shared by every registry store: pagination, quotas, options, dialect.
 */
/** Default page size when the caller gives none (AWS's ListCertificates default). */
export const DEFAULT_PAGE_SIZE = 25;

/** Largest page size accepted (AWS's bound for every paginated IoT list). */
export const MAX_PAGE_SIZE = 250;

/** Input of an operation AWS paginates with `pageSize` + `marker` (certificates, CAs, policies). */
export interface MarkerPageRequest {
  /** 1..250; default 25. */
  pageSize?: number;
  /** The `nextMarker` of the previous page. Opaque. */
  marker?: string;
}

/** A page of an operation paginated with `pageSize` + `marker`. */
export interface MarkerPage<T> {
  items: T[];
  /** Present when more items follow; pass it back as `marker`. */
  nextMarker?: string;
}

/** Input of an operation AWS paginates with `maxResults` + `nextToken` (things, templates, principals). */
export interface TokenPageRequest {
  /** 1..250; default 25. */
  maxResults?: number;
  /** The `nextToken` of the previous page. Opaque. */
  nextToken?: string;
}

/** A page of an operation paginated with `maxResults` + `nextToken`. */
export interface TokenPage<T> {
  items: T[];
  /** Present when more items follow; pass it back as `nextToken`. */
  nextToken?: string;
}

/** Attribute map of a thing or thing group. Values are strings. */
export type Attributes = Record<string, string>;

/** Quotas the registry enforces. Defaults follow AWS IoT Core's default quotas (AWS General Reference, "AWS IoT Core endpoints and quotas"). */
export interface RegistryLimits {
  /** Versions per policy. Default 5. */
  maxPolicyVersions: number;
  /** Versions per provisioning template. Default 5. */
  maxTemplateVersions: number;
  /** Policies attached to one certificate or thing group. Default 10. */
  maxPoliciesPerTarget: number;
  /** Thing groups one thing belongs to. Default 10. */
  maxGroupsPerThing: number;
  /** Depth of a thing-group hierarchy (a root group has depth 1). Default 7. */
  maxGroupDepth: number;
  /** CA certificates with the same subject. Default 10. */
  maxCaCertificatesPerSubject: number;
}

/** Options of `openRegistry`. */
export interface RegistryOptions {
  /** Region in ARNs. Default `us-east-1`. */
  region?: string;
  /** 12-digit account id in ARNs and `ownedBy`. Default `000000000000`. */
  accountId?: string;
  /** Clock for created/modified timestamps. Default `Date.now`. */
  clock?: () => number;
  /** Quota overrides. */
  limits?: Partial<RegistryLimits>;
  /** SQLite: how long a writer waits for the database lock, ms. Default 5000. */
  busyTimeoutMs?: number;
  /** PostgreSQL: schema holding the tables (created if absent; lowercase `[a-z_][a-z0-9_]*`). Default: the server's `current_schema()`. */
  schema?: string;
  /** PostgreSQL: maximum pool size. Default 10. */
  poolSize?: number;
  /**
   * PostgreSQL: how long opening a connection may take, ms, before the query fails (and the control
   * plane answers 503 ServiceUnavailableException). Default 10000.
   */
  connectTimeoutMs?: number;
}

/** Which database a registry runs on. */
export type RegistryDialect = 'sqlite' | 'postgres';
