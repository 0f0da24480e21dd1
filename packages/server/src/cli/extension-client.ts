/**
 * A SigV4-signed HTTPS client for fleetprov's own control-plane routes (`/fleetprov/...`), which
 * the AWS SDK has no commands for. Signs exactly like the SDK (service `iot`), with the server's
 * own SigV4 primitives, and trusts only the given CA.
 */
import { createHash, createHmac } from 'node:crypto';
import https from 'node:https';
import {
  buildCanonicalRequest,
  buildStringToSign,
  canonicalQueryString,
  deriveSigningKey,
  formatAmzDate,
  SIGV4_ALGORITHM,
} from '../api/sigv4.js';
import { loadAdminMaterial, type AdminTarget } from './admin-client.js';

/** An error answer of the control plane. */
export class ExtensionApiError extends Error {
  readonly statusCode: number;
  readonly errorType: string;

  constructor(statusCode: number, errorType: string, message: string) {
    super(message);
    this.name = 'ExtensionApiError';
    this.statusCode = statusCode;
    this.errorType = errorType;
  }
}

/** Calls one extension route; resolves with the parsed JSON body. */
export type ExtensionCall = (
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  query?: Record<string, string>,
  body?: unknown,
) => Promise<Record<string, unknown>>;

/** A signed client for `target`. */
export async function createExtensionClient(target: AdminTarget): Promise<ExtensionCall> {
  const { ca, accessKeyId, secretAccessKey, region } = await loadAdminMaterial(target);
  const base = new URL(target.endpoint);
  const agent = new https.Agent({ ca, keepAlive: false });
  return async (method, path, query = {}, body) => {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const pairs = Object.entries(query).map(([name, value]) => ({ name, value }));
    // The query goes on the wire exactly as it is signed (RFC 3986 encoding, sorted): URLSearchParams
    // would send a space as "+", which SigV4 reads as a literal plus, and the signature would not match.
    const search = canonicalQueryString(pairs);
    const amzDate = formatAmzDate(Date.now());
    const shortDate = amzDate.slice(0, 8);
    const payloadHash = createHash('sha256').update(payload).digest('hex');
    const headers: Record<string, string> = { host: base.host, 'x-amz-date': amzDate, 'x-amz-content-sha256': payloadHash };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const signedHeaders = Object.keys(headers).sort();
    const canonical = buildCanonicalRequest({
      method,
      rawPath: path,
      query: pairs,
      headers: new Map(Object.entries(headers).map(([k, v]) => [k, [v]])),
      signedHeaders,
      payloadHash,
    });
    const scope = `${shortDate}/${region}/iot/aws4_request`;
    const signature = createHmac('sha256', deriveSigningKey(secretAccessKey, shortDate, region, 'iot'))
      .update(buildStringToSign(amzDate, scope, canonical))
      .digest('hex');
    headers.authorization = `${SIGV4_ALGORITHM} Credential=${accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`;
    const { status, text, errorType } = await new Promise<{ status: number; text: string; errorType: string }>((resolve, reject) => {
      const req = https.request(
        { hostname: base.hostname, port: base.port, method, path: `${path}${search === '' ? '' : `?${search}`}`, headers, agent },
        (res) => {
          let data = '';
          res.setEncoding('utf8').on('data', (chunk: string) => void (data += chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              text: data,
              errorType: String(res.headers['x-amzn-errortype'] ?? 'Error').split(':')[0]!,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
    let parsed: Record<string, unknown>;
    try {
      parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      parsed = { message: text.slice(0, 200) };
    }
    if (status >= 400) throw new ExtensionApiError(status, errorType, String(parsed.message ?? `HTTP ${status}`));
    return parsed;
  };
}
