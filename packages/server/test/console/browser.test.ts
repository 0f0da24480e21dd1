/**
 * The web console end to end in real headless Chromium (Debian's `chromium` driven by
 * playwright-core) against a real fleetprov server (`startServer`: broker over mutual TLS,
 * registry on SQLite, HTTPS control plane), with a real device (`@fleetprov/device`'s provision()).
 *
 * The operator's walkthrough: sign in (a wrong key is refused), create the claim and device
 * policies, create a template with an error and see it flagged at its JSON path, fix it, create a
 * claim certificate and download its bundle, provision a device with it, see the device appear
 * with its certificate and history, simulate a policy decision, deactivate the certificate and see
 * the device's MQTT connection dropped. Also: 10 000 things page and search on the server.
 * Screenshots of the main pages are taken on every run (a page that cannot render fails the step); they
 * replace docs/screenshots/ only with FLEETPROV_UPDATE_SCREENSHOTS=1, so a test run leaves the tree clean.
 *
 * Chromium is required: without /usr/bin/chromium (or $CHROMIUM_PATH) this test fails.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { provision } from '@fleetprov/device';
import { startServer, type RunningServer } from '../../src/server.js';
import { readSharedCredentialsFile } from '../../src/api/credentials.js';
import { packageRoot } from '../support/package-root.js';
import { rawRequest } from '../api/helpers.js';
import { run } from '../cli/support.js';
import { PROVISIONING_EVENT_TYPE } from '../../src/provisioning/request-scope.js';
import { createCertificateAuthority, parseCertificateFacts } from '../../src/pki/index.js';
import { DEVICE_CLAIM_POLICY, DEVICE_POLICY, DEVICE_TEMPLATE } from '../provisioning/helpers.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOTS =
  process.env.FLEETPROV_UPDATE_SCREENSHOTS === '1'
    ? join(packageRoot(), '..', '..', 'docs', 'screenshots')
    : mkdtempSync(join(tmpdir(), 'fleetprov-screenshots-'));
const TEMPLATE = 'device_template';
const WAIT = { timeout: 60_000 };

/** The device template with a Ref to an undeclared parameter inside the thing name. */
function brokenTemplate(): string {
  const body = JSON.parse(DEVICE_TEMPLATE) as { Resources: { thing: { Properties: { ThingName: unknown } } } };
  body.Resources.thing.Properties.ThingName = { 'Fn::Join': ['', ['born_', { Ref: 'SerialNumbr' }]] };
  return JSON.stringify(body, null, 2);
}

/** The files of a ustar archive (the claim bundle). */
function untar(bytes: Buffer): Map<string, string> {
  const files = new Map<string, string>();
  let off = 0;
  while (off + 512 <= bytes.length) {
    const header = bytes.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('utf8').replace(/\0.*$/s, '').trim(), 8);
    files.set(name, bytes.subarray(off + 512, off + 512 + size).toString('utf8'));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

describe('web console in headless Chromium', { timeout: 300_000 }, () => {
  let server: RunningServer;
  let dataDir: string;
  let context: BrowserContext;
  let page: Page;
  let admin: { accessKeyId: string; secretAccessKey: string };
  let claim: { certificateId: string; certPem: string; keyPem: string; rootCa: string };
  let device: { thingName: string; certificateId: string; client: MqttClient };
  const pageErrors: string[] = [];
  let sessionCookie = '';

  const url = (hash: string): string => `${server.controlPlaneUrl}/console/#${hash}`;
  const shot = async (name: string): Promise<void> => {
    // Notices of earlier steps would only clutter the picture.
    await page.evaluate(() => {
      for (const t of (
        globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<{ remove(): void }> } }
      ).document.querySelectorAll('.toast'))
        t.remove();
    });
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
  };

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `Chromium is required at ${CHROMIUM}: apt-get install -y chromium (npm test installs it), or set CHROMIUM_PATH`,
    );
    dataDir = await mkdtemp(join(tmpdir(), 'fleetprov-console-'));
    // 20-day certificates: within the 30 days in which the console flags a certificate as due for rotation.
    server = await startServer({
      dataDir,
      mqttPort: 0,
      httpPort: 0,
      logLevel: 'silent',
      keyAlgorithm: 'ec-p256',
      certificateValidityDays: 20,
    });
    admin = (await readSharedCredentialsFile(server.paths.credentials))!;
    await mkdir(SCREENSHOTS, { recursive: true });
    context = await chromium.launchPersistentContext(join(dataDir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      ignoreHTTPSErrors: true,
      viewport: { width: 1360, height: 860 },
      acceptDownloads: true,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(60_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });

  after(async () => {
    device?.client.end(true);
    await context?.close();
    await server?.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
    if (process.env.FLEETPROV_UPDATE_SCREENSHOTS !== '1') await rm(SCREENSHOTS, { recursive: true, force: true });
  });

  test('the console is not open without signing in, and a wrong key is refused', async () => {
    await page.goto(url('/'));
    await page.waitForSelector('[data-testid=login-form]', WAIT);
    assert.equal(await page.locator('[data-testid=card-things]').count(), 0);
    await page.fill('#accessKeyId', admin.accessKeyId);
    await page.fill('#secretAccessKey', `${admin.secretAccessKey.slice(0, -1)}x`);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=login-status] .alert.error', WAIT);
    assert.match(await page.locator('[data-testid=login-status]').innerText(), /access key id or the secret access key is wrong/);
    assert.deepEqual(
      (await context.cookies()).filter((c) => c.name === 'fleetprov_console'),
      [],
    );
    await shot('login');
  });

  test('signing in with the key pair opens the overview with an HttpOnly, SameSite=Strict cookie', async () => {
    await page.fill('#secretAccessKey', admin.secretAccessKey);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=card-things]', WAIT);
    assert.equal(await page.locator('[data-testid=who]').innerText(), admin.accessKeyId);
    const cookie = (await context.cookies()).find((c) => c.name === 'fleetprov_console');
    assert.ok(cookie);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.secure, true);
    sessionCookie = `${cookie.name}=${cookie.value}`;
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie),
      '',
      'the session cookie is invisible to scripts',
    );
  });

  test('policies are created in the editor, validated at their JSON path', async () => {
    for (const [name, document] of [
      ['claim_policy', DEVICE_CLAIM_POLICY],
      ['device_policy', DEVICE_POLICY],
    ] as const) {
      await page.goto(url('/policies/new'));
      await page.waitForSelector('[data-testid=policy-name]', WAIT);
      await page.fill('[data-testid=policy-name]', name);
      const broken = JSON.stringify({ ...JSON.parse(document), Statement: [{ Effect: 'Perhaps', Action: 'iot:Connect', Resource: '*' }] });
      await page.fill('[data-testid=policy-document]', broken);
      await page.waitForSelector('[data-testid=json-error][data-path="Statement[0].Effect"]', WAIT);
      await page.fill('[data-testid=policy-document]', document);
      await page.waitForSelector('[data-testid=policy-document-status] .alert.ok', WAIT);
      await page.click('[data-testid=policy-save]');
      await page.waitForURL(`**/console/#/policies/${name}`, WAIT);
      await page.waitForSelector('[data-testid=policy-versions]', WAIT);
    }
    assert.ok(await server.registry.policies.get('claim_policy'));
    assert.ok(await server.registry.policies.get('device_policy'));
  });

  test('a template with an error is flagged at its JSON path, not saved, then fixed and created', async () => {
    await page.goto(url('/templates/new'));
    await page.waitForSelector('[data-testid=template-name]', WAIT);
    await page.fill('[data-testid=template-name]', TEMPLATE);
    await page.fill('[data-testid=template-body]', brokenTemplate());
    const error = page.locator('[data-testid=json-error]');
    await error.waitFor(WAIT);
    assert.equal(await error.getAttribute('data-path'), 'Resources.thing.Properties.ThingName.Fn::Join[1][1]');
    assert.match(await error.innerText(), /Ref to undeclared parameter "SerialNumbr"/);
    assert.match(await page.locator('[data-testid=json-error-path]').innerText(), /^Resources\.thing\.Properties\.ThingName/);
    await page.click('[data-testid=template-save]');
    await page.waitForSelector('[data-testid=template-message] .alert.error', WAIT);
    assert.equal(await server.registry.templates.get(TEMPLATE), null, 'an invalid template is not created');
    await shot('template-error');

    await page.fill('[data-testid=template-body]', JSON.stringify(JSON.parse(DEVICE_TEMPLATE), null, 2));
    await page.waitForSelector('[data-testid=template-body-status] .alert.ok', WAIT);
    // Try it: the plan for SerialNumber=1234, and nothing is created.
    await page.click('[data-testid=tryit-run]');
    await page.waitForSelector('[data-testid=tryit-result] pre', WAIT);
    assert.match(await page.locator('[data-testid=tryit-result]').innerText(), /born_1234/);
    assert.equal(await server.registry.things.get('born_1234'), null, 'try it changes nothing');
    await shot('template-try-it');
    await page.click('[data-testid=template-save]');
    await page.waitForURL(`**/console/#/templates/${TEMPLATE}`, WAIT);
    await page.waitForSelector('[data-testid=template-versions]', WAIT);
    const stored = await server.registry.templates.get(TEMPLATE);
    assert.ok(stored);
    assert.equal(stored.enabled, true);
  });

  test('a template is disabled and enabled behind a confirmation, and a changed body becomes a new default version', async () => {
    await page.goto(url(`/templates/${TEMPLATE}`));
    await page.waitForSelector('[data-testid=template-toggle]', WAIT);
    await page.click('[data-testid=template-toggle]');
    await page.click('[data-testid=confirm-ok]');
    await page.waitForSelector('[data-testid=template-toggle]:text-is("Enable")', WAIT);
    assert.equal((await server.registry.templates.get(TEMPLATE))?.enabled, false);
    await page.click('[data-testid=template-toggle]');
    await page.click('[data-testid=confirm-ok]');
    await page.waitForSelector('[data-testid=template-toggle]:text-is("Disable")', WAIT);
    assert.equal((await server.registry.templates.get(TEMPLATE))?.enabled, true);

    const body = JSON.parse(DEVICE_TEMPLATE) as { DeviceConfiguration: Record<string, string> };
    body.DeviceConfiguration = { FallbackUrl: 'https://example.com/fallback' };
    await page.fill('[data-testid=template-body]', JSON.stringify(body, null, 2));
    await page.waitForSelector('[data-testid=template-body-status] .alert.ok', WAIT);
    await page.click('[data-testid=template-save]');
    await page.waitForSelector('[data-testid=template-versions] a:text-is("v2")', WAIT);
    const stored = await server.registry.templates.get(TEMPLATE);
    assert.equal(stored?.defaultVersionId, 2);
    assert.deepEqual((JSON.parse(stored!.body) as { DeviceConfiguration: unknown }).DeviceConfiguration, {
      FallbackUrl: 'https://example.com/fallback',
    });
    assert.equal(stored?.enabled, true);
    await page.goto(url('/templates'));
    await page.waitForSelector(`[data-testid=templates-table] a:text-is("${TEMPLATE}")`, WAIT);
    await shot('templates');
  });

  test('a claim certificate is created with its policy; its key is shown once and the bundle holds the root CA', async () => {
    await page.goto(url('/certificates'));
    await page.waitForSelector('[data-testid=create-claim]', WAIT);
    await page.waitForSelector('[data-testid=claim-policy] option[value=claim_policy]', { ...WAIT, state: 'attached' });
    await page.selectOption('[data-testid=claim-policy]', 'claim_policy');
    await page.click('[data-testid=create-claim]');
    await page.waitForSelector('[data-testid=claim-result]', WAIT);
    const certificateId = (await page.locator('[data-testid=claim-id]').innerText()).trim();
    assert.match(certificateId, /^[0-9a-f]{64}$/);
    assert.match(await page.locator('[data-testid=claim-key]').innerText(), /BEGIN (EC )?PRIVATE KEY/);
    await shot('certificates-claim');
    const [download] = await Promise.all([page.waitForEvent('download', WAIT), page.click('[data-testid=claim-bundle]')]);
    const files = untar(await readFile((await download.path())!));
    const rootCa = await readFile(server.caPath, 'utf8');
    assert.equal(files.get('claim/root-ca.pem'), server.context.ca.rootCertificatePem);
    assert.ok(rootCa.includes(files.get('claim/root-ca.pem')!.trim()));
    claim = { certificateId, certPem: files.get('claim/claim.pem.crt')!, keyPem: files.get('claim/claim.private.pem.key')!, rootCa };
    assert.match(claim.certPem, /BEGIN CERTIFICATE/);
    const row = await server.registry.certificates.get(certificateId);
    assert.equal(row?.status, 'ACTIVE');
    const attached = await server.registry.policies.listAttached({ type: 'certificate', id: certificateId });
    assert.deepEqual(
      attached.items.map((p) => p.policyName),
      ['claim_policy'],
    );
  });

  test('a device provisions with the claim and appears with its certificate and history', async () => {
    // Earlier traffic in the event log (as a busy hour would leave it), so the chart has a shape.
    const now = Date.now();
    for (let minute = 58; minute >= 3; minute--) {
      const accepted = Math.round(3 + 2 * Math.sin(minute / 6) + (minute % 5 === 0 ? 2 : 0));
      for (let i = 0; i < accepted; i++) {
        await server.registry.events.append({
          type: PROVISIONING_EVENT_TYPE,
          operation: 'RegisterThing',
          templateName: TEMPLATE,
          outcome: 'accepted',
          at: now - minute * 60_000 + Math.floor((i * 60_000) / accepted),
          message: 'history',
        });
      }
      if (minute % 9 === 0) {
        await server.registry.events.append({
          type: PROVISIONING_EVENT_TYPE,
          operation: 'RegisterThing',
          templateName: TEMPLATE,
          outcome: 'rejected',
          errorCode: 'Throttling',
          at: now - minute * 60_000 + 500,
          message: 'rate limit exceeded',
        });
      }
    }
    const storageDir = join(dataDir, 'device');
    const identity = await provision({
      endpoint: '127.0.0.1',
      port: server.mqttPort,
      rootCa: claim.rootCa,
      claimCert: claim.certPem,
      claimKey: claim.keyPem,
      templateName: TEMPLATE,
      parameters: { SerialNumber: '0042' },
      storageDir,
      timeouts: { connectMs: 10_000, ackMs: 10_000, responseMs: 10_000 },
      retry: { attempts: 3, baseMs: 100, maxMs: 500 },
    });
    assert.equal(identity.thingName, 'born_0042');
    const client = await mqtt.connectAsync({
      host: '127.0.0.1',
      port: server.mqttPort,
      protocol: 'mqtts',
      protocolVersion: 4,
      reconnectPeriod: 0,
      servername: 'localhost',
      ca: claim.rootCa,
      cert: identity.certificatePem,
      key: await readFile(identity.privateKeyPath, 'utf8'),
      clientId: identity.clientId,
    });
    device = { thingName: identity.thingName, certificateId: identity.certificateId, client };
    // A rejected request too, so the overview shows a rejection with its reason.
    await assert.rejects(
      provision({
        endpoint: '127.0.0.1',
        port: server.mqttPort,
        rootCa: claim.rootCa,
        claimCert: claim.certPem,
        claimKey: claim.keyPem,
        templateName: TEMPLATE,
        parameters: {},
        storageDir: join(dataDir, 'device-2'),
        timeouts: { connectMs: 10_000, ackMs: 10_000, responseMs: 10_000 },
        retry: { attempts: 1, baseMs: 100, maxMs: 100 },
      }),
    );

    await page.goto(url('/things'));
    await page.fill('[data-testid=thing-search]', 'born_');
    await page.waitForSelector('[data-testid=things-table] a:text("born_0042")', WAIT);
    await page.click('[data-testid=things-table] a:text("born_0042")');
    await page.waitForSelector('[data-testid=thing-certificates]', WAIT);
    const certs = page.locator('[data-testid=thing-certificates]');
    assert.match(await certs.innerText(), /ACTIVE/);
    assert.match(await certs.innerText(), /rotation due/, 'a certificate 20 days from expiry is due for rotation');
    assert.ok((await certs.locator(`a[href="#/certificates/${device.certificateId}"]`).count()) === 1);
    await page.waitForSelector('[data-testid=thing-history] .badge.ok', WAIT);
    assert.match(await page.locator('[data-testid=thing-history]').innerText(), /RegisterThing/);
    await shot('thing');

    await page.goto(url('/'));
    await page.waitForSelector('[data-testid=rejections] .badge.bad', WAIT);
    assert.match(await page.locator('[data-testid=card-things]').innerText(), /\b1\b/);
    assert.match(await page.locator('[data-testid=rejections]').innerText(), /RegisterThing/);
    const counts = await server.registry.events.count({
      since: Date.now() - 3_700_000,
      bucketMs: 3_700_000,
      types: [PROVISIONING_EVENT_TYPE],
    });
    const total = (outcome: string): number => counts.filter((c) => c.outcome === outcome).reduce((a, c) => a + c.count, 0);
    await page.waitForSelector(`text=(${total('accepted')} accepted, ${total('rejected')} rejected)`, WAIT);
    const accepted = await page.locator('[data-testid=rate-chart] polyline[data-series=accepted]').getAttribute('points');
    assert.ok(accepted && accepted.split(' ').some((p) => Number(p.split(',')[1]) < 200), 'the accepted line rises above zero');
    await shot('overview');
  });

  test('the policy simulator decides like the broker and names the deciding statement', async () => {
    await page.goto(url('/policies/device_policy'));
    await page.waitForSelector('[data-testid=sim-run]', WAIT);
    await page.fill('[data-testid=sim-client]', device.thingName);
    await page.fill('[data-testid=sim-resource]', `topic/$aws/things/${device.thingName}/shadow/update`);
    await page.selectOption('[data-testid=sim-action]', 'iot:Publish');
    await page.fill('#s-thing', device.thingName);
    await page.click('[data-testid=sim-run]');
    await page.waitForSelector('[data-testid=sim-result] .badge', WAIT);
    assert.match(await page.locator('[data-testid=sim-result]').innerText(), /ALLOW/);
    assert.match(await page.locator('[data-testid=sim-statement]').innerText(), /device_policy Statement\[1\]/);
    await shot('policy-simulator');
    await page.fill('[data-testid=sim-resource]', 'topic/$aws/things/someone_else/shadow/update');
    await page.click('[data-testid=sim-run]');
    await page.waitForSelector('[data-testid=sim-result] .badge.bad', WAIT);
    assert.match(await page.locator('[data-testid=sim-result]').innerText(), /DENY/);
  });

  test("deactivating the device's certificate (after a confirmation) drops its MQTT connection", async () => {
    const closed = new Promise<void>((resolve) => device.client.once('close', () => resolve()));
    await page.goto(url(`/certificates/${device.certificateId}`));
    await page.waitForSelector('button[data-action=deactivate]', WAIT);
    assert.equal(await page.locator('[data-testid=certificate-things]').innerText(), device.thingName);
    await page.click('button[data-action=deactivate]');
    await page.waitForSelector('.modal', WAIT);
    await page.click('.modal button:text("Cancel")');
    assert.equal((await server.registry.certificates.get(device.certificateId))?.status, 'ACTIVE', 'cancel changes nothing');
    assert.equal(device.client.connected, true);
    await page.click('button[data-action=deactivate]');
    await page.click('[data-testid=confirm-ok]');
    await page.waitForSelector('[data-testid=certificate-status] .badge:text-is("INACTIVE")', WAIT);
    assert.match(await page.locator('[data-testid=certificate-status]').innerText(), /INACTIVE/);
    await closed;
    assert.equal((await server.registry.certificates.get(device.certificateId))?.status, 'INACTIVE');
    await page.goto(url('/certificates'));
    await page.waitForSelector('[data-testid=certificates-table]', WAIT);
    await shot('certificates');
  });

  test('10 000 things page and search on the server', async () => {
    await server.registry.transaction(async (tx) => {
      for (let i = 0; i < 10_000; i++)
        await tx.things.create({ name: `fleet-${String(i).padStart(5, '0')}`, attributes: { batch: String(i % 7) } });
    });
    await page.goto(url('/things'));
    await page.waitForSelector('[data-testid=things-range]:text-is("1–50")', WAIT);
    assert.equal(await page.locator('[data-testid=things-table] tbody tr').count(), 50);
    await page.click('[data-testid=things-next]');
    await page.waitForSelector('[data-testid=things-range]:text-is("51–100")', WAIT);
    await page.fill('[data-testid=thing-search]', 'fleet-0999');
    await page.waitForSelector('[data-testid=things-range]:text-is("1–10")', WAIT);
    const names = await page.locator('[data-testid=things-table] tbody tr td:first-child').allInnerTexts();
    assert.deepEqual(
      names,
      Array.from({ length: 10 }, (_, i) => `fleet-0999${i}`),
    );
    await page.fill('[data-testid=thing-search]', '');
    await page.waitForSelector('[data-testid=things-range]:text-is("1–50")', WAIT);
    await shot('things');
  });

  test('the CA page shows registered CAs with their auto-registration state', async () => {
    // A CA of the operator's own, registered for JITP with auto-registration on.
    const own = await createCertificateAuthority({ keyAlgorithm: 'ec-p256' });
    const facts = parseCertificateFacts(own.rootCertificatePem);
    await server.registry.caCertificates.create({
      id: facts.certificateId,
      pem: own.rootCertificatePem,
      status: 'ACTIVE',
      autoRegistration: 'ENABLE',
      registrationConfig: { templateBody: '{"Resources":{}}', roleArn: 'arn:aws:iam::000000000000:role/jitp' },
      subjectDn: facts.subjectDn,
      notBefore: facts.notBefore.getTime(),
      notAfter: facts.notAfter.getTime(),
    });
    await page.goto(url('/cas'));
    await page.waitForSelector('[data-testid=cas-table]', WAIT);
    const text = await page.locator('[data-testid=cas-table]').innerText();
    assert.match(text, /ACTIVE/);
    assert.match(text, /ENABLE/);
    assert.match(text, /inline template/);
    await shot('cas');
  });

  test('signing out ends the session; the API then refuses the old cookie', async () => {
    assert.equal(
      (await rawRequest(server.controlPlaneUrl, { method: 'GET', path: '/things', headers: { cookie: sessionCookie }, ca: claim.rootCa }))
        .status,
      200,
    );
    await page.click('[data-testid=logout]');
    await page.waitForSelector('[data-testid=login-form]', WAIT);
    assert.deepEqual(
      (await context.cookies()).filter((c) => c.name === 'fleetprov_console'),
      [],
    );
    const refused = await rawRequest(server.controlPlaneUrl, {
      method: 'GET',
      path: '/things',
      headers: { cookie: sessionCookie },
      ca: claim.rootCa,
    });
    assert.equal(refused.status, 403);
  });

  test('the link of fleetprov console-login signs the browser in, and leaves the address bar at once', async () => {
    const r = await run('console-login', '--endpoint', server.controlPlaneUrl, '--data-dir', dataDir, '--json');
    assert.equal(r.code, 0, r.stderr);
    const { url: link, loginToken } = JSON.parse(r.stdout) as { url: string; loginToken: string };
    await page.goto(link);
    await page.waitForSelector('[data-testid=card-things]', WAIT);
    assert.ok(!page.url().includes(loginToken), 'the token is removed from the URL');
    await page.click('[data-testid=logout]');
    await page.waitForSelector('[data-testid=login-form]', WAIT);
    await page.goto(link.replace('#login=', '#login=x'));
    await page.goto(link);
    await page.waitForSelector('[data-testid=login-status] .alert', WAIT);
    assert.match(await page.locator('[data-testid=login-status]').innerText(), /login link did not work|not valid/);
    assert.deepEqual(pageErrors, [], 'no script errors on any page');
  });
});
