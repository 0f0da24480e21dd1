/**
 * Pre-provisioning hooks as webhooks: the template's `preProvisioningHook.targetArn` is an
 * `https://` (or `http://`) URL, and fleetprov POSTs AWS's Lambda event to it as JSON, signed so
 * the webhook can check it came from this server and is fresh (see {@link signWebhookRequest}).
 * The webhook answers `200` with AWS's Lambda response `{"allowProvisioning": true, "parameterOverrides": {...}}`.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { HookCallError, type PreProvisioningHook } from './hook.js';

/** Header with the request's Unix time in seconds (part of the signed text). */
export const WEBHOOK_TIMESTAMP_HEADER = 'x-fleetprov-timestamp';
/** Header with a UUID unique to each call (part of the signed text; a webhook may refuse repeats). */
export const WEBHOOK_DELIVERY_HEADER = 'x-fleetprov-delivery';
/** Header with `v1=<hex HMAC-SHA256(secret, "<timestamp>.<delivery>.<body>")>`. */
export const WEBHOOK_SIGNATURE_HEADER = 'x-fleetprov-signature';
/** Largest webhook reply read, bytes. */
export const MAX_WEBHOOK_REPLY_BYTES = 64 * 1024;

/** The three signature headers of one call. */
export interface WebhookSignature {
  timestamp: string;
  delivery: string;
  signature: string;
}

/** The `v1=` signature of a webhook body (what {@link WEBHOOK_SIGNATURE_HEADER} carries). */
export function webhookSignature(secret: string, timestamp: string, delivery: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${delivery}.${body}`).digest('hex')}`;
}

/** Signs a webhook body at `now` (ms) with a new delivery id. */
export function signWebhookRequest(secret: string, body: string, now: number = Date.now()): WebhookSignature {
  const timestamp = String(Math.floor(now / 1000));
  const delivery = randomUUID();
  return { timestamp, delivery, signature: webhookSignature(secret, timestamp, delivery, body) };
}

/**
 * Checks a webhook call's signature and age — what a webhook written in JavaScript can use (the
 * example webhook does the same in plain Node). Does not remember delivery ids; a webhook that
 * must refuse replays within the window keeps them.
 * @returns null when valid, else why not
 */
export function verifyWebhookSignature(
  secret: string,
  headers: { timestamp?: string; delivery?: string; signature?: string },
  body: string,
  opts: { now?: number; toleranceSeconds?: number } = {},
): string | null {
  const { timestamp, delivery, signature } = headers;
  if (!timestamp || !delivery || !signature) return 'missing signature headers';
  if (!/^[0-9]{1,12}$/.test(timestamp)) return 'malformed timestamp';
  const age = Math.abs((opts.now ?? Date.now()) / 1000 - Number(timestamp));
  if (age > (opts.toleranceSeconds ?? 300)) return 'timestamp outside the allowed window (replayed or clock skew)';
  const expected = Buffer.from(webhookSignature(secret, timestamp, delivery, body));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'signature mismatch';
  return null;
}

/** Options of {@link createWebhookHook}. */
export interface WebhookHookOptions {
  /** `https://…` or `http://…`. */
  url: string;
  /** HMAC key the requests are signed with. */
  secret: string;
  /** Extra trusted CA certificates (PEM) for an `https` webhook; default: Node's CA store (and NODE_EXTRA_CA_CERTS). */
  ca?: string | string[];
  /** Clock for the timestamp header, ms. Default `Date.now`. */
  now?: () => number;
}

/** Whether `target` names a webhook (an http or https URL). */
export function isWebhookTarget(target: string): boolean {
  return /^https?:\/\//i.test(target);
}

function networkReason(err: NodeJS.ErrnoException): string {
  return err.code ? `the webhook could not be reached (${err.code})` : 'the webhook could not be reached';
}

/**
 * A hook that POSTs the event to a webhook. Failures throw {@link HookCallError} naming the kind
 * (unreachable, non-2xx status, reply too large, reply not JSON); the caller's timeout aborts the request.
 * @throws {TypeError} for a URL that is not http(s)
 */
export function createWebhookHook(opts: WebhookHookOptions): PreProvisioningHook {
  const url = new URL(opts.url);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`webhook URL must be http or https, got ${url.protocol}`);
  const transport = url.protocol === 'https:' ? https : http;
  const clock = opts.now ?? Date.now;
  return (event, context) =>
    new Promise<unknown>((resolve, reject) => {
      const body = JSON.stringify(event);
      const sig = signWebhookRequest(opts.secret, body, clock());
      const req = transport.request(
        url,
        {
          method: 'POST',
          signal: context.signal,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': 'fleetprov-pre-provisioning-hook/1',
            [WEBHOOK_TIMESTAMP_HEADER]: sig.timestamp,
            [WEBHOOK_DELIVERY_HEADER]: sig.delivery,
            [WEBHOOK_SIGNATURE_HEADER]: sig.signature,
          },
          ...(opts.ca !== undefined && url.protocol === 'https:' ? { ca: opts.ca } : {}),
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) {
            res.resume();
            reject(new HookCallError(`the webhook answered HTTP ${status}`));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_WEBHOOK_REPLY_BYTES) {
              res.destroy();
              reject(new HookCallError(`the webhook's reply is larger than ${MAX_WEBHOOK_REPLY_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('error', (err) => reject(new HookCallError('the webhook closed the connection mid-reply', { cause: err })));
          res.on('end', () => {
            if (size > MAX_WEBHOOK_REPLY_BYTES) return;
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve(JSON.parse(text) as unknown);
            } catch (err) {
              reject(new HookCallError('the webhook returned a malformed reply (not JSON)', { cause: err }));
            }
          });
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (context.signal.aborted)
          reject(
            context.signal.reason instanceof HookCallError ? context.signal.reason : new HookCallError('the webhook call was aborted'),
          );
        else reject(new HookCallError(networkReason(err), { cause: err }));
      });
      req.end(body);
    });
}
