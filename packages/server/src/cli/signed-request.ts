/**
 * A SigV4-signed GET to a fleetprov control-plane route the AWS SDK has no command for (the
 * `/fleetprov/...` extensions), with the same credentials and CA as the admin client.
 */
import { createHmac } from 'node:crypto';
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import { readSharedCredentialsFile } from '../api/credentials.js';
import { buildCanonicalRequest, canonicalQueryString, buildStringToSign, deriveSigningKey, formatAmzDate, sha256Hex } from '../api/sigv4.js';
import type { AdminTarget } from './admin-client.js';
import { CliError } from './io.js';

/** An answered request. */
export interface SignedResponse {
  status: number;
  body: string;
}

/** A reusable signer + transport for one control plane. */
export interface SignedGetter {
  get(path: string, query?: Record<string, string | undefined>): Promise<SignedResponse>;
}

/** Builds a getter for `target` (reads the credentials and CA once). */
export async function createSignedGetter(target: AdminTarget): Promise<SignedGetter> {
  let ca: string;
  try {
    ca = await readFile(target.caPath, 'utf8');
  } catch {
    throw new CliError(`cannot read the CA file ${target.caPath}; pass --ca (the server's DATA_DIR/ca/root-ca.pem)`);
  }
  const creds = await readSharedCredentialsFile(target.credentialsPath).catch(() => undefined);
  if (!creds?.accessKeyId || !creds.secretAccessKey) {
    throw new CliError(`no admin credentials in ${target.credentialsPath}; pass --credentials (the server's DATA_DIR/credentials)`);
  }
  const { accessKeyId, secretAccessKey } = creds;
  const region = target.region ?? 'us-east-1';
  const base = new URL(target.endpoint);
  const agent = new https.Agent({ ca, keepAlive: true });

  return {
    get(path, query = {}) {
      const pairs = Object.entries(query)
        .filter((e): e is [string, string] => e[1] !== undefined)
        .map(([name, value]) => ({ name, value }));
      const search = canonicalQueryString(pairs);
      const now = Date.now();
      const amzDate = formatAmzDate(now);
      const shortDate = amzDate.slice(0, 8);
      const payloadHash = sha256Hex('');
      const headers = new Map<string, string[]>([
        ['host', [base.host]],
        ['x-amz-content-sha256', [payloadHash]],
        ['x-amz-date', [amzDate]],
      ]);
      const signedHeaders = [...headers.keys()].sort();
      const canonical = buildCanonicalRequest({ method: 'GET', rawPath: path, query: pairs, headers, signedHeaders, payloadHash });
      const scope = `${shortDate}/${region}/iot/aws4_request`;
      const signature = createHmac('sha256', deriveSigningKey(secretAccessKey, shortDate, region, 'iot')).update(buildStringToSign(amzDate, scope, canonical)).digest('hex');
      const authorization = `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`;
      return new Promise((resolve, reject) => {
        const req = https.request(
          new URL(`${path}${search ? `?${search}` : ''}`, base),
          { method: 'GET', agent, headers: { host: base.host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': amzDate, authorization } },
          (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (chunk: string) => void (body += chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
            res.on('error', reject);
          },
        );
        req.setTimeout(30_000, () => req.destroy(new Error('the control plane did not answer within 30 s')));
        req.on('error', reject);
        req.end();
      });
    },
  };
}
