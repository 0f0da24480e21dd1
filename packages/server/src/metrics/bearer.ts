/**
 * Bearer-token checks for `GET /metrics`: Prometheus cannot sign SigV4 requests, so the endpoint
 * takes a static token instead, compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { MetricsError } from './errors.js';

/** Longest metrics token accepted, characters. */
export const MAX_METRICS_TOKEN_CHARS = 1024;

/** Visible ASCII only (RFC 6750 `b64token` and more): the token must survive an HTTP header. */
const TOKEN_RE = /^[\x21-\x7e]+$/;
const BEARER_RE = /^Bearer +(\S+) *$/i;

/**
 * Checks a configured metrics token.
 * @throws {MetricsError} `InvalidOption` (path `metricsToken`) unless it is 1–1024 visible ASCII characters
 */
export function checkMetricsToken(token: unknown): string {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_METRICS_TOKEN_CHARS || !TOKEN_RE.test(token)) {
    throw new MetricsError(
      'InvalidOption',
      'metricsToken',
      `metricsToken must be 1-${MAX_METRICS_TOKEN_CHARS} visible ASCII characters (no spaces)`,
    );
  }
  return token;
}

/** The token of an `Authorization: Bearer <token>` header, or null for anything else. */
export function bearerToken(authorization: string | undefined): string | null {
  if (typeof authorization !== 'string' || authorization.length > MAX_METRICS_TOKEN_CHARS + 64) return null;
  return BEARER_RE.exec(authorization)?.[1] ?? null;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Whether `presented` equals `expected`, in time independent of where (or whether) they differ. */
export function tokensMatch(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}
