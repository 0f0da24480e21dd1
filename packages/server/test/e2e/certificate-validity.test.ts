import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CreateKeysAndCertificateCommand, DescribeCertificateCommand } from '@aws-sdk/client-iot';
import { startServer } from '../../src/server.js';
import { createAdminClient } from '../../src/cli/admin-client.js';
import { run } from '../cli/support.js';

async function issuedNotAfter(options: { certificateNotAfter?: Date; certificateValidityDays?: number }): Promise<Date> {
  const dataDir = await mkdtemp(join(tmpdir(), 'fleetprov-validity-'));
  const server = await startServer({ dataDir, mqttPort: 0, httpPort: 0, logLevel: 'silent', keyAlgorithm: 'ec-p256', ...options });
  try {
    const iot = await createAdminClient({
      endpoint: server.controlPlaneUrl,
      credentialsPath: server.paths.credentials,
      caPath: server.caPath,
    });
    const created = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: false }));
    const described = await iot.send(new DescribeCertificateCommand({ certificateId: created.certificateId! }));
    return described.certificateDescription!.validity!.notAfter!;
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

test('issued certificates last certificateValidityDays by default (365)', async () => {
  const notAfter = await issuedNotAfter({});
  const days = (notAfter.getTime() - Date.now()) / 86_400_000;
  assert.ok(days > 364 && days < 366, `expected about 365 days, got ${days}`);
  const short = await issuedNotAfter({ certificateValidityDays: 30 });
  const shortDays = (short.getTime() - Date.now()) / 86_400_000;
  assert.ok(shortDays > 29 && shortDays < 31, `expected about 30 days, got ${shortDays}`);
});

test("AWS's fixed 2049 expiry is available as an option", async () => {
  const notAfter = await issuedNotAfter({ certificateNotAfter: new Date('2049-12-31T23:59:59Z') });
  assert.equal(notAfter.toISOString(), '2049-12-31T23:59:59.000Z');
});

test('fleetprov server refuses a malformed or past --cert-not-after before starting', async () => {
  for (const value of ['not-a-date', '2001-01-01T00:00:00Z']) {
    const r = await run('server', '--cert-not-after', value, '--mqtt-port', '0', '--http-port', '0');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--cert-not-after must be a future date/);
  }
});

test('fleetprov server refuses bad --rate-limit, --key-algorithm and ports before starting', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--rate-limit', '0'], /--rate-limit must be a positive number/],
    [['--rate-limit', 'fast'], /--rate-limit must be a positive number/],
    [['--key-algorithm', 'dsa'], /--key-algorithm must be rsa-2048 or ec-p256/],
    [['--mqtt-port', '70000'], /--mqtt-port must be a port number/],
    [['--cert-validity-days', '-3'], /--cert-validity-days must be a positive integer/],
  ];
  for (const [args, message] of cases) {
    const r = await run('server', '--mqtt-port', '0', '--http-port', '0', ...args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, message);
  }
});
