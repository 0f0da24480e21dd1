#!/usr/bin/env node
// An example pre-provisioning webhook for fleetprov: admits only devices whose serial number is on an
// allow-list. Plain Node (no dependencies), so it can be copied anywhere.
//
//   node hook-allowlist.mjs --secret-file .fleetprov/hook-secret --allow 0001,0002 [--allow-file serials.txt]
//                           [--port 9000] [--host 127.0.0.1] [--parameter SerialNumber]
//
// Point a template at it:  "preProvisioningHook": { "targetArn": "http://127.0.0.1:9000/", "payloadVersion": "2020-04-01" }
//
// fleetprov POSTs AWS's Lambda event ({claimCertificateId, certificateId, certificatePem, templateArn, clientId,
// parameters}) with three headers:
//   x-fleetprov-timestamp  Unix seconds when the call was made
//   x-fleetprov-delivery   a UUID unique to the call
//   x-fleetprov-signature  v1=<hex HMAC-SHA256(secret, "<timestamp>.<delivery>.<raw body>")>
// This webhook refuses (401) a call whose signature does not match, whose timestamp is more than 5 minutes
// off, or whose delivery id it has already seen (a replay); fleetprov then denies the provisioning.
// It answers AWS's Lambda response: {"allowProvisioning": true|false}.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const TOLERANCE_SECONDS = 300;
const MAX_BODY_BYTES = 64 * 1024;

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9000' },
    host: { type: 'string', default: '127.0.0.1' },
    'secret-file': { type: 'string' },
    allow: { type: 'string', default: '' },
    'allow-file': { type: 'string' },
    parameter: { type: 'string', default: 'SerialNumber' },
  },
});

function fail(message) {
  process.stderr.write(`hook-allowlist: ${message}\n`);
  process.exit(2);
}

const secret = values['secret-file'] ? readFileSync(values['secret-file'], 'utf8').trim() : process.env.FLEETPROV_HOOK_SECRET;
if (!secret) fail('give --secret-file DATA_DIR/hook-secret (printed by `fleetprov server`) or set FLEETPROV_HOOK_SECRET');
const allowed = new Set(
  values.allow
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
if (values['allow-file']) {
  for (const line of readFileSync(values['allow-file'], 'utf8').split('\n'))
    if (line.trim() && !line.startsWith('#')) allowed.add(line.trim());
}
const parameter = values.parameter;

/** Delivery ids seen within the tolerance window → when they may be forgotten (ms). */
const seen = new Map();

/** Why the call is not authentic, or null. */
function verify(headers, body) {
  const timestamp = headers['x-fleetprov-timestamp'];
  const delivery = headers['x-fleetprov-delivery'];
  const signature = headers['x-fleetprov-signature'];
  if (typeof timestamp !== 'string' || typeof delivery !== 'string' || typeof signature !== 'string') return 'missing signature headers';
  if (!/^[0-9]{1,12}$/.test(timestamp)) return 'malformed timestamp';
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return 'timestamp too old or in the future';
  const expected = Buffer.from(`v1=${createHmac('sha256', secret).update(`${timestamp}.${delivery}.${body}`).digest('hex')}`);
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'signature mismatch';
  const now = Date.now();
  for (const [id, forgetAt] of seen) if (forgetAt < now) seen.delete(id);
  if (seen.has(delivery)) return 'replayed delivery id';
  seen.set(delivery, now + 2 * TOLERANCE_SECONDS * 1000);
  return null;
}

function reply(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer((req, res) => {
  if (req.method !== 'POST') return reply(res, 405, { message: 'POST only' });
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  req.on('end', () => {
    if (size > MAX_BODY_BYTES) return reply(res, 413, { message: 'body too large' });
    const body = Buffer.concat(chunks).toString('utf8');
    const problem = verify(req.headers, body);
    if (problem !== null) {
      process.stdout.write(`refused a call: ${problem}\n`);
      return reply(res, 401, { message: problem });
    }
    let event;
    try {
      event = JSON.parse(body);
    } catch {
      return reply(res, 400, { message: 'body is not JSON' });
    }
    const serial = event?.parameters?.[parameter];
    const allow = typeof serial === 'string' && allowed.has(serial);
    process.stdout.write(`${allow ? 'allowed' : 'denied'} ${parameter}=${JSON.stringify(serial)} (client ${event?.clientId})\n`);
    reply(res, 200, { allowProvisioning: allow });
  });
});

server.listen(Number(values.port), values.host, () => {
  const address = server.address();
  process.stdout.write(`hook-allowlist listening on http://${values.host}:${address.port}/ (${allowed.size} serial numbers allowed)\n`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => server.close(() => process.exit(0)));
