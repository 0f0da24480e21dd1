/**
 * AWS-compatible control-plane HTTP API: app factory, the SigV4 plugin, AWS-style errors (one
 * error handler, schema errors) and admin credentials. Operations are in routes/, fleetprov's
 * extensions in extensions/.
 */
export * from './app.js';
export * from './credentials.js';
export * from './error-handler.js';
export * from './errors.js';
export * from './json-body.js';
export * from './querystring.js';
export * from './schema-errors.js';
export * from './sigv4.js';
export * from './sigv4-plugin.js';
