/**
 * Test helpers for the control-plane API: a throwaway TLS certificate, a log capture, an
 * independent SigV4 signer (`@smithy/signature-v4`, the one the AWS SDK uses), raw HTTP(S)
 * requests and an `IoTClient` pointed at a local app.
 */
import { createHash, createHmac, webcrypto } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { IoTClient } from '@aws-sdk/client-iot';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import pino from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import { x509 } from '../../src/pki/x509.js';
import { buildApiApp, type ApiApp, type ApiAppOptions } from '../../src/api/app.js';
import { sigv4Plugin, type SigV4PluginOptions } from '../../src/api/sigv4-plugin.js';
import { endpointRoutes, type EndpointRouteOptions } from '../../src/api/routes/endpoint.js';
import { staticCredentialStore, type AccessKeyPair } from '../../src/api/credentials.js';

/** Fixed admin keys used across the API tests. */
export const ADMIN: AccessKeyPair = Object.freeze({
  accessKeyId: 'AKIATESTADMIN0000001',
  secretAccessKey: 'k7Hq2vX9pL0sT4wY8zB3nC6mD1fG5jR+/aEeUu0i',
});

/** SHA-256 in the `@smithy/types` `Checksum` shape, built on node:crypto. */
export class NodeSha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    if (secret === undefined) this.hash = createHash('sha256');
    else this.hash = createHmac('sha256', typeof secret === 'string' ? secret : toBuffer(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? Buffer.from(data, 'utf8') : toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

function toBuffer(data: ArrayBuffer | ArrayBufferView): Buffer {
  return ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);
}

/** A SigV4 signer for hand-crafted requests, as the AWS SDK signs them. */
export function smithySigner(
  creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  service = 'iot',
  region = 'eu-west-1',
): SignatureV4 {
  return new SignatureV4({ credentials: creds, region, service, sha256: NodeSha256, uriEscapePath: true });
}

/** A self-signed ECDSA P-256 certificate for 127.0.0.1 / localhost, PEM encoded. */
export async function selfSignedCertificate(): Promise<{ keyPem: string; certPem: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=fleetprov api test',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    signingAlgorithm: alg,
    keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'dns', value: 'localhost' },
      ]),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(pkcs8)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')}\n-----END PRIVATE KEY-----\n`;
  return { keyPem, certPem: cert.toString('pem') };
}

/** A pino logger whose JSON lines are collected in `lines`. */
export function captureLogger(): { logger: FastifyBaseLogger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink) as unknown as FastifyBaseLogger, lines };
}

/** A started app on 127.0.0.1 and its base URL. */
export interface RunningApp {
  app: ApiApp;
  baseUrl: string;
  port: number;
  lines: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Options of {@link startApp}: the app's, the SigV4 plugin's and DescribeEndpoint's. */
export type TestAppOptions = ApiAppOptions & SigV4PluginOptions & EndpointRouteOptions;

/**
 * Builds the app with the {@link ADMIN} keys (unless `credentials` is given) and DescribeEndpoint
 * in its SigV4 scope, lets `addRoutes` add test-only routes to that scope, and listens on
 * 127.0.0.1 with an ephemeral port.
 */
export async function startApp(options: Partial<TestAppOptions> = {}, addRoutes?: (aws: ApiApp) => void): Promise<RunningApp> {
  const { logger, lines } = captureLogger();
  const { credentials, signingServices, maxClockSkewMs, now, maxJsonDepth, sessionAuth, endpointAddress, endpoints, ...appOptions } =
    options;
  const app = buildApiApp({ logger, ...appOptions });
  await app.register(async (aws) => {
    await aws.register(sigv4Plugin, {
      credentials: credentials ?? staticCredentialStore([ADMIN]),
      ...(signingServices === undefined ? {} : { signingServices }),
      ...(maxClockSkewMs === undefined ? {} : { maxClockSkewMs }),
      ...(now === undefined ? {} : { now }),
      ...(maxJsonDepth === undefined ? {} : { maxJsonDepth }),
      ...(sessionAuth === undefined ? {} : { sessionAuth }),
    });
    await aws.register(endpointRoutes, {
      ...(endpointAddress === undefined ? {} : { endpointAddress }),
      ...(endpoints === undefined ? {} : { endpoints }),
    });
    addRoutes?.(aws);
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const scheme = options.https === undefined ? 'http' : 'https';
  return { app, port, baseUrl: `${scheme}://127.0.0.1:${port}`, lines, close: () => app.close() };
}

/** An `IoTClient` for a local app: no retries, optional trusted CA for HTTPS. */
export function iotClient(
  baseUrl: string,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = ADMIN,
  options: { ca?: string; signingName?: string } = {},
): IoTClient {
  const agentOptions = { keepAlive: false, ...(options.ca === undefined ? {} : { ca: options.ca }) };
  return new IoTClient({
    endpoint: baseUrl,
    region: 'eu-west-1',
    credentials: { ...credentials }, // the SDK annotates the object it is given
    maxAttempts: 1,
    ...(options.signingName === undefined ? {} : { signingName: options.signingName }),
    requestHandler: new NodeHttpHandler({
      httpAgent: new http.Agent({ keepAlive: false }),
      httpsAgent: new https.Agent(agentOptions),
    }),
  });
}

/** A raw HTTP response. */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json(): unknown;
}

/** Sends one request with exactly these headers and body (node:http / node:https). */
export function rawRequest(
  baseUrl: string,
  request: { method: string; path: string; headers?: Record<string, string>; body?: string | Buffer; ca?: string },
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      {
        host: url.hostname,
        port: url.port,
        method: request.method,
        path: request.path,
        headers: request.headers ?? {},
        agent: false,
        ...(request.ca === undefined ? {} : { ca: request.ca }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) as unknown });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (request.body !== undefined) req.write(request.body);
    req.end();
  });
}

/** A request to sign with {@link signedRawRequest}. */
export interface RequestToSign {
  method: string;
  /** Path as it goes on the wire (percent-encoded). */
  path: string;
  /** Decoded query parameters. */
  query?: Record<string, string | string[]>;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * Signs a request with `@smithy/signature-v4` and returns the wire path (with the query the way
 * the SDK serializes it) and the headers to send.
 */
export async function signForWire(
  baseUrl: string,
  req: RequestToSign,
  signer: SignatureV4,
  signingDate = new Date(),
): Promise<{ path: string; headers: Record<string, string> }> {
  const url = new URL(baseUrl);
  const headers: Record<string, string> = { host: url.host, ...(req.headers ?? {}) };
  if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
  const signed = await signer.sign(
    {
      method: req.method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: req.path,
      query: req.query ?? {},
      headers,
      ...(req.body === undefined ? {} : { body: req.body }),
    },
    { signingDate },
  );
  return { path: req.path + serializeQuery(req.query ?? {}), headers: signed.headers as Record<string, string> };
}

/** Serializes a decoded query the way the AWS SDK's HTTP handler does (RFC 3986 escaping). */
export function serializeQuery(query: Record<string, string | string[]>): string {
  const esc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : [value]) parts.push(`${esc(name)}=${esc(v)}`);
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}
