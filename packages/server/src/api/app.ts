/**
 * The Fastify application of the AWS-compatible control-plane API (service `iot`, rest-json).
 *
 * {@link buildApiApp} returns an app that already does everything every operation needs:
 * - keeps the exact raw body bytes (`request.rawBody`) and parses JSON bodies only after
 *   authentication;
 * - verifies AWS Signature Version 4 on every route except `/healthz`, `/readyz` and `/console*`
 *   (`request.awsAuth` says who signed); an unsigned request may instead be accepted by
 *   `sessionAuth` (the console's session cookie; `request.sessionAuth` says whose);
 * - parses query strings the way SigV4 signs them (`+` stays `+`);
 * - answers every error AWS-style: status code, `x-amzn-ErrorType`, `{"message": ...}`; schema
 *   validation errors become `InvalidRequestException` naming the field, unknown routes
 *   `UnknownOperationException` (404), oversized bodies `RequestEntityTooLargeException` (413),
 *   anything unexpected `InternalFailureException` (500, details only in the log);
 * - tags every response with `x-amzn-RequestId`.
 *
 * Operations are added by the caller with the usual Fastify API before `listen()`/`ready()`:
 * `app.get('/things/:thingName', { schema }, handler)`; a handler throws {@link ApiError} to fail.
 * `DescribeEndpoint` (`GET /endpoint`) is built in.
 */
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type https from 'node:https';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';
import { DEFAULT_MAX_JSON_DEPTH, parseJsonBody } from './json-body.js';
import { parseQueryString } from './querystring.js';
import {
  DEFAULT_SIGNING_SERVICES,
  hasSigV4Authentication,
  missingAuthenticationError,
  verifySigV4,
  type CredentialStore,
  type VerifiedSigV4,
} from './sigv4.js';

/** Endpoint types of `DescribeEndpoint`. */
export type EndpointType = 'iot:Data' | 'iot:Data-ATS' | 'iot:CredentialProvider' | 'iot:Jobs';

/** Every {@link EndpointType}. */
export const ENDPOINT_TYPES: readonly EndpointType[] = Object.freeze(['iot:Data', 'iot:Data-ATS', 'iot:CredentialProvider', 'iot:Jobs']);

/** Default request-body limit: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
/** Largest request head (request line plus headers) accepted: 16 KiB. */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Longest path parameter accepted, in characters as sent (percent-encoded). */
export const MAX_PARAM_LENGTH = 2048;

/** Region and account the API speaks for; operations use them to build ARNs. */
export interface AwsAccount {
  partition: 'aws';
  region: string;
  /** 12 digits. */
  accountId: string;
}

/** TLS material for serving HTTPS. */
export interface ApiTlsOptions {
  key: string | Buffer;
  cert: string | Buffer;
  /** Intermediate certificates to send with `cert`. */
  ca?: string | Buffer | Array<string | Buffer>;
}

/** Who sent a request that {@link ApiAppOptions.sessionAuth} accepted instead of a signature. */
export interface SessionPrincipal {
  /** The access key id the session was opened with. */
  accessKeyId: string;
  /** An id of the session that is safe to log. */
  sessionId: string;
}

/** Options of {@link buildApiApp}. */
export interface ApiAppOptions {
  /** Looks up the secret of an access key id (see {@link CredentialStore}). */
  credentials: CredentialStore;
  /** Serve HTTPS with this key and certificate; plain HTTP when absent. */
  https?: ApiTlsOptions;
  /** A pino-compatible logger, `true` for Fastify's default logger, or `false`/absent for none. */
  logger?: FastifyBaseLogger | boolean;
  /** Region used in ARNs; default `us-east-1`. Requests signed for any region are accepted. */
  region?: string;
  /** Account id used in ARNs (12 digits); default `000000000000`. */
  accountId?: string;
  /** Address `DescribeEndpoint` returns for every endpoint type not in {@link endpoints}; default `localhost`. */
  endpointAddress?: string;
  /** Per-type addresses for `DescribeEndpoint`. */
  endpoints?: Partial<Record<EndpointType, string>>;
  /** Largest request body in bytes; default {@link DEFAULT_BODY_LIMIT}. */
  bodyLimit?: number;
  /** Deepest JSON nesting in a request body; default 32. */
  maxJsonDepth?: number;
  /** Credential-scope services accepted; default `iot` and `execute-api`. */
  signingServices?: readonly string[];
  /** Allowed clock skew of signed requests in ms; default 15 minutes. */
  maxClockSkewMs?: number;
  /** Readiness probe behind `GET /readyz`; default always ready. */
  readiness?: () => boolean | Promise<boolean>;
  /** Clock in epoch ms, for signature time checks; default `Date.now`. */
  now?: () => number;
  /**
   * Authenticates a request that carries no SigV4 signature by another credential (the console's
   * session cookie, see console/auth.ts): returns who sent it, `null` when it carries none (it is
   * then refused as unsigned), or throws an {@link ApiError} to refuse it. Signed requests never
   * reach it.
   */
  sessionAuth?: (request: FastifyRequest) => SessionPrincipal | null;
}

/** The Fastify instance {@link buildApiApp} returns (HTTP or HTTPS). */
export type ApiApp = FastifyInstance<http.Server | https.Server>;

declare module 'fastify' {
  interface FastifyRequest {
    /** Who signed the request; `null` on public routes (`/healthz`, `/readyz`, `/console*`). */
    awsAuth: VerifiedSigV4 | null;
    /** Who sent an unsigned request that `sessionAuth` accepted; `null` otherwise. */
    sessionAuth: SessionPrincipal | null;
    /** The exact raw body bytes (empty when there was no body); set before validation. */
    rawBody: Buffer | null;
  }
  interface FastifyInstance {
    /** Region and account for ARNs. */
    awsAccount: AwsAccount;
  }
}

const EMPTY_BODY = Buffer.alloc(0);
const JSON_CONTENT_TYPE_RE = /^application\/(?:[\w.+-]+\+)?(?:x-amz-json-1\.[01]|json)\s*(?:;|$)/i;
const ACCOUNT_ID_RE = /^\d{12}$/;

/**
 * True for routes that skip SigV4: `/healthz`, `/readyz`, `/metrics` (it checks a bearer token
 * itself, see metrics/route.ts), and `/console` with everything under it. Decided on the matched
 * route pattern, so URL encoding cannot smuggle a private route in.
 */
export function isPublicRoute(routePattern: string | undefined): boolean {
  if (routePattern === undefined) return false;
  return (
    routePattern === '/healthz' ||
    routePattern === '/readyz' ||
    routePattern === '/metrics' ||
    routePattern === '/console' ||
    routePattern.startsWith('/console/')
  );
}

/** Sends `error` as AWS does: its status, `x-amzn-ErrorType` and the JSON body `{message, ...extra}`. */
export function sendApiError(reply: FastifyReply, error: ApiError): FastifyReply {
  return reply
    .code(error.statusCode)
    .header('x-amzn-ErrorType', error.errorType)
    .type('application/json; charset=utf-8')
    .send(error.toBody());
}

/**
 * Builds the control-plane app (not yet listening). Add operations with the Fastify route API,
 * then `await app.listen({ host, port })`.
 *
 * @throws {RangeError} when `accountId` is not 12 digits or `bodyLimit` is not a positive integer
 */
export function buildApiApp(options: ApiAppOptions): ApiApp {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '000000000000';
  if (!ACCOUNT_ID_RE.test(accountId)) throw new RangeError(`accountId must be 12 digits, got '${accountId}'`);
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit <= 0) throw new RangeError('bodyLimit must be a positive integer');
  const maxJsonDepth = options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
  const sigOptions = {
    credentials: options.credentials,
    services: options.signingServices ?? DEFAULT_SIGNING_SERVICES,
    ...(options.maxClockSkewMs === undefined ? {} : { maxClockSkewMs: options.maxClockSkewMs }),
    ...(options.now === undefined ? {} : { now: options.now }),
  };

  /** `options.sessionAuth`, logging its refusals as SigV4 failures are logged. */
  function authenticateSession(request: FastifyRequest): SessionPrincipal | null {
    if (options.sessionAuth === undefined) return null;
    try {
      return options.sessionAuth(request);
    } catch (err) {
      if (err instanceof ApiError) request.log.warn({ errorType: err.errorType, reason: err.message }, 'request authentication failed');
      throw err;
    }
  }

  const common = {
    bodyLimit,
    requestTimeout: 60_000,
    connectionTimeout: 60_000,
    genReqId: () => randomUUID(),
    requestIdHeader: false as const,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH, querystringParser: parseQueryString },
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) => {
      const apiError = toApiError(error, bodyLimit, request);
      void sendApiError(reply, apiError);
    },
    ...loggerOptions(options.logger),
    // Request logs must not carry presigned-URL secrets (session token, signature).
    childLoggerFactory: (logger: FastifyBaseLogger, bindings: Record<string, unknown>, childOptions: object) =>
      logger.child(bindings, { ...childOptions, serializers: { req: serializeRequestForLog } }),
  };
  const app: ApiApp =
    options.https === undefined
      ? Fastify({ ...common, http: { maxHeaderSize: MAX_HEADER_BYTES } })
      : Fastify({ ...common, https: { ...options.https, maxHeaderSize: MAX_HEADER_BYTES } });

  app.decorate('awsAccount', Object.freeze({ partition: 'aws' as const, region, accountId }));
  app.decorateRequest('awsAuth', null);
  app.decorateRequest('sessionAuth', null);
  app.decorateRequest('rawBody', null);

  // Keep every body as raw bytes; JSON is parsed in preValidation, after the signature check.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
    done(null, body);
  });

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-amzn-RequestId', request.id);
    // Refuse unsigned requests before reading their bodies.
    if (!isPublicRoute(request.routeOptions.url) && !hasSigV4Authentication(request.raw.url ?? '', request.headers.authorization)) {
      const session = authenticateSession(request);
      if (session !== null) {
        request.sessionAuth = session;
        return;
      }
      request.log.info({ errorType: 'MissingAuthenticationTokenException' }, 'request refused: not signed');
      throw missingAuthenticationError();
    }
  });

  app.addHook('preValidation', async (request) => {
    const raw = Buffer.isBuffer(request.body) ? request.body : EMPTY_BODY;
    request.rawBody = raw;
    if (!isPublicRoute(request.routeOptions.url) && request.sessionAuth === null) {
      try {
        request.awsAuth = await verifySigV4(
          { method: request.raw.method ?? 'GET', url: request.raw.url ?? '/', rawHeaders: request.raw.rawHeaders, body: raw },
          sigOptions,
        );
      } catch (err) {
        if (err instanceof ApiError) {
          request.log.warn(
            { errorType: err.errorType, reason: err.message, ...(err.detail === undefined ? {} : { detail: err.detail }) },
            'request authentication failed',
          );
        }
        throw err;
      }
    }
    if (raw.length === 0) request.body = undefined;
    else if (isJsonContentType(request.headers['content-type'])) request.body = parseJsonBody(raw, maxJsonDepth);
  });

  app.setErrorHandler((error, request, reply) => {
    const apiError = toApiError(error, bodyLimit, request);
    if (apiError.statusCode >= 500) request.log.error({ err: error }, 'request failed with an internal error');
    return sendApiError(reply, apiError);
  });

  app.setNotFoundHandler(async (request) => {
    const path = (request.raw.url ?? '/').split('?')[0] ?? '/';
    throw new ApiError(
      'UnknownOperationException',
      `No operation matches ${request.raw.method ?? ''} ${path.length > 256 ? `${path.slice(0, 256)}...` : path}.`,
    );
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => {
    const ready = options.readiness === undefined ? true : await options.readiness();
    if (!ready) throw new ApiError('ServiceUnavailableException', 'The service is not ready yet.');
    return { status: 'ready' };
  });

  registerDescribeEndpoint(app, options.endpointAddress ?? 'localhost', options.endpoints ?? {});
  return app;
}

/** `DescribeEndpoint`: `GET /endpoint?endpointType=...` → `{ endpointAddress }`. */
function registerDescribeEndpoint(app: ApiApp, fallback: string, endpoints: Partial<Record<EndpointType, string>>): void {
  app.get(
    '/endpoint',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { endpointType: { type: 'string', maxLength: 128 } },
        },
      },
    },
    async (request) => {
      const { endpointType } = request.query as { endpointType?: string };
      const type = endpointType ?? 'iot:Data';
      if (!isEndpointType(type)) {
        throw new ApiError('InvalidRequestException', `endpointType must be one of ${ENDPOINT_TYPES.join(', ')}.`);
      }
      return { endpointAddress: endpoints[type] ?? fallback };
    },
  );
}

/** Shape of a request as logged; the URL has presigned secrets redacted. */
interface LoggedRequest {
  method: string | undefined;
  url: string;
  host: string | undefined;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
}

/** Replaces the values of `X-Amz-Security-Token` and `X-Amz-Signature` in a URL with `<redacted>`. */
export function redactUrlSecrets(url: string): string {
  return url.replace(/([?&](?:X-Amz-Security-Token|X-Amz-Signature)=)[^&#]*/gi, '$1<redacted>');
}

function serializeRequestForLog(req: FastifyRequest): LoggedRequest {
  return {
    method: req.method,
    url: redactUrlSecrets(req.url ?? ''),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

function isEndpointType(value: string): value is EndpointType {
  return (ENDPOINT_TYPES as readonly string[]).includes(value);
}

function isJsonContentType(contentType: string | undefined): boolean {
  return contentType === undefined || contentType === '' || JSON_CONTENT_TYPE_RE.test(contentType);
}

interface FrameworkErrorShape {
  code?: unknown;
  statusCode?: unknown;
  validation?: unknown;
  message?: unknown;
}

/** Maps anything thrown while handling a request to the {@link ApiError} to answer with. */
function toApiError(error: unknown, bodyLimit: number, request: FastifyRequest): ApiError {
  if (error instanceof ApiError) return error;
  const shape: FrameworkErrorShape = typeof error === 'object' && error !== null ? (error as FrameworkErrorShape) : {};
  const message = typeof shape.message === 'string' ? shape.message : 'Invalid request.';
  if (shape.validation !== undefined) return new ApiError('InvalidRequestException', message);
  if (shape.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || shape.statusCode === 413) {
    return new ApiError('RequestEntityTooLargeException', `Request body is larger than the limit of ${bodyLimit} bytes.`);
  }
  const status = typeof shape.statusCode === 'number' ? shape.statusCode : 500;
  if (status >= 400 && status < 500 && typeof shape.code === 'string' && shape.code.startsWith('FST_')) {
    return new ApiError('InvalidRequestException', message);
  }
  return new ApiError('InternalFailureException', `An internal error occurred (request id ${request.id}).`, { cause: error });
}

function loggerOptions(logger: FastifyBaseLogger | boolean | undefined): { logger: boolean } | { loggerInstance: FastifyBaseLogger } {
  if (logger === undefined || typeof logger === 'boolean') return { logger: logger ?? false };
  return { loggerInstance: logger };
}
