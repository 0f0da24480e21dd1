/**
 * `@peculiar/x509`, loaded after the Reflect metadata polyfill it needs.
 * Modules of this package import X.509 helpers from here, never from the library directly.
 */

import 'reflect-metadata';

export * from '@peculiar/x509';
