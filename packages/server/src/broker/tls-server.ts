/**
 * The TLS listener of the broker: mutual TLS where the broker (not OpenSSL) decides which
 * client certificates are acceptable, AWS's ALPN names, TLS 1.2 minimum.
 */
import { constants as cryptoConstants, type X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';

/** ALPN protocols the broker accepts: AWS's name for MQTT on port 443, and plain `mqtt`. */
export const ACCEPTED_ALPN_PROTOCOLS: readonly string[] = Object.freeze(['x-amzn-mqtt-ca', 'mqtt']);

/** PEM (or DER for `ca`) material of the broker's server certificate. */
export interface BrokerTlsMaterial {
  /** Server private key. */
  key: string | Buffer;
  /** Server certificate chain. */
  cert: string | Buffer;
  /**
   * CA certificates named in the CertificateRequest (hints for clients choosing a certificate).
   * Client certificates are not verified against them: the authority decides.
   */
  ca?: string | Buffer | Array<string | Buffer>;
}

/** Options of {@link createBrokerTlsServer}. */
export interface BrokerTlsServerOptions extends BrokerTlsMaterial {
  /** Time allowed for the TLS handshake, ms. */
  handshakeTimeoutMs: number;
}

/**
 * Creates the TLS server: requests a client certificate but accepts any (`rejectUnauthorized:
 * false`, so certificates registered without a CA and JITP certificates from customer CAs
 * reach the authority), TLS ≥ 1.2, ALPN `x-amzn-mqtt-ca` / `mqtt` or none (a client offering
 * only other protocols fails the handshake with `no_application_protocol`).
 */
export function createBrokerTlsServer(options: BrokerTlsServerOptions): tls.Server {
  const accepted = new Set(ACCEPTED_ALPN_PROTOCOLS);
  const serverOptions: tls.TlsOptions = {
    key: options.key,
    cert: options.cert,
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
    // No TLS session tickets: devices reconnect with a full handshake (their certificate is checked
    // again every time, which the authority does anyway), and an idle connection costs about 16 KB
    // less native memory (measured with a bare Node TLS server holding 3 000 mTLS connections: 53 KB
    // → 37 KB each; docs/benchmarks.md, bench:broker).
    secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
    handshakeTimeout: options.handshakeTimeoutMs,
    ALPNCallback: ({ protocols }) => protocols.find((p) => accepted.has(p)),
  };
  if (options.ca !== undefined) serverOptions.ca = options.ca;
  return tls.createServer(serverOptions);
}

/** The remote address of a socket, with IPv4-mapped IPv6 (`::ffff:1.2.3.4`) shortened to IPv4. */
export function sourceIpOf(socket: { remoteAddress?: string | undefined }): string {
  const address = socket.remoteAddress;
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** Most issuer certificates collected from a peer chain. */
const MAX_CHAIN_LENGTH = 10;

/**
 * The client's certificate and its issuers (DER), or null when the client sent no certificate.
 * Read through `getPeerX509Certificate()`: `getPeerCertificate(true)` builds a plain object of every
 * field of every certificate in the chain, about 1.2 ms per connection (14× the X509Certificate route,
 * measured on the project machine), and the authority needs only the DER bytes.
 */
export function peerCertificates(socket: tls.TLSSocket): { leaf: Buffer; chain: Buffer[] } | null {
  let leaf: X509Certificate | undefined;
  try {
    leaf = socket.getPeerX509Certificate();
  } catch {
    return null;
  }
  if (leaf === undefined || leaf.raw.length === 0) return null;
  const chain: Buffer[] = [];
  const seen = new Set<string>([leaf.fingerprint256]);
  let issuer: X509Certificate | undefined = leaf.issuerCertificate;
  while (issuer !== undefined && !seen.has(issuer.fingerprint256) && chain.length < MAX_CHAIN_LENGTH) {
    seen.add(issuer.fingerprint256);
    chain.push(issuer.raw);
    issuer = issuer.issuerCertificate;
  }
  return { leaf: leaf.raw, chain };
}
