/**
 * AWS-compatible control-plane HTTP API: app factory, SigV4 verification, AWS-style errors and
 * admin credentials.
 */
export * from './app.js';
export * from './credentials.js';
export * from './errors.js';
export * from './json-body.js';
export * from './querystring.js';
export * from './sigv4.js';
