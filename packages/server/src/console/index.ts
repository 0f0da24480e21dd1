/**
 * The web console (issue 7): a static single-page app under `/console` on the control-plane port,
 * behind the admin credentials (a session cookie obtained with the access key pair or a login
 * token), using only the control-plane API plus a few fleetprov-extension routes
 * (api/extensions/console.ts).
 */
export { ConsoleSessions, type ConsoleSession, type ConsoleSessionOptions } from './sessions.js';
export { createSessionAuth, SESSION_COOKIE, CSRF_HEADER } from './auth.js';
export { consoleRoutes, CONSOLE_ASSET_DIR, type ConsoleRouteOptions } from './routes.js';
