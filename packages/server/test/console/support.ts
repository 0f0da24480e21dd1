/**
 * Helpers of the console tests: a control-plane environment with the console mounted (real
 * HTTPS, SQLite, CA) and a cookie-carrying HTTP client that talks to it like the browser does.
 */
import { ConsoleSessions, type ConsoleSessionOptions } from '../../src/console/index.js';
import { ADMIN, rawRequest, signForWire, smithySigner, type RawResponse } from '../api/helpers.js';
import { startRoutesEnv, type RoutesEnv } from '../api-routes/helpers.js';

/** A settable clock for session expiry. */
export class TestClock {
  now = Date.now();
  readonly fn = (): number => this.now;
  tick(ms: number): void {
    this.now += ms;
  }
}

/** A routes environment with the console and its sessions. */
export interface ConsoleEnv extends RoutesEnv {
  sessions: ConsoleSessions;
  clock: TestClock;
  /** Sends one request (JSON body when `body` is an object) with these headers. */
  send(method: string, path: string, opts?: { headers?: Record<string, string>; body?: unknown }): Promise<RawResponse>;
  /** Logs in with the admin key pair; returns the cookie header value and the CSRF token. */
  login(): Promise<{ cookie: string; csrf: string }>;
  /** Sends a SigV4-signed request with the admin keys. */
  signed(method: string, path: string, body?: unknown): Promise<RawResponse>;
}

/** Starts a console environment. */
export async function startConsoleEnv(sessionOptions: ConsoleSessionOptions = {}): Promise<ConsoleEnv> {
  const clock = new TestClock();
  const sessions = new ConsoleSessions({ now: clock.fn, ...sessionOptions });
  const env = await startRoutesEnv({ consoleSessions: sessions });
  const ca = env.ca.rootCertificatePem;
  const send: ConsoleEnv['send'] = (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    return rawRequest(env.baseUrl, { method, path, headers, ca, ...(body === undefined ? {} : { body }) });
  };
  return {
    ...env,
    sessions,
    clock,
    send,
    async login() {
      const res = await send('POST', '/console/api/login', { headers: { 'x-fleetprov-csrf': 'login' }, body: ADMIN });
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.body}`);
      const setCookie = String(res.headers['set-cookie']?.[0] ?? '');
      return { cookie: setCookie.split(';')[0]!, csrf: (res.json() as { csrfToken: string }).csrfToken };
    },
    async signed(method, path, body) {
      const text = body === undefined ? undefined : JSON.stringify(body);
      const [rawPath, qs] = path.split('?');
      const query = Object.fromEntries(new URLSearchParams(qs ?? ''));
      const wire = await signForWire(
        env.baseUrl,
        {
          method,
          path: rawPath!,
          query,
          headers: text === undefined ? {} : { 'content-type': 'application/json' },
          ...(text === undefined ? {} : { body: text }),
        },
        smithySigner(ADMIN),
      );
      return rawRequest(env.baseUrl, { method, path: wire.path, headers: wire.headers, ca, ...(text === undefined ? {} : { body: text }) });
    },
  };
}

/** The `x-amzn-ErrorType` of a response. */
export function errorType(res: RawResponse): string | undefined {
  const v = res.headers['x-amzn-errortype'];
  return Array.isArray(v) ? v[0] : v;
}
