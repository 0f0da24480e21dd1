/**
 * `@peculiar/x509`, loaded after the Reflect metadata shim it needs.
 * Modules of this package import X.509 helpers from here, never from the library directly.
 */

import './reflect-shim.js';

export * from '@peculiar/x509';
