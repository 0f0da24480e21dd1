/**
 * Pre-provisioning hooks on a real server: the shipped example webhook (examples/hook-allowlist.mjs,
 * run with node) verifying the HMAC with the secret the server generated in its data directory and
 * admitting only allow-listed serial numbers; the webhook refusing forged, stale, replayed and
 * oversized calls; in-process hooks registered by name and selected by a template's targetArn; the
 * hook timeout option.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { DescribeProvisioningTemplateCommand } from '@aws-sdk/client-iot';
import { signWebhookRequest, webhookSignature, type PreProvisioningHookEvent } from '../../src/provisioning/index.js';
import { packageRoot } from '../support/package-root.js';
import { fleetprovBin, runNode } from '../e2e/support.js';
import { connectMqtt, createClaim, createTemplate, provisionOnce, startTestServer, thingTemplate, type TestServer } from './support.js';

/** The example webhook as a child process. */
interface ExampleWebhook {
  child: ChildProcessByStdio<null, Readable, Readable>;
  url: string;
  output(): string;
  stop(): Promise<void>;
}

async function startExample(args: string[]): Promise<ExampleWebhook> {
  const child = spawn(process.execPath, [join(packageRoot(), 'examples', 'hook-allowlist.mjs'), '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (t: string) => void (out += t));
  child.stderr.setEncoding('utf8').on('data', (t: string) => void (out += t));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the example webhook did not start: ${out}`)), 20_000);
    child.stdout.on('data', () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the example webhook exited with ${code}: ${out}`));
    });
  });
  return {
    child,
    url,
    output: () => out,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    },
  };
}

/** POSTs `body` to the webhook with the given headers. */
async function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, json };
}

function eventFor(serial: string): string {
  const event: PreProvisioningHookEvent = {
    claimCertificateId: 'a'.repeat(64),
    certificateId: 'b'.repeat(64),
    certificatePem: '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n',
    templateArn: 'arn:aws:iot:us-east-1:000000000000:provisioningtemplate/t',
    clientId: 'c',
    parameters: { SerialNumber: serial },
  };
  return JSON.stringify(event);
}

function signedHeaders(secret: string, body: string, now = Date.now()): Record<string, string> {
  const sig = signWebhookRequest(secret, body, now);
  return { 'x-fleetprov-timestamp': sig.timestamp, 'x-fleetprov-delivery': sig.delivery, 'x-fleetprov-signature': sig.signature };
}

describe('the example allow-list webhook with a real server', () => {
  let t: TestServer;
  let webhook: ExampleWebhook;
  let secret: string;
  let claim: MqttClient;

  before(async () => {
    t = await startTestServer();
    assert.ok(t.server.hookSecretPath, 'the server generated a hook secret file');
    secret = (await readFile(t.server.hookSecretPath, 'utf8')).trim();
    webhook = await startExample(['--secret-file', t.server.hookSecretPath, '--allow', 'SN-0001,SN-0002']);
    await createTemplate(t.iot, 'allowlist_template', 'al_', webhook.url);
    const creds = await createClaim(t.iot);
    claim = await connectMqtt(t, creds, 'claim-allowlist');
  });
  after(async () => {
    await claim?.endAsync(true).catch(() => undefined);
    await webhook?.stop();
    await t?.close();
  });

  test('the hook secret is 64 hex characters in an owner-only file, and the template stores the webhook URL', async () => {
    assert.match(secret, /^[0-9a-f]{64}$/);
    assert.equal((await stat(t.server.hookSecretPath!)).mode & 0o777, 0o600);
    const described = await t.iot.send(new DescribeProvisioningTemplateCommand({ templateName: 'allowlist_template' }));
    assert.deepEqual(described.preProvisioningHook, { targetArn: webhook.url, payloadVersion: '2020-04-01' });
  });

  test('an allow-listed serial is provisioned; one not on the list is refused and nothing is created', async () => {
    const ok = await provisionOnce(claim, 'allowlist_template', { SerialNumber: 'SN-0001' });
    assert.ok(ok.register.accepted, JSON.stringify(ok.register.payload));
    assert.equal(ok.register.payload.thingName, 'al_SN-0001');
    assert.equal((await t.server.registry.certificates.get(ok.certificateId))?.status, 'ACTIVE');

    const denied = await provisionOnce(claim, 'allowlist_template', { SerialNumber: 'SN-9999' });
    assert.equal(denied.register.accepted, false);
    assert.equal(denied.register.payload.statusCode, 403);
    assert.equal(denied.register.payload.errorCode, 'AccessDenied');
    assert.match(
      String(denied.register.payload.errorMessage),
      /denied by its pre-provisioning hook: the hook denied provisioning \(allowProvisioning is false\)/,
    );
    assert.equal(await t.server.registry.things.get('al_SN-9999'), null);
    assert.equal((await t.server.registry.certificates.get(denied.certificateId))?.status, 'PENDING_ACTIVATION');
    assert.match(webhook.output(), /allowed SerialNumber="SN-0001"/);
    assert.match(webhook.output(), /denied SerialNumber="SN-9999"/);
  });

  test('the webhook verifies the HMAC: a forged, unsigned, stale or replayed call gets 401; an oversized body 413', async () => {
    const body = eventFor('SN-0002');
    const good = signedHeaders(secret, body);
    assert.deepEqual(await post(webhook.url, body, good), { status: 200, json: { allowProvisioning: true } });
    // The exact same call again: a replay.
    assert.deepEqual(await post(webhook.url, body, good), { status: 401, json: { message: 'replayed delivery id' } });
    // Signed with another secret.
    assert.deepEqual(await post(webhook.url, body, signedHeaders('not-the-secret-0123456789', body)), {
      status: 401,
      json: { message: 'signature mismatch' },
    });
    // A valid signature for a different body (SN-0001 swapped in).
    const tampered = eventFor('SN-0001');
    assert.deepEqual(await post(webhook.url, tampered, signedHeaders(secret, body)), {
      status: 401,
      json: { message: 'signature mismatch' },
    });
    // No signature headers.
    assert.deepEqual(await post(webhook.url, body, {}), { status: 401, json: { message: 'missing signature headers' } });
    // Correctly signed, but ten minutes old.
    assert.deepEqual(await post(webhook.url, body, signedHeaders(secret, body, Date.now() - 600_000)), {
      status: 401,
      json: { message: 'timestamp too old or in the future' },
    });
    // A signature over a timestamp the header does not carry.
    const sig = signWebhookRequest(secret, body);
    const wrongTime = {
      'x-fleetprov-timestamp': String(Number(sig.timestamp) - 1),
      'x-fleetprov-delivery': sig.delivery,
      'x-fleetprov-signature': sig.signature,
    };
    assert.equal((await post(webhook.url, body, wrongTime)).status, 401);
    // Oversized.
    const huge = JSON.stringify({ parameters: { SerialNumber: 'x'.repeat(70_000) } });
    const hugeTs = String(Math.floor(Date.now() / 1000));
    const hugeRes = await post(webhook.url, huge, {
      'x-fleetprov-timestamp': hugeTs,
      'x-fleetprov-delivery': 'd',
      'x-fleetprov-signature': webhookSignature(secret, hugeTs, 'd', huge),
    });
    assert.equal(hugeRes.status, 413);
  });

  test("the CLI sets and removes a template's hook: `template create --hook`, `template hook NAME TARGET|--remove`", async () => {
    const cli = (...args: string[]) =>
      runNode([fleetprovBin(), ...args, '--endpoint', t.server.controlPlaneUrl, '--data-dir', t.dataDir], { timeoutMs: 60_000 });
    const file = join(t.dataDir, 'cli-template.json');
    await writeFile(file, thingTemplate('cli_'));
    const created = await cli('template', 'create', 'cli_template', file, '--enabled', '--hook', webhook.url);
    assert.equal(created.code, 0, created.stderr);
    const described = await cli('template', 'describe', 'cli_template');
    assert.deepEqual((JSON.parse(described.stdout) as { preProvisioningHook: unknown }).preProvisioningHook, {
      targetArn: webhook.url,
      payloadVersion: '2020-04-01',
    });
    const refused = await provisionOnce(claim, 'cli_template', { SerialNumber: 'not-listed' });
    assert.match(String(refused.register.payload.errorMessage), /the hook denied provisioning/);
    const removed = await cli('template', 'hook', 'cli_template', '--remove');
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /cli_template: pre-provisioning hook removed/);
    const allowed = await provisionOnce(claim, 'cli_template', { SerialNumber: 'not-listed' });
    assert.ok(allowed.register.accepted, JSON.stringify(allowed.register.payload));
    const set = await cli('template', 'hook', 'cli_template', webhook.url);
    assert.equal(set.code, 0, set.stderr);
    const refusedAgain = await provisionOnce(claim, 'cli_template', { SerialNumber: 'also-not-listed' });
    assert.equal(refusedAgain.register.accepted, false);
    for (const args of [
      ['template', 'hook', 'cli_template'],
      ['template', 'hook', 'cli_template', webhook.url, '--remove'],
    ]) {
      const bad = await cli(...args);
      assert.equal(bad.code, 2, args.join(' '));
      assert.match(bad.stderr, /give either a hook target or --remove/);
    }
    const missing = await cli('template', 'hook', 'no_such_template', webhook.url);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /ResourceNotFoundException/);
  });

  test('a server signing with another secret is refused by the webhook: RegisterThing denied with "HTTP 401"', async () => {
    const other = await startTestServer({ hookSecret: 'another-secret-that-the-webhook-does-not-know' });
    try {
      assert.equal(other.server.hookSecretPath, null);
      await createTemplate(other.iot, 'allowlist_template', 'al_', webhook.url);
      const creds = await createClaim(other.iot);
      const client = await connectMqtt(other, creds, 'claim-wrong-secret');
      try {
        const denied = await provisionOnce(client, 'allowlist_template', { SerialNumber: 'SN-0001' });
        assert.equal(denied.register.accepted, false);
        assert.match(String(denied.register.payload.errorMessage), /the webhook answered HTTP 401/);
        assert.equal(await other.server.registry.things.get('al_SN-0001'), null);
      } finally {
        await client.endAsync(true);
      }
    } finally {
      await other.close();
    }
  });
});

describe('in-process hooks registered by name', () => {
  let t: TestServer;
  let claim: MqttClient;
  const calls: Array<{ hook: string; serial: string | undefined }> = [];

  before(async () => {
    t = await startTestServer({
      preProvisioningHookTimeoutMs: 300,
      preProvisioningHooks: {
        allowlist: async (event) => {
          calls.push({ hook: 'allowlist', serial: event.parameters.SerialNumber });
          return { allowProvisioning: event.parameters.SerialNumber === 'good', parameterOverrides: { SerialNumber: 'good-renamed' } };
        },
        slow: () => new Promise((resolve) => setTimeout(() => resolve({ allowProvisioning: true }), 2000).unref()),
      },
      preProvisioningHook: async (event) => {
        calls.push({ hook: 'default', serial: event.parameters.SerialNumber });
        return { allowProvisioning: true };
      },
    });
    await createTemplate(t.iot, 'by_name', 'n_', 'allowlist');
    await createTemplate(t.iot, 'by_lambda_arn', 'l_', 'arn:aws:lambda:us-east-1:000000000000:function:allowlist:live');
    await createTemplate(t.iot, 'slow_hook', 's_', 'slow');
    await createTemplate(t.iot, 'unknown_hook', 'u_', 'arn:aws:lambda:us-east-1:000000000000:function:missing');
    await createTemplate(t.iot, 'no_hook', 'd_');
    claim = await connectMqtt(t, await createClaim(t.iot), 'claim-named');
  });
  after(async () => {
    await claim?.endAsync(true).catch(() => undefined);
    await t?.close();
  });

  test('a template selects its hook by name or by Lambda ARN; a template without one runs the server-wide hook', async () => {
    calls.length = 0;
    const byName = await provisionOnce(claim, 'by_name', { SerialNumber: 'good' });
    assert.equal(byName.register.payload.thingName, 'n_good-renamed');
    const byArn = await provisionOnce(claim, 'by_lambda_arn', { SerialNumber: 'good' });
    assert.equal(byArn.register.payload.thingName, 'l_good-renamed');
    const plain = await provisionOnce(claim, 'no_hook', { SerialNumber: 'plain' });
    assert.equal(plain.register.payload.thingName, 'd_plain');
    assert.deepEqual(calls, [
      { hook: 'allowlist', serial: 'good' },
      { hook: 'allowlist', serial: 'good' },
      { hook: 'default', serial: 'plain' },
    ]);
    const denied = await provisionOnce(claim, 'by_name', { SerialNumber: 'bad' });
    assert.equal(denied.register.payload.errorCode, 'AccessDenied');
    assert.equal(await t.server.registry.things.get('n_bad'), null);
  });

  test('preProvisioningHookTimeoutMs applies; an unregistered target denies', async () => {
    const slow = await provisionOnce(claim, 'slow_hook', { SerialNumber: 'x' });
    assert.match(String(slow.register.payload.errorMessage), /the hook did not answer within 300 ms \(timeout\)/);
    assert.equal(await t.server.registry.things.get('s_x'), null);
    const unknown = await provisionOnce(claim, 'unknown_hook', { SerialNumber: 'x' });
    assert.match(
      String(unknown.register.payload.errorMessage),
      /no pre-provisioning hook "arn:aws:lambda:us-east-1:000000000000:function:missing" is registered on this server/,
    );
    assert.equal(await t.server.registry.things.get('u_x'), null);
  });
});

describe('hook secret file', () => {
  test('is kept across restarts; a damaged one stops the server with a message saying what to do', async () => {
    const first = await startTestServer();
    const path = first.server.hookSecretPath!;
    const secret = await readFile(path, 'utf8');
    await first.server.close();
    first.iot.destroy();
    const second = await startTestServer({}, first.dataDir);
    try {
      assert.equal(await readFile(second.server.hookSecretPath!, 'utf8'), secret);
    } finally {
      await second.server.close();
      second.iot.destroy();
    }
    await writeFile(path, 'short\n');
    await assert.rejects(startTestServer({}, first.dataDir), /does not hold a usable hook secret .* delete it to generate a new one/);
    await first.close();
  });
});
