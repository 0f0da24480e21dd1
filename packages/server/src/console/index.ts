/**
 * The web console (issue 7): a static single-page app under `/console` on the control-plane port,
 * behind the admin credentials (a session cookie obtained with the access key pair or a login
 * token), using only the control-plane API plus a few fleetprov-extension routes.
 */
import type { ApiApp } from '../api/app.js';
import type { CredentialStore } from '../api/sigv4.js';
import type { ServiceContext } from '../service-context.js';
import { registerConsoleExtensionRoutes } from './extension-routes.js';
import { registerConsoleRoutes } from './routes.js';
import type { ConsoleSessions } from './sessions.js';

export { ConsoleSessions, type ConsoleSession, type ConsoleSessionOptions } from './sessions.js';
export { createSessionAuth, SESSION_COOKIE, CSRF_HEADER } from './auth.js';
export { registerConsoleRoutes, CONSOLE_ASSET_DIR } from './routes.js';
export { registerConsoleExtensionRoutes } from './extension-routes.js';

/** Registers the console's pages, session routes and extension routes. Call before `app.listen()`. */
export function registerConsole(app: ApiApp, options: { context: ServiceContext; sessions: ConsoleSessions; credentials: CredentialStore }): void {
  registerConsoleRoutes(app, { sessions: options.sessions, credentials: options.credentials });
  registerConsoleExtensionRoutes(app, options.context);
}
