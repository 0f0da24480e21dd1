/**
 * CSRs signed inside a PKCS#11 token: `@peculiar/x509` builds the request and calls a
 * WebCrypto-shaped provider whose `exportKey` returns the token key's public half and whose
 * `sign` runs in the token. The signature is verified before the CSR leaves the device.
 */

import { webcrypto } from 'node:crypto';
import { buildCsr, type SigningAlgorithm } from '../keys.js';
import * as x509 from '../x509.js';
import { Pkcs11Error } from './errors.js';
import type { TokenKey, TokenSession } from './token.js';

/**
 * Builds a CSR for the token key `key` with subject `subject`, signed by the token.
 *
 * @throws {Pkcs11Error} when the token cannot sign or the signature does not verify.
 * @throws {ConfigError} when the subject is malformed.
 */
export async function tokenCsr(token: TokenSession, key: TokenKey, subject: string): Promise<string> {
  const algorithm: webcrypto.Algorithm & { namedCurve?: string; hash?: string } =
    key.type === 'ec' ? { name: 'ECDSA', namedCurve: key.curve! } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const publicKey = { type: 'public', algorithm, extractable: true, usages: ['verify'] } as unknown as webcrypto.CryptoKey;
  const privateKey = { type: 'private', algorithm, extractable: false, usages: ['sign'] } as unknown as webcrypto.CryptoKey;
  const hash = key.type === 'ec' ? { P256: 'SHA-256', P384: 'SHA-384', P521: 'SHA-512' }[key.curve!.replace('-', '') as 'P256'] : 'SHA-256';
  const signingAlgorithm: SigningAlgorithm =
    key.type === 'ec' ? ({ name: 'ECDSA', hash } as webcrypto.EcdsaParams) : { name: 'RSASSA-PKCS1-v1_5' };
  const subtle = {
    exportKey: async (format: string, k: webcrypto.CryptoKey): Promise<ArrayBuffer> => {
      if (format !== 'spki' || k !== publicKey) throw new Error(`cannot export ${format} from a token key`);
      return new Uint8Array(key.spki).buffer;
    },
    sign: async (_alg: unknown, k: webcrypto.CryptoKey, data: ArrayBuffer | ArrayBufferView): Promise<ArrayBuffer> => {
      if (k !== privateKey) throw new Error('not the token key');
      const bytes = Buffer.from(
        data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      );
      return new Uint8Array(token.sign(key, bytes)).buffer;
    },
  };
  const provider = { subtle, getRandomValues: webcrypto.getRandomValues.bind(webcrypto) } as unknown as webcrypto.Crypto;
  const pem = await buildCsr({ publicKey, privateKey }, signingAlgorithm, subject, provider);
  const csr = new x509.Pkcs10CertificateRequest(pem);
  if (!(await csr.verify(webcrypto)))
    throw new Pkcs11Error('sign-failed', `the token's signature on the CSR does not verify (key ${JSON.stringify(key.label)})`);
  return pem;
}
