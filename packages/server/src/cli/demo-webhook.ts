/**
 * The demo's pre-provisioning webhook: a small HTTP server in the demo process that does what
 * examples/hook-allowlist.mjs does — verifies fleetprov's HMAC signature and admits only
 * allow-listed serial numbers — so `npm start` shows a device refused by a hook, with the reason.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import {
  verifyWebhookSignature,
  WEBHOOK_DELIVERY_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
} from '../provisioning/index.js';

/** A running demo webhook. */
export interface DemoWebhook {
  url: string;
  /** Serial numbers seen, with the decision. */
  decisions: Array<{ serial: string; allowed: boolean }>;
  close(): Promise<void>;
}

/** Starts the allow-list webhook on 127.0.0.1 (a free port). */
export async function startDemoWebhook(secret: string, allowed: ReadonlySet<string>): Promise<DemoWebhook> {
  const decisions: DemoWebhook['decisions'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 65_536) chunks.push(c);
    });
    req.on('end', () => {
      const answer = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (size > 65_536) return answer(413, { message: 'body too large' });
      const body = Buffer.concat(chunks).toString('utf8');
      const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : undefined);
      const problem = verifyWebhookSignature(
        secret,
        {
          timestamp: header(WEBHOOK_TIMESTAMP_HEADER),
          delivery: header(WEBHOOK_DELIVERY_HEADER),
          signature: header(WEBHOOK_SIGNATURE_HEADER),
        },
        body,
      );
      if (problem !== null) return answer(401, { message: problem });
      let serial: unknown;
      try {
        serial = (JSON.parse(body) as { parameters?: Record<string, unknown> }).parameters?.SerialNumber;
      } catch {
        return answer(400, { message: 'body is not JSON' });
      }
      const allow = typeof serial === 'string' && allowed.has(serial);
      decisions.push({ serial: String(serial), allowed: allow });
      answer(200, { allowProvisioning: allow });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/pre-provisioning`,
    decisions,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
