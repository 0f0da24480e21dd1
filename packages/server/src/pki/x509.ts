/**
 * The one place that loads `@peculiar/x509`: loads the Reflect metadata polyfill it needs first, then points
 * it at Node's built-in WebCrypto. Every other PKI module imports `x509` from here.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

export { x509 };

/** Node's WebCrypto `subtle` API. */
export const subtle: webcrypto.SubtleCrypto = webcrypto.subtle;
