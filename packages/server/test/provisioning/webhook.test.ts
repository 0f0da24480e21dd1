/**
 * Pre-provisioning hooks as webhooks, end to end: a real broker over mutual TLS, a real registry, and
 * the webhook as a real HTTP server in the test. The webhook receives exactly AWS's Lambda event,
 * signed; every failure (500, a hang past the timeout, "true" as a string, garbage, non-string
 * overrides, unreachable, oversized reply, an unknown target) denies with a reason that says which,
 * in the reply and in the event log, and creates nothing.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import {
  verifyWebhookSignature,
  WEBHOOK_DELIVERY_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
} from '../../src/provisioning/index.js';
import { createCertificateAuthority, issueServerCertificate } from '../../src/pki/index.js';
import { closedPort } from '../e2e/support.js';
import { accepted, createKeys, registerThing, rejectedWith, snapshot, startLab, type Lab } from './helpers.js';

const SECRET = 'test-webhook-secret-0123456789abcdef';
const TIMEOUT_MS = 1500;

/** One call the webhook received. */
interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  /** Why the signature is not valid, or null. */
  signatureProblem: string | null;
}

type Behaviour = (req: IncomingMessage, res: ServerResponse, body: string) => void;

describe('pre-provisioning webhook', () => {
  let lab: Lab;
  let claim: MqttClient;
  let webhook: Server;
  let url: string;
  let behave: Behaviour;
  const received: Received[] = [];
  /** Requests whose client went away before an answer (the hang case). */
  let abortedRequests = 0;

  function json(res: ServerResponse, status: number, value: unknown): void {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(text);
  }

  async function setTarget(targetArn: string): Promise<void> {
    await lab.registry.templates.update('birthing_template', { preProvisioningHook: { targetArn, payloadVersion: '2020-04-01' } });
  }

  before(async () => {
    webhook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : undefined);
        const signatureProblem = verifyWebhookSignature(
          SECRET,
          {
            timestamp: header(WEBHOOK_TIMESTAMP_HEADER),
            delivery: header(WEBHOOK_DELIVERY_HEADER),
            signature: header(WEBHOOK_SIGNATURE_HEADER),
          },
          body,
        );
        received.push({ headers: req.headers, body, signatureProblem });
        res.on('close', () => {
          if (!res.writableEnded) abortedRequests++;
        });
        behave(req, res, body);
      });
    });
    webhook.listen(0, '127.0.0.1');
    await once(webhook, 'listening');
    const address = webhook.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/hook`;
    lab = await startLab({ handler: { webhookSecret: SECRET, hookTimeoutMs: TIMEOUT_MS } });
    await setTarget(url);
    claim = await lab.connect(lab.claim, 'webhook-client');
  });
  after(async () => {
    await lab.close();
    webhook.closeAllConnections();
    await new Promise<void>((resolve) => webhook.close(() => resolve()));
  });

  test("the webhook gets AWS's event, signed, and its string overrides replace device parameters", async () => {
    behave = (_req, res) =>
      json(res, 200, { allowProvisioning: true, parameterOverrides: { SerialNumber: 'from-webhook', Extra: 'added' } });
    const keys = await createKeys(claim);
    received.length = 0;
    const reply = accepted(await registerThing(claim, keys.token, { SerialNumber: 'from-device' }));
    assert.equal(reply.thingName, 'born_from-webhook');
    assert.equal(received.length, 1);
    const call = received[0]!;
    assert.equal(call.signatureProblem, null, 'the call is signed with the shared secret');
    assert.equal(call.headers['content-type'], 'application/json');
    assert.ok(Math.abs(Number(call.headers[WEBHOOK_TIMESTAMP_HEADER]) - Date.now() / 1000) < 60);
    assert.match(String(call.headers[WEBHOOK_DELIVERY_HEADER]), /^[0-9a-f-]{36}$/);
    assert.deepEqual(JSON.parse(call.body), {
      claimCertificateId: lab.claim.certificateId,
      certificateId: keys.certificateId,
      certificatePem: keys.certificatePem,
      templateArn: 'arn:aws:iot:us-east-1:000000000000:provisioningtemplate/birthing_template',
      clientId: 'webhook-client',
      parameters: { SerialNumber: 'from-device' },
    });
    const [event] = await lab.registry.events.list({
      certificateId: keys.certificateId,
      types: ['fleet-provisioning'],
      outcome: 'accepted',
      newestFirst: true,
      limit: 1,
    });
    assert.deepEqual(event?.details?.parameterOverrides, ['SerialNumber', 'Extra']);
  });

  test('two calls carry different delivery ids (a webhook can refuse a replayed one)', async () => {
    behave = (_req, res) => json(res, 200, { allowProvisioning: true });
    received.length = 0;
    for (const serial of ['delivery-1', 'delivery-2']) {
      const keys = await createKeys(claim);
      accepted(await registerThing(claim, keys.token, { SerialNumber: serial }));
    }
    assert.equal(received.length, 2);
    assert.notEqual(received[0]!.headers[WEBHOOK_DELIVERY_HEADER], received[1]!.headers[WEBHOOK_DELIVERY_HEADER]);
    assert.notEqual(received[0]!.headers[WEBHOOK_SIGNATURE_HEADER], received[1]!.headers[WEBHOOK_SIGNATURE_HEADER]);
  });

  const failures: Array<{ name: string; behaviour?: Behaviour; target?: () => Promise<string>; reason: RegExp }> = [
    { name: 'HTTP 500', behaviour: (_req, res) => json(res, 500, { message: 'boom' }), reason: /the webhook answered HTTP 500/ },
    {
      name: 'HTTP 302 (non-2xx)',
      behaviour: (_req, res) => json(res, 302, { allowProvisioning: true }),
      reason: /the webhook answered HTTP 302/,
    },
    {
      name: 'a hang past the timeout',
      behaviour: () => undefined,
      reason: new RegExp(`the hook did not answer within ${TIMEOUT_MS} ms \\(timeout\\)`),
    },
    {
      name: 'allowProvisioning "true" as a string',
      behaviour: (_req, res) => json(res, 200, { allowProvisioning: 'true' }),
      reason: /malformed reply: allowProvisioning must be the boolean true or false, got the string "true"/,
    },
    { name: 'garbage', behaviour: (_req, res) => json(res, 200, '<html>not json</html>'), reason: /malformed reply \(not JSON\)/ },
    {
      name: 'a JSON array',
      behaviour: (_req, res) => json(res, 200, [true]),
      reason: /malformed reply \(an array instead of a JSON object\)/,
    },
    {
      name: 'allowProvisioning missing',
      behaviour: (_req, res) => json(res, 200, {}),
      reason: /allowProvisioning must be the boolean true or false, got nothing/,
    },
    {
      name: 'a numeric override',
      behaviour: (_req, res) => json(res, 200, { allowProvisioning: true, parameterOverrides: { SerialNumber: 7 } }),
      reason: /parameterOverrides.SerialNumber must be a string, got the number 7/,
    },
    {
      name: 'a null override',
      behaviour: (_req, res) => json(res, 200, { allowProvisioning: true, parameterOverrides: { SerialNumber: null } }),
      reason: /parameterOverrides.SerialNumber must be a string, got null/,
    },
    {
      name: 'overrides that are a list',
      behaviour: (_req, res) => json(res, 200, { allowProvisioning: true, parameterOverrides: ['x'] }),
      reason: /parameterOverrides must be an object of strings, got an array/,
    },
    {
      name: 'a __proto__ override',
      behaviour: (_req, res) => json(res, 200, '{"allowProvisioning":true,"parameterOverrides":{"__proto__":"x"}}'),
      reason: /unusable parameter name "__proto__"/,
    },
    {
      name: 'an oversized reply',
      behaviour: (_req, res) => json(res, 200, { allowProvisioning: true, padding: 'x'.repeat(70_000) }),
      reason: /reply is larger than 65536 bytes/,
    },
    {
      name: 'a denial',
      behaviour: (_req, res) => json(res, 200, { allowProvisioning: false }),
      reason: /the hook denied provisioning \(allowProvisioning is false\)/,
    },
    {
      name: 'an unreachable webhook',
      target: async () => `http://127.0.0.1:${await closedPort()}/hook`,
      reason: /the webhook could not be reached \(ECONNREFUSED\)/,
    },
    {
      name: 'a Lambda ARN no function is registered for',
      target: async () => 'arn:aws:lambda:us-east-1:000000000000:function:nope',
      reason: /no pre-provisioning hook "arn:aws:lambda:us-east-1:000000000000:function:nope" is registered/,
    },
  ];
  for (const failure of failures) {
    test(`${failure.name}: 403 AccessDenied saying so, in the reply and the event log; nothing created`, async () => {
      behave = failure.behaviour ?? ((_req, res) => json(res, 200, { allowProvisioning: true }));
      if (failure.target) await setTarget(await failure.target());
      try {
        const keys = await createKeys(claim);
        const before = await snapshot(lab);
        const aborted = abortedRequests;
        const serial = `denied-${failure.name.replace(/\W+/g, '-')}`;
        const reply = await registerThing(claim, keys.token, { SerialNumber: serial });
        rejectedWith(
          reply,
          403,
          'AccessDenied',
          new RegExp(`^provisioning with template birthing_template was denied by its pre-provisioning hook: .*${failure.reason.source}`),
        );
        assert.deepEqual(await snapshot(lab), before, 'nothing was created or activated');
        assert.equal((await lab.registry.certificates.get(keys.certificateId))?.status, 'PENDING_ACTIVATION');
        assert.equal(await lab.registry.things.get(`born_${serial}`), null);
        const [event] = await lab.registry.events.list({
          certificateId: keys.certificateId,
          outcome: 'rejected',
          newestFirst: true,
          limit: 1,
        });
        assert.equal(event?.errorCode, 'AccessDenied');
        assert.match(String(event?.message), failure.reason);
        if (failure.name === 'a hang past the timeout') {
          // The timeout aborts the HTTP request instead of leaving it open.
          for (let i = 0; i < 50 && abortedRequests === aborted; i++) await new Promise((r) => setTimeout(r, 100));
          assert.equal(abortedRequests, aborted + 1);
        }
      } finally {
        if (failure.target) await setTarget(url);
      }
    });
  }

  test('a template without a hook does not call the webhook', async () => {
    received.length = 0;
    behave = (_req, res) => json(res, 500, {});
    await lab.registry.templates.update('birthing_template', { removePreProvisioningHook: true });
    try {
      const keys = await createKeys(claim);
      accepted(await registerThing(claim, keys.token, { SerialNumber: 'no-hook' }));
      assert.equal(received.length, 0);
    } finally {
      await setTarget(url);
    }
  });
});

describe('pre-provisioning webhook without a secret', () => {
  test('a webhook target denies when the handler has no secret to sign with', async () => {
    const lab = await startLab();
    try {
      await lab.registry.templates.update('birthing_template', { preProvisioningHook: { targetArn: 'http://127.0.0.1:9/never' } });
      const claim = await lab.connect(lab.claim, 'unsigned-client');
      const keys = await createKeys(claim);
      rejectedWith(await registerThing(claim, keys.token, { SerialNumber: 'unsigned' }), 403, 'AccessDenied', /no hook secret configured/);
    } finally {
      await lab.close();
    }
  });
});

describe('pre-provisioning webhook over https', () => {
  let lab: Lab;
  const servers: HttpsServer[] = [];
  const calls: string[] = [];

  /** An https webhook with a certificate for `names` from `ca`; returns its URL. */
  async function httpsWebhook(ca: Awaited<ReturnType<typeof createCertificateAuthority>>, names: string[]): Promise<string> {
    const tls = await issueServerCertificate(ca, names);
    const server = createHttpsServer({ key: tls.privateKeyPem, cert: tls.chainPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        calls.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ allowProvisioning: true, parameterOverrides: { SerialNumber: 'via-https' } }));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    servers.push(server);
    const address = server.address();
    return `https://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/hook`;
  }

  before(async () => {
    // The webhook's certificate comes from a private CA that only the handler's webhookCa trusts.
    const privateCa = await createCertificateAuthority({ keyAlgorithm: 'ec-p256' });
    const untrustedCa = await createCertificateAuthority({ keyAlgorithm: 'ec-p256' });
    lab = await startLab({ handler: { webhookSecret: SECRET, hookTimeoutMs: 5000, webhookCa: privateCa.rootCertificatePem } });
    await lab.registry.templates.update('birthing_template', {
      preProvisioningHook: { targetArn: await httpsWebhook(privateCa, ['127.0.0.1']) },
    });
    await lab.registry.templates.update('device_template', {
      preProvisioningHook: { targetArn: await httpsWebhook(untrustedCa, ['127.0.0.1']) },
    });
  });
  after(async () => {
    await lab.close();
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('an https webhook whose certificate chains to webhookCa is called; one from an untrusted CA is refused', async () => {
    const claim = await lab.connect(lab.claim, 'https-client');
    const keys = await createKeys(claim);
    assert.equal(accepted(await registerThing(claim, keys.token, { SerialNumber: 'x' })).thingName, 'born_via-https');
    assert.equal(calls.length, 1);
    const deviceClaim = await lab.connect(lab.deviceClaim, 'https-device-client');
    const other = await createKeys(deviceClaim);
    const before = await snapshot(lab);
    const reply = await registerThing(deviceClaim, other.token, { SerialNumber: 'y' }, 'json', 'device_template');
    rejectedWith(
      reply,
      403,
      'AccessDenied',
      /the webhook could not be reached \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/,
    );
    assert.deepEqual(await snapshot(lab), before);
    assert.equal(calls.length, 1, 'the untrusted webhook never saw the event');
  });
});
