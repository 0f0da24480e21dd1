/**
 * SigV4 authentication as a Fastify plugin. Register it inside the encapsulated context that
 * holds the AWS operations:
 *
 * ```ts
 * app.register(async (aws) => {
 *   await aws.register(sigv4Plugin, { credentials });
 *   await aws.register(thingsRoutes, { context });
 * });
 * ```
 *
 * Every route of that context (and every unknown path, see {@link sigv4Plugin}) then requires a
 * valid AWS Signature Version 4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html);
 * routes registered outside it (health, readiness, metrics, console pages) are public simply by
 * living elsewhere. An unsigned request is refused before its body is read; the signature is
 * checked against the exact raw body bytes, and the JSON body is parsed only after that.
 *
 * One narrow alternative: `sessionAuth` (the console's session cookie, console/auth.ts) may
 * accept an unsigned request instead; a signed request never reaches it.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';
import { DEFAULT_MAX_JSON_DEPTH } from './json-body.js';
import { parseRequestBody } from './request-body.js';
import {
  DEFAULT_SIGNING_SERVICES,
  hasSigV4Authentication,
  missingAuthenticationError,
  verifySigV4,
  type CredentialStore,
  type SigV4VerifyOptions,
  type VerifiedSigV4,
} from './sigv4.js';
import { enterRequester } from '../events/requester.js';

/** Who sent a request that {@link SigV4PluginOptions.sessionAuth} accepted instead of a signature. */
export interface SessionPrincipal {
  /** The access key id the session was opened with. */
  accessKeyId: string;
  /** An id of the session that is safe to log. */
  sessionId: string;
}

/** Options of {@link sigv4Plugin}. */
export interface SigV4PluginOptions {
  /** Looks up the secret of an access key id (see {@link CredentialStore}). */
  credentials: CredentialStore;
  /** Credential-scope services accepted; default `iot` and `execute-api`. */
  signingServices?: readonly string[];
  /**
   * How far a signed request's time stamp (`X-Amz-Date`) may be from the server clock, either way,
   * ms; default 5 minutes (AWS's rule, see {@link DEFAULT_SIGNATURE_WINDOW_MS} in sigv4.ts).
   * Console session requests carry no signature and are not affected.
   */
  maxClockSkewMs?: number;
  /** Clock in epoch ms, for signature time checks; default `Date.now`. */
  now?: () => number;
  /** Deepest JSON nesting in a request body; default 32. */
  maxJsonDepth?: number;
  /**
   * Authenticates a request that carries no SigV4 signature by another credential (the console's
   * session cookie, see console/auth.ts): returns who sent it, `null` when it carries none (it is
   * then refused as unsigned), or throws an {@link ApiError} to refuse it. Signed requests never
   * reach it.
   */
  sessionAuth?: (request: FastifyRequest) => SessionPrincipal | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who signed the request; `null` outside the SigV4 scope or for a session request. */
    awsAuth: VerifiedSigV4 | null;
    /** Who sent an unsigned request that `sessionAuth` accepted; `null` otherwise. */
    sessionAuth: SessionPrincipal | null;
  }
}

/** Logs a refused authentication the same way for signatures and sessions. */
function logRefusal(request: FastifyRequest, err: unknown): void {
  if (err instanceof ApiError) {
    request.log.warn(
      { errorType: err.errorType, reason: err.message, ...(err.detail === undefined ? {} : { detail: err.detail }) },
      'request authentication failed',
    );
  }
}

async function sigv4(aws: FastifyInstance, options: SigV4PluginOptions): Promise<void> {
  const verifyOptions: SigV4VerifyOptions = {
    credentials: options.credentials,
    services: options.signingServices ?? DEFAULT_SIGNING_SERVICES,
    ...(options.maxClockSkewMs === undefined ? {} : { maxClockSkewMs: options.maxClockSkewMs }),
    ...(options.now === undefined ? {} : { now: options.now }),
  };
  const maxJsonDepth = options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;

  /** `options.sessionAuth`, logging its refusals as signature failures are logged. */
  function authenticateSession(request: FastifyRequest): SessionPrincipal | null {
    if (options.sessionAuth === undefined) return null;
    try {
      return options.sessionAuth(request);
    } catch (err) {
      logRefusal(request, err);
      throw err;
    }
  }

  // Refuse unsigned requests before reading their bodies.
  aws.addHook('onRequest', async (request) => {
    if (hasSigV4Authentication(request.raw.url ?? '', request.headers.authorization)) return;
    const session = authenticateSession(request);
    if (session !== null) {
      request.sessionAuth = session;
      return;
    }
    request.log.info({ errorType: 'MissingAuthenticationTokenException' }, 'request refused: not signed');
    throw missingAuthenticationError();
  });

  aws.addHook('preValidation', async (request) => {
    if (request.sessionAuth === null) {
      try {
        request.awsAuth = await verifySigV4(
          {
            method: request.raw.method ?? 'GET',
            url: request.raw.url ?? '/',
            rawHeaders: request.raw.rawHeaders,
            body: request.rawBody ?? Buffer.alloc(0),
          },
          verifyOptions,
        );
      } catch (err) {
        logRefusal(request, err);
        throw err;
      }
    }
    parseRequestBody(request, maxJsonDepth);
  });

  // Who asked, for the event log (events/requester.ts). A callback hook: the handler runs in its context.
  aws.addHook('preHandler', (request, _reply, done) => {
    if (request.sessionAuth !== null)
      enterRequester({ kind: 'console', accessKeyId: request.sessionAuth.accessKeyId, sessionId: request.sessionAuth.sessionId });
    else if (request.awsAuth !== null) enterRequester({ kind: 'admin', accessKeyId: request.awsAuth.accessKeyId });
    done();
  });

  // Unknown paths are answered inside this scope, so an unsigned probe learns nothing.
  aws.setNotFoundHandler(async (request) => {
    const path = (request.raw.url ?? '/').split('?')[0] ?? '/';
    throw new ApiError(
      'UnknownOperationException',
      `No operation matches ${request.raw.method ?? ''} ${path.length > 256 ? `${path.slice(0, 256)}...` : path}.`,
    );
  });
}

/**
 * Fastify applies a plugin's hooks to the context that registers it when the plugin function
 * carries `Symbol.for('skip-override')` (what the `fastify-plugin` package sets; see
 * https://fastify.dev/docs/latest/Reference/Plugins/#handle-the-scope).
 */
function sharedWithParent<T extends FastifyPluginAsync<never>>(plugin: T): T {
  Object.defineProperty(plugin, Symbol.for('skip-override'), { value: true });
  return plugin;
}

/** Requires SigV4 (or, narrowly, a console session) on every route of the registering context. */
export const sigv4Plugin: FastifyPluginAsync<SigV4PluginOptions> = sharedWithParent(sigv4);

/** Parses JSON bodies for the routes of the registering context (for public routes that take a body). */
export const jsonBodyPlugin: FastifyPluginAsync<{ maxJsonDepth?: number }> = sharedWithParent(async (scope, options) => {
  const maxJsonDepth = options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
  scope.addHook('preValidation', async (request) => {
    parseRequestBody(request, maxJsonDepth);
  });
});
