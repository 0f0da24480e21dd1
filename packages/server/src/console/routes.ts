/**
 * The web console's own routes, under `/console`, registered outside the SigV4 scope (each checks
 * the session itself):
 * - `GET /console/` and `GET /console/assets/<file>`: the static single-page app shipped in
 *   `packages/server/console/` (no data in it; everything it shows comes from the API);
 * - `POST /console/api/login`: the access key pair, or a login token of `fleetprov console-login`,
 *   for a session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS);
 * - `GET /console/api/session`, `POST /console/api/logout`.
 * The console's routes under `/fleetprov/` (SigV4 or a session) are in api/extensions/console.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../api/errors.js';
import type { CredentialStore } from '../api/sigv4.js';
import { jsonBodyPlugin } from '../api/sigv4-plugin.js';
import { object, text, type Schema } from '../api/routes/schemas.js';
import { checkCsrf, checkOrigin, CSRF_HEADER, readCookie, requestSession, SESSION_COOKIE, sessionCookieHeader } from './auth.js';
import { safeEqual, type ConsoleSession, type ConsoleSessions } from './sessions.js';
import {
  DEFAULT_LOGIN_FAILURE_WINDOW_MS,
  DEFAULT_MAX_FAILURES_PER_KEY,
  LoginLimiter,
  type FailureOutcome,
  type LoginLimiterOptions,
} from './login-limiter.js';

/** Directory of the console's static files (`packages/server/console`). */
export const CONSOLE_ASSET_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'console');

/** Failed logins allowed per (client address, access key id) within {@link LOGIN_FAILURE_WINDOW_MS} (see login-limiter.ts). */
export const MAX_LOGIN_FAILURES = DEFAULT_MAX_FAILURES_PER_KEY;
/** Window of {@link MAX_LOGIN_FAILURES}: 5 minutes. */
export const LOGIN_FAILURE_WINDOW_MS = DEFAULT_LOGIN_FAILURE_WINDOW_MS;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** Served with every console page: nothing but the console's own files may run or load. */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

const ACCESS_KEY_ID: Schema = {
  type: 'string',
  minLength: 16,
  maxLength: 128,
  pattern: '^[A-Za-z0-9]+$',
  description: 'letters and digits',
};
/** A login: a login token, or an access key pair (checked in the handler: a schema cannot say "one or the other" with today's messages). */
const LOGIN_BODY = object({ loginToken: text(256, 1), accessKeyId: ACCESS_KEY_ID, secretAccessKey: text(256, 1) });

/** Options of {@link registerConsoleRoutes}. */
export interface ConsoleRouteOptions {
  sessions: ConsoleSessions;
  /** The admin credentials (the same store SigV4 checks). */
  credentials: CredentialStore;
  /** Directory of the static files; default {@link CONSOLE_ASSET_DIR}. */
  assetDir?: string;
  /** Clock in epoch ms; default the sessions' clock. */
  now?: () => number;
  /** The failed-login limits (login-limiter.ts); the clock is {@link now}. */
  loginLimits?: Omit<LoginLimiterOptions, 'now'>;
}

interface Asset {
  body: Buffer;
  type: string;
}

/** Reads every file of the asset directory (up to three levels deep) once, at startup. */
function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (sub: string, depth: number): void => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub === '' ? entry.name : `${sub}/${entry.name}`;
      if (entry.isDirectory()) {
        if (depth < 3) walk(rel, depth + 1);
        continue;
      }
      const type = CONTENT_TYPES[extname(entry.name)];
      if (type !== undefined) assets.set(rel, { body: readFileSync(join(dir, rel)), type });
    }
  };
  walk('', 1);
  return assets;
}

function sendAsset(reply: FastifyReply, asset: Asset): FastifyReply {
  return reply.headers(SECURITY_HEADERS).type(asset.type).send(asset.body);
}

function sessionView(session: ConsoleSession): object {
  return { accessKeyId: session.accessKeyId, csrfToken: session.csrfToken, expiresAt: session.expiresAt / 1000 };
}

/** The console's pages, assets and session routes, as a Fastify plugin (register it outside the SigV4 scope). */
export const consoleRoutes: FastifyPluginAsync<ConsoleRouteOptions> = async (app, options) => {
  const { sessions, credentials } = options;
  const now = options.now ?? (() => sessions.now());
  const assets = loadAssets(options.assetDir ?? CONSOLE_ASSET_DIR);
  const index = assets.get('index.html');
  if (index === undefined) throw new Error(`the console's index.html is missing from ${options.assetDir ?? CONSOLE_ASSET_DIR}`);
  const limiter = new LoginLimiter({ ...options.loginLimits, now });
  const windowMinutes = limiter.windowMs / 60_000;
  const maxAgeSeconds = Math.floor(sessions.maxTtlMs / 1000);

  const notFound = (request: FastifyRequest): ApiError =>
    new ApiError('UnknownOperationException', `No console file matches ${(request.raw.url ?? '').slice(0, 256)}.`);

  app.get('/console', async (_request, reply) => reply.redirect('/console/'));
  app.get('/console/', async (_request, reply) => sendAsset(reply, index));
  app.get('/console/assets/*', async (request, reply) => {
    const rel = (request.params as { '*': string })['*'];
    const asset = assets.get(`assets/${rel}`);
    if (asset === undefined) throw notFound(request);
    return sendAsset(reply, asset);
  });

  /**
   * Answers a failed sign-in with `refusal`, logged, while its address is within its failure limit;
   * beyond it with `ThrottlingException` (a locked key's own refusal is kept), logged once when the
   * limit is crossed.
   */
  function refuseFailure(request: FastifyRequest, outcome: FailureOutcome, reason: string, fields: object, refusal: ApiError): never {
    const address = request.ip;
    if (!outcome.addressThrottled) {
      request.log.warn({ ...fields, reason, clientAddress: address }, 'console login refused');
      throw refusal;
    }
    if (outcome.addressJustThrottled) {
      request.log.warn(
        { ...fields, reason, clientAddress: address, failures: outcome.addressFailures, windowMinutes },
        `console login refused: ${limiter.maxFailuresPerAddress} failed sign-ins from ${address} within ${windowMinutes} minutes; further failures from it are answered ThrottlingException and not logged one by one`,
      );
    }
    if (refusal.errorType === 'ThrottlingException') throw refusal;
    throw new ApiError(
      'ThrottlingException',
      `Too many failed logins from ${address}; failed attempts are throttled for up to ${windowMinutes} minutes (a right key pair or login token still signs in).`,
    );
  }

  async function checkKeyPair(accessKeyId: string, secretAccessKey: string): Promise<boolean> {
    const expected = await credentials(accessKeyId, undefined);
    return expected !== undefined && safeEqual(expected, secretAccessKey);
  }

  await app.register(jsonBodyPlugin);

  /** Refuses a login from another site before its body is read. */
  async function checkLoginOrigin(request: FastifyRequest): Promise<void> {
    // A custom header cannot be sent cross-site without a CORS preflight, which this server never grants.
    if (request.headers[CSRF_HEADER] === undefined) {
      throw new ApiError('AccessDeniedException', 'A console login must send the X-Fleetprov-Csrf header.');
    }
    checkOrigin(request);
  }

  app.post<{ Body: { loginToken?: string | null; accessKeyId?: string | null; secretAccessKey?: string | null } }>(
    '/console/api/login',
    { schema: { body: LOGIN_BODY }, onRequest: checkLoginOrigin },
    async (request, reply) => {
      const address = request.ip;
      const body = request.body;
      let accessKeyId: string | undefined;
      if (body.loginToken != null) {
        const token = body.loginToken;
        accessKeyId = sessions.consumeLoginToken(token);
        if (accessKeyId === undefined) {
          refuseFailure(
            request,
            limiter.recordFailure(address, null),
            'unknown, used or expired login token',
            {},
            new ApiError(
              'UnrecognizedClientException',
              'The login token is not valid (unknown, already used or expired); run fleetprov console-login again.',
            ),
          );
        }
      } else {
        const id = body.accessKeyId;
        const secret = body.secretAccessKey;
        if (id == null) throw new ApiError('InvalidRequestException', 'accessKeyId must be a string.');
        if (secret == null) throw new ApiError('InvalidRequestException', 'secretAccessKey must be a string.');
        if (limiter.isKeyLocked(address, id)) {
          // Not checked, and counted for the address only: the key's lock ends a window after the failure that set it.
          refuseFailure(
            request,
            limiter.recordFailure(address, null),
            'access key locked for this address',
            { accessKeyId: id },
            new ApiError(
              'ThrottlingException',
              `Too many failed logins with access key ${id} from ${address}; wait up to ${windowMinutes} minutes, or sign in with a login token (fleetprov console-login).`,
            ),
          );
        }
        if (!(await checkKeyPair(id, secret))) {
          refuseFailure(
            request,
            limiter.recordFailure(address, id),
            'wrong access key pair',
            { accessKeyId: id },
            new ApiError('UnrecognizedClientException', 'The access key id or the secret access key is wrong.'),
          );
        }
        limiter.recordSuccess(address, id);
        accessKeyId = id;
      }
      const { cookie, session } = sessions.create(accessKeyId);
      request.log.info({ accessKeyId, session: session.id.slice(0, 16) }, 'console login');
      void reply.header('set-cookie', sessionCookieHeader(cookie, { secure: request.protocol === 'https', maxAgeSeconds }));
      return sessionView(session);
    },
  );

  app.get('/console/api/session', async (request) => {
    const session = requestSession(sessions, request);
    if (session === null) throw new ApiError('UnauthorizedException', 'Not logged in to the console.');
    return sessionView(session);
  });

  app.post('/console/api/logout', async (request, reply) => {
    const session = requestSession(sessions, request);
    if (session !== null) {
      checkCsrf(session, request);
      sessions.destroy(readCookie(request.headers.cookie, SESSION_COOKIE) ?? '');
    }
    void reply.header('set-cookie', sessionCookieHeader('', { secure: request.protocol === 'https', maxAgeSeconds }));
    return {};
  });
};
