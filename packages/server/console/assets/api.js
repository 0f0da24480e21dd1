// The console's only data path: the control-plane API (and fleetprov's /fleetprov/* extension
// routes), authenticated by the HttpOnly session cookie plus the session's CSRF header.

let csrfToken = null;
let onAuthLost = () => {};

/** An error answer of the API: HTTP status, AWS exception name and message. */
export class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

const AUTH_ERRORS = new Set([
  'ExpiredTokenException',
  'UnrecognizedClientException',
  'MissingAuthenticationTokenException',
  'UnauthorizedException',
]);

/** Sets the CSRF token of the current session (null after logout). */
export function setSession(session) {
  csrfToken = session ? session.csrfToken : null;
}

/** Called when the API says the session is gone (expired, logged out elsewhere, server restarted). */
export function onSessionLost(fn) {
  onAuthLost = fn;
}

/**
 * Calls the API. `query` values that are undefined, null or '' are left out.
 * @returns the JSON answer
 * @throws {ApiError}
 */
export async function api(method, path, { query, body, quiet, headers: extra } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  const headers = { accept: 'application/json', ...(extra ?? {}) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-fleetprov-csrf'] = csrfToken;
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch (err) {
    throw new ApiError(0, 'NetworkError', `The server did not answer (${err.message}). Is it running?`);
  }
  const text = await res.text();
  let data = {};
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text.slice(0, 300) };
    }
  }
  if (!res.ok) {
    const type = res.headers.get('x-amzn-errortype') ?? `HTTP ${res.status}`;
    if (AUTH_ERRORS.has(type) && !quiet) onAuthLost(data.message);
    throw new ApiError(res.status, type, data.message ?? `${method} ${path} failed with HTTP ${res.status}`);
  }
  return data;
}

/** Logs in with an access key pair or a login token; returns the session. */
export async function login(credentials) {
  const res = await fetch('/console/api/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-fleetprov-csrf': 'login' },
    body: JSON.stringify(credentials),
    credentials: 'same-origin',
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, res.headers.get('x-amzn-errortype') ?? '', data.message ?? 'Login failed.');
  setSession(data);
  return data;
}

/** The current session, or null when not logged in. */
export async function currentSession() {
  try {
    const s = await api('GET', '/console/api/session', { quiet: true });
    setSession(s);
    return s;
  } catch (err) {
    if (err instanceof ApiError && err.status > 0 && err.status < 500) return null;
    throw err;
  }
}

/** Ends the session. */
export async function logout() {
  await api('POST', '/console/api/logout', { quiet: true }).catch(() => undefined);
  setSession(null);
}

/** Pages through a marker- or token-paginated list, up to `max` items. */
export async function listAll(
  path,
  itemsKey,
  { query = {}, marker = 'marker', nextKey = 'nextMarker', max = 1000, pageSize = 250, sizeKey = 'pageSize' } = {},
) {
  const out = [];
  let next;
  do {
    const page = await api('GET', path, { query: { ...query, [sizeKey]: pageSize, [marker]: next } });
    out.push(...(page[itemsKey] ?? []));
    next = page[nextKey];
  } while (next && out.length < max);
  return out;
}
