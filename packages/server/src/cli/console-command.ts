/**
 * `fleetprov console-login`: mints a one-time login token for the web console over the control
 * plane (a SigV4-signed `POST /fleetprov/console/login-tokens` with the admin keys) and prints the
 * URL that signs a browser in with it.
 */
import { createHmac } from 'node:crypto';
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { readSharedCredentialsFile } from '../api/credentials.js';
import { buildCanonicalRequest, buildStringToSign, deriveSigningKey, formatAmzDate, sha256Hex } from '../api/sigv4.js';
import { dataDirPaths } from '../data-dir.js';
import { CliError, type CliIo } from './io.js';

const LOGIN_TOKENS_PATH = '/fleetprov/console/login-tokens';

interface ConsoleLoginOptions {
  endpoint: string;
  dataDir: string;
  credentials?: string;
  ca?: string;
  region: string;
  json?: boolean;
}

/** What the server answers to a login-token request. */
interface LoginTokenAnswer {
  loginToken: string;
  expiresAt: number;
  loginPath: string;
}

/** Signs and sends `POST /fleetprov/console/login-tokens`; resolves to the answer's status and body. */
function requestLoginToken(
  endpoint: URL,
  keys: { accessKeyId: string; secretAccessKey: string },
  ca: string,
  region: string,
): Promise<{ status: number; body: string }> {
  const amzDate = formatAmzDate(Date.now());
  const shortDate = amzDate.slice(0, 8);
  const payloadHash = sha256Hex('');
  const headers = new Map<string, string[]>([
    ['host', [endpoint.host]],
    ['x-amz-content-sha256', [payloadHash]],
    ['x-amz-date', [amzDate]],
  ]);
  const signedHeaders = [...headers.keys()].sort();
  const canonical = buildCanonicalRequest({ method: 'POST', rawPath: LOGIN_TOKENS_PATH, query: [], headers, signedHeaders, payloadHash });
  const scope = `${shortDate}/${region}/iot/aws4_request`;
  const signature = createHmac('sha256', deriveSigningKey(keys.secretAccessKey, shortDate, region, 'iot'))
    .update(buildStringToSign(amzDate, scope, canonical))
    .digest('hex');
  const authorization = `AWS4-HMAC-SHA256 Credential=${keys.accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`;
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: endpoint.hostname,
        port: endpoint.port || 443,
        method: 'POST',
        path: LOGIN_TOKENS_PATH,
        ca,
        headers: { host: endpoint.host, 'x-amz-date': amzDate, 'x-amz-content-sha256': payloadHash, authorization, 'content-length': '0' },
        timeout: 15_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (t: string) => void (body += t));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out after 15 s')));
    req.on('error', reject);
    req.end();
  });
}

/** Adds `console-login`. */
export function addConsoleCommand(program: Command, io: CliIo): void {
  program
    .command('console-login')
    .description('print a one-time link (valid 5 minutes) that signs a browser in to the web console at /console')
    .option('--endpoint <url>', 'control-plane URL', 'https://127.0.0.1:8443')
    .option('--data-dir <dir>', 'server data directory (for its credentials and CA)', '.fleetprov')
    .option('--credentials <file>', 'admin credentials file (default DATA_DIR/credentials)')
    .option('--ca <file>', 'CA bundle of the server certificate (default DATA_DIR/ca/root-ca.pem)')
    .option('--region <region>', 'region to sign the request for', 'us-east-1')
    .option('--json', 'print {url, loginToken, expiresAt} as JSON')
    .action(async (opts: ConsoleLoginOptions) => {
      let endpoint: URL;
      try {
        endpoint = new URL(opts.endpoint);
      } catch {
        throw new CliError(`--endpoint must be a URL like https://127.0.0.1:8443, got "${opts.endpoint}"`);
      }
      if (endpoint.protocol !== 'https:') throw new CliError('--endpoint must be an https:// URL (the control plane serves HTTPS only)');
      const paths = dataDirPaths(opts.dataDir);
      const caPath = opts.ca ?? paths.rootCa;
      const credentialsPath = opts.credentials ?? paths.credentials;
      const ca = await readFile(caPath, 'utf8').catch(() => {
        throw new CliError(`cannot read the CA file ${caPath}; pass --ca (the server's DATA_DIR/ca/root-ca.pem) or --data-dir`);
      });
      const keys = await readSharedCredentialsFile(credentialsPath).catch(() => undefined);
      if (keys === undefined)
        throw new CliError(
          `no admin credentials in ${credentialsPath}; pass --credentials (the server's DATA_DIR/credentials) or --data-dir`,
        );
      let answer: { status: number; body: string };
      try {
        answer = await requestLoginToken(endpoint, keys, ca, opts.region);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ECONNREFUSED')
          throw new CliError(
            `cannot reach the control plane at ${opts.endpoint}: is \`fleetprov server\` running? (--endpoint sets the URL)`,
            1,
          );
        throw new CliError(`the login-token request to ${opts.endpoint} failed: ${(err as Error).message}`, 1);
      }
      if (answer.status !== 200) {
        let message = answer.body.slice(0, 300);
        try {
          message = (JSON.parse(answer.body) as { message?: string }).message ?? message;
        } catch {
          /* not JSON */
        }
        throw new CliError(`the server refused the login-token request (HTTP ${answer.status}): ${message}`, 1);
      }
      const token = JSON.parse(answer.body) as LoginTokenAnswer;
      const url = `${endpoint.origin}${token.loginPath}`;
      if (opts.json) {
        io.stdout(
          `${JSON.stringify({ url, loginToken: token.loginToken, expiresAt: new Date(token.expiresAt * 1000).toISOString() }, null, 2)}\n`,
        );
        return;
      }
      io.stdout(
        `Open this link to sign in to the fleetprov console (once, until ${new Date(token.expiresAt * 1000).toISOString()}):\n\n  ${url}\n\n`,
      );
      io.stdout("Or paste the token below into the console's sign-in page:\n\n");
      io.stdout(`  ${token.loginToken}\n`);
    });
}
