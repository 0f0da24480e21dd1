/**
 * Certificate ownership tokens of fleet provisioning (AWS CreateKeysAndCertificate / RegisterThing).
 * Timestamps are epoch milliseconds; getters return null for a missing resource.
 */

/** A certificate ownership token's server-side record. */
export interface OwnershipTokenRow {
  /** Identifier (e.g. a hash of the token string). */
  id: string;
  certificateId: string;
  /** Id of the certificate whose connection requested the certificate. */
  principal: string;
  expiresAt: number;
  usedAt: number | null;
  createdAt: number;
}

/** Input of {@link OwnershipTokenStore.create}. */
export interface NewOwnershipToken {
  id: string;
  certificateId: string;
  principal: string;
  expiresAt: number;
}

/** The ownership tokens store of a `Registry` (`registry.tokens`). */
export interface OwnershipTokenStore {
  /** Records an ownership token. ResourceNotFound for an unknown certificate. */
  create(input: NewOwnershipToken): Promise<OwnershipTokenRow>;
  /** The token record, or null. */
  get(id: string): Promise<OwnershipTokenRow | null>;
  /**
   * Marks the token used, atomically (one conditional UPDATE: of concurrent callers, in any number of
   * processes, exactly one succeeds). Fails with code InvalidToken (see `tokenFailure`) when it is
   * unknown, already used, expired at `now`, or — when `principal` is given — issued to another principal.
   * Inside a transaction that later rolls back, the token stays unused.
   */
  consume(id: string, now: number, opts?: { principal?: string }): Promise<OwnershipTokenRow>;
  /** Deletes tokens expired at or before `now` whose certificate is no longer PENDING_ACTIVATION. Returns the count. */
  deleteExpired(now: number): Promise<number>;
}
