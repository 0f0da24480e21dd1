/**
 * The Fastify application of the AWS-compatible control-plane API (service `iot`, rest-json).
 *
 * {@link buildApiApp} returns the root app, which does what every route needs:
 * - keeps the exact raw body bytes (`request.rawBody`); JSON is parsed later, by the scope a route
 *   lives in (after the signature check for AWS operations, see sigv4-plugin.ts);
 * - parses query strings the way SigV4 signs them (`+` stays `+`);
 * - answers every error AWS-style through one error handler (error-handler.ts); route-schema
 *   violations become `InvalidRequestException` naming the field (schema-errors.ts);
 * - tags every response with `x-amzn-RequestId`;
 * - serves the public probes `GET /healthz` and `GET /readyz`.
 *
 * AWS operations live in an encapsulated context behind `sigv4Plugin` (sigv4-plugin.ts):
 * `app.register(async (aws) => { await aws.register(sigv4Plugin, { credentials }); await aws.register(thingsRoutes, ...) })`;
 * anything registered outside it is public.
 */
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type https from 'node:https';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ACCOUNT_ID_RULE, DEFAULT_ACCOUNT_ID, DEFAULT_REGION, isValidAccountId, isValidRegion, REGION_RULE } from '../registry/arn.js';
import { ApiError } from './errors.js';
import { apiErrorHandler, sendApiError, toApiError } from './error-handler.js';
import { parseQueryString } from './querystring.js';
import { AJV_OPTIONS, schemaErrorFormatter } from './schema-errors.js';
import { checkTrustedProxies } from '../net/trusted-proxies.js';

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

/** Options of {@link buildApiApp}. */
export interface ApiAppOptions {
  /** Serve HTTPS with this key and certificate; plain HTTP when absent. */
  https?: ApiTlsOptions;
  /** A pino-compatible logger, `true` for Fastify's default logger, or `false`/absent for none. */
  logger?: FastifyBaseLogger | boolean;
  /** Region used in ARNs; default `us-east-1`. Requests signed for any region are accepted. */
  region?: string;
  /** Account id used in ARNs (12 digits); default `000000000000`. */
  accountId?: string;
  /** Largest request body in bytes; default {@link DEFAULT_BODY_LIMIT}. */
  bodyLimit?: number;
  /** Readiness probe behind `GET /readyz`; default always ready. */
  readiness?: () => boolean | Promise<boolean>;
  /**
   * Reverse proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` / `X-Forwarded-Host` are believed:
   * IP addresses, CIDR ranges, or the names `loopback`, `linklocal`, `uniquelocal` (Fastify's
   * `trustProxy`). A request arriving from one of them has `request.ip` set to the forwarded client
   * address (the console's failed-login limit keys on it). Default: none; the TCP peer is the client.
   */
  trustProxy?: readonly string[];
  /** Time a client has to complete the TLS handshake, ms. Default 10 s (Node's own is 120 s). */
  tlsHandshakeTimeoutMs?: number;
  /** Extra fields of the `/readyz` answer (e.g. the cluster node id). */
  readinessDetails?: () => Record<string, unknown>;
  /**
   * Why the node is not ready whatever the probe says (e.g. it is draining), or null: `/readyz` then
   * answers 503 with this message without running the probe.
   */
  notReadyReason?: () => string | null;
}

/** Default time a control-plane client has to complete the TLS handshake: 10 s. */
export const DEFAULT_API_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** The Fastify instance {@link buildApiApp} returns (HTTP or HTTPS), and every scope in it. */
export type ApiApp = FastifyInstance<http.Server | https.Server>;

declare module 'fastify' {
  interface FastifyRequest {
    /** The exact raw body bytes (empty when there was no body); set before validation. */
    rawBody: Buffer | null;
  }
  interface FastifyInstance {
    /** Region and account for ARNs. */
    awsAccount: AwsAccount;
  }
}

const EMPTY_BODY = Buffer.alloc(0);

/**
 * Builds the root control-plane app (not yet listening) with its public probes. Register the
 * AWS operations in a `sigv4Plugin` (sigv4-plugin.ts) scope, then `await app.listen({ host, port })`.
 *
 * @throws {RangeError} when `accountId` is not 12 digits, `region` not a region code or `bodyLimit` not a positive integer
 */
export function buildApiApp(options: ApiAppOptions = {}): ApiApp {
  const region = options.region ?? DEFAULT_REGION;
  const accountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
  if (!isValidAccountId(accountId)) throw new RangeError(`accountId must be ${ACCOUNT_ID_RULE}, got '${accountId}'`);
  if (!isValidRegion(region)) throw new RangeError(`region must be ${REGION_RULE}, got '${region}'`);
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit <= 0) throw new RangeError('bodyLimit must be a positive integer');

  const trustProxy = checkTrustedProxies(options.trustProxy);
  const common = {
    bodyLimit,
    ...(trustProxy !== undefined ? { trustProxy } : {}),
    requestTimeout: 60_000,
    connectionTimeout: 60_000,
    genReqId: () => randomUUID(),
    requestIdHeader: false as const,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH, querystringParser: parseQueryString },
    ajv: { customOptions: { ...AJV_OPTIONS } },
    schemaErrorFormatter,
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) => {
      void sendApiError(reply, toApiError(error, bodyLimit, request));
    },
    ...loggerOptions(options.logger),
    // Request logs must not carry presigned-URL secrets (session token, signature).
    childLoggerFactory: (logger: FastifyBaseLogger, bindings: Record<string, unknown>, childOptions: object) =>
      logger.child(bindings, { ...childOptions, serializers: { req: serializeRequestForLog } }),
  };
  const app: ApiApp =
    options.https === undefined
      ? Fastify({ ...common, http: { maxHeaderSize: MAX_HEADER_BYTES } })
      : Fastify({
          ...common,
          https: {
            ...options.https,
            maxHeaderSize: MAX_HEADER_BYTES,
            handshakeTimeout: options.tlsHandshakeTimeoutMs ?? DEFAULT_API_TLS_HANDSHAKE_TIMEOUT_MS,
          },
        });

  app.decorate('awsAccount', Object.freeze({ partition: 'aws' as const, region, accountId }));
  app.decorateRequest('awsAuth', null);
  app.decorateRequest('sessionAuth', null);
  app.decorateRequest('rawBody', null);

  // Keep every body as raw bytes; each scope parses JSON itself (after the signature check).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
    done(null, body);
  });

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-amzn-RequestId', request.id);
  });
  app.addHook('preValidation', async (request) => {
    const raw = Buffer.isBuffer(request.body) ? request.body : EMPTY_BODY;
    request.rawBody = raw;
    if (raw.length === 0) request.body = undefined;
  });

  app.setErrorHandler(apiErrorHandler(bodyLimit));

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => {
    const reason = options.notReadyReason?.() ?? null;
    if (reason !== null) throw new ApiError('ServiceUnavailableException', reason);
    const ready = options.readiness === undefined ? true : await options.readiness();
    if (!ready) throw new ApiError('ServiceUnavailableException', 'The service is not ready yet.');
    return { status: 'ready', ...(options.readinessDetails?.() ?? {}) };
  });
  return app;
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

function loggerOptions(logger: FastifyBaseLogger | boolean | undefined): { logger: boolean } | { loggerInstance: FastifyBaseLogger } {
  if (logger === undefined || typeof logger === 'boolean') return { logger: logger ?? false };
  return { loggerInstance: logger };
}
