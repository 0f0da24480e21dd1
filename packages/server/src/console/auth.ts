/**
 * How the console's session cookie authenticates control-plane requests: the `sessionAuth` option
 * of the SigV4 plugin (api/sigv4-plugin.ts), its one explicit alternative to a signature. A request without the cookie is left to SigV4 (and refused as unsigned); a
 * request with an unknown or expired session is refused; a request that may change something
 * (any method but GET/HEAD) must also carry the session's CSRF token in `X-Fleetprov-Csrf` and,
 * when the browser sends an `Origin`, come from the server's own origin.
 */
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../api/errors.js';
import type { SessionPrincipal } from '../api/sigv4-plugin.js';
import { safeEqual, type ConsoleSession, type ConsoleSessions } from './sessions.js';

/** Name of the session cookie. */
export const SESSION_COOKIE = 'fleetprov_console';
/** Header carrying the session's CSRF token on mutating requests (lower case, as Node reports it). */
export const CSRF_HEADER = 'x-fleetprov-csrf';

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** The value of cookie `name` in a `Cookie` header, or `undefined`. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The `Set-Cookie` value that stores `value` (or clears the cookie when `value` is empty). */
export function sessionCookieHeader(value: string, opts: { secure: boolean; maxAgeSeconds: number }): string {
  const attrs = [`${SESSION_COOKIE}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${value === '' ? 0 : opts.maxAgeSeconds}`];
  if (opts.secure) attrs.push('Secure');
  return attrs.join('; ');
}

/** `ExpiredTokenException` / `UnrecognizedClientException` for a refused session cookie. */
function sessionRefused(reason: 'unknown' | 'expired'): ApiError {
  return reason === 'expired'
    ? new ApiError('ExpiredTokenException', 'The console session has expired; log in again.')
    : new ApiError('UnrecognizedClientException', 'The console session is not valid; log in again.');
}

/**
 * The live session of a request's cookie.
 * @returns `null` when the request has no session cookie
 * @throws {ApiError} for an unknown or expired session
 */
export function requestSession(sessions: ConsoleSessions, request: FastifyRequest): ConsoleSession | null {
  const cookie = readCookie(request.headers.cookie, SESSION_COOKIE);
  if (cookie === undefined || cookie === '') return null;
  const session = sessions.authenticate(cookie);
  if (typeof session === 'string') throw sessionRefused(session);
  return session;
}

/**
 * Refuses a mutating request without the session's CSRF token or from another origin.
 * @throws {ApiError} `AccessDeniedException`
 */
export function checkCsrf(session: ConsoleSession, request: FastifyRequest): void {
  if (SAFE_METHODS.has(request.method)) return;
  const header = request.headers[CSRF_HEADER];
  if (typeof header !== 'string' || !safeEqual(header, session.csrfToken)) {
    throw new ApiError(
      'AccessDeniedException',
      "A request of a console session that changes something must send the session's X-Fleetprov-Csrf header.",
    );
  }
  checkOrigin(request);
}

/**
 * Refuses a request whose `Origin` header (when present) is not this server's own origin.
 * @throws {ApiError} `AccessDeniedException`
 */
export function checkOrigin(request: FastifyRequest): void {
  const origin = request.headers.origin;
  if (origin === undefined) return;
  const own = `${request.protocol}://${request.headers.host ?? ''}`;
  if (origin !== own) throw new ApiError('AccessDeniedException', `Requests from origin ${origin.slice(0, 200)} are not accepted.`);
}

/** The `sessionAuth` option of `sigv4Plugin` over `sessions`. */
export function createSessionAuth(sessions: ConsoleSessions): (request: FastifyRequest) => SessionPrincipal | null {
  return (request) => {
    const session = requestSession(sessions, request);
    if (session === null) return null;
    checkCsrf(session, request);
    return { accessKeyId: session.accessKeyId, sessionId: session.id.slice(0, 16) };
  };
}
