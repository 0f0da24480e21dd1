/**
 * Revocation published for other relying parties, checked with the real openssl CLI: the CRL at
 * /crl/<caId>.crl (openssl crl, openssl verify -crl_check), the OCSP responder at /ocsp (openssl ocsp
 * -url), the URLs written into device certificates by publicUrl, and the OCSP refusals.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { CreateKeysAndCertificateCommand, UpdateCertificateCommand, type IoTClient } from '@aws-sdk/client-iot';
import { startServer, type RunningServer } from '../../src/server.js';
import { createAdminClient } from '../../src/cli/admin-client.js';
import { createTestCa } from '../../src/pki/index.js';

const exec = promisify(execFile);

let server: RunningServer;
let iot: IoTClient;
let dir: string;
let ca: string;
let files: { root: string; issuing: string; chain: string };

async function openssl(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await exec('openssl', args, { timeout: 20_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

/** A plain HTTPS request (no SigV4) to the control plane. */
function fetchRaw(
  method: string,
  path: string,
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${server.controlPlaneUrl}${path}`, { method, ca, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function issueDevice(name: string): Promise<{ id: string; pemPath: string }> {
  const created = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  const pemPath = join(dir, `${name}.pem`);
  await writeFile(pemPath, created.certificatePem!);
  return { id: created.certificateId!, pemPath };
}

async function crlPemPath(): Promise<string> {
  const res = await fetchRaw('GET', `/crl/${server.context.ca.issuingCertificateId}.crl`);
  assert.equal(res.status, 200);
  assert.equal(res.type, 'application/pkix-crl');
  const der = join(dir, 'crl.der');
  await writeFile(der, res.body);
  const pem = join(dir, 'crl.pem');
  const conv = await openssl('crl', '-inform', 'DER', '-in', der, '-out', pem, '-CAfile', files.chain);
  assert.equal(conv.code, 0, conv.out);
  assert.match(conv.out, /verify OK/);
  return pem;
}

function ocspUrl(): string {
  return `${server.controlPlaneUrl}/ocsp`;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleetprov-revocation-'));
  server = await startServer({
    dataDir: join(dir, 'data'),
    mqttPort: 0,
    httpPort: 0,
    logLevel: 'silent',
    keyAlgorithm: 'ec-p256',
    publicUrl: 'https://127.0.0.1:8443/',
  });
  ca = await readFile(server.caPath, 'utf8');
  files = { root: server.caPath, issuing: join(dir, 'issuing.pem'), chain: join(dir, 'chain.pem') };
  await writeFile(files.issuing, server.context.ca.issuingCertificatePem);
  await writeFile(files.chain, server.context.ca.caCertificatesPem);
  iot = await createAdminClient({ endpoint: server.controlPlaneUrl, credentialsPath: server.paths.credentials, caPath: server.caPath });
});

after(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

test('device certificates carry the CRL distribution point and OCSP URL of --public-url', async () => {
  const device = await issueDevice('with-urls');
  const text = await openssl('x509', '-in', device.pemPath, '-noout', '-text');
  const caId = server.context.ca.issuingCertificateId;
  assert.match(text.out, new RegExp(`X509v3 CRL Distribution Points:[\\s\\S]*URI:https://127\\.0\\.0\\.1:8443/crl/${caId}\\.crl`));
  assert.match(text.out, /Authority Information Access:[\s\S]*OCSP - URI:https:\/\/127\.0\.0\.1:8443\/ocsp/);
  assert.equal(server.publicUrl, 'https://127.0.0.1:8443');
  // Still a valid chain.
  const verify = await openssl('verify', '-CAfile', files.root, '-untrusted', files.issuing, device.pemPath);
  assert.equal(verify.code, 0, verify.out);
});

test('a revoked certificate fails openssl verify -crl_check and is revoked in openssl ocsp within a second', async () => {
  const device = await issueDevice('revoke-me');
  const bystander = await issueDevice('bystander');

  const before = await openssl(
    'verify',
    '-crl_check',
    '-CAfile',
    files.root,
    '-untrusted',
    files.issuing,
    '-CRLfile',
    await crlPemPath(),
    device.pemPath,
  );
  assert.equal(before.code, 0, before.out);
  const ocspBefore = await openssl('ocsp', '-issuer', files.issuing, '-cert', device.pemPath, '-url', ocspUrl(), '-CAfile', files.root);
  assert.match(ocspBefore.out, /Response verify OK/);
  assert.match(ocspBefore.out, new RegExp(`${device.pemPath.replace(/[.]/g, '\\.')}: good`));

  const revokedAt = Date.now();
  await iot.send(new UpdateCertificateCommand({ certificateId: device.id, newStatus: 'REVOKED' }));
  const crl = await crlPemPath();
  const ocspAfter = await openssl(
    'ocsp',
    '-issuer',
    files.issuing,
    '-cert',
    device.pemPath,
    '-cert',
    bystander.pemPath,
    '-url',
    ocspUrl(),
    '-CAfile',
    files.root,
  );
  assert.ok(Date.now() - revokedAt < 5000, 'checked promptly'); // generous: the machine is shared; the CRL itself is rebuilt on commit
  assert.match(ocspAfter.out, /Response verify OK/);
  assert.match(ocspAfter.out, /revoke-me\.pem: revoked/);
  assert.match(ocspAfter.out, /bystander\.pem: good/);

  // The event log says who issued and who revoked it (the admin access key that signed the requests).
  const rows = await server.registry.events.list({ types: ['registry'], certificateId: device.id });
  assert.deepEqual(
    rows.map((r) => [r.operation, r.details?.requestedBy]),
    [
      ['certificate.created', { kind: 'admin', accessKeyId: server.accessKeyId }],
      ['certificate.updated', { kind: 'admin', accessKeyId: server.accessKeyId }],
    ],
  );

  const crlText = await openssl('crl', '-in', crl, '-noout', '-text');
  assert.match(crlText.out, /Next Update:/);
  assert.match(crlText.out, /X509v3 CRL Number:/);
  const after = await openssl('verify', '-crl_check', '-CAfile', files.root, '-untrusted', files.issuing, '-CRLfile', crl, device.pemPath);
  assert.notEqual(after.code, 0);
  assert.match(after.out, /certificate revoked/);
  const other = await openssl(
    'verify',
    '-crl_check',
    '-CAfile',
    files.root,
    '-untrusted',
    files.issuing,
    '-CRLfile',
    crl,
    bystander.pemPath,
  );
  assert.equal(other.code, 0, other.out);
});

test('an INACTIVE certificate is on hold, and leaves the CRL when it is ACTIVE again', async () => {
  const device = await issueDevice('hold');
  await iot.send(new UpdateCertificateCommand({ certificateId: device.id, newStatus: 'INACTIVE' }));
  const held = await openssl(
    'verify',
    '-crl_check',
    '-CAfile',
    files.root,
    '-untrusted',
    files.issuing,
    '-CRLfile',
    await crlPemPath(),
    device.pemPath,
  );
  assert.match(held.out, /certificate revoked/);
  const ocsp = await openssl('ocsp', '-issuer', files.issuing, '-cert', device.pemPath, '-url', ocspUrl(), '-CAfile', files.root);
  assert.match(ocsp.out, /hold\.pem: revoked[\s\S]*Reason: certificateHold/);
  await iot.send(new UpdateCertificateCommand({ certificateId: device.id, newStatus: 'ACTIVE' }));
  const back = await openssl(
    'verify',
    '-crl_check',
    '-CAfile',
    files.root,
    '-untrusted',
    files.issuing,
    '-CRLfile',
    await crlPemPath(),
    device.pemPath,
  );
  assert.equal(back.code, 0, back.out);
});

test('OCSP: unknown serial, unknown issuer, unsupported hash, malformed and oversized requests', async () => {
  const unknown = await openssl('ocsp', '-issuer', files.issuing, '-serial', '0x1234567890', '-url', ocspUrl(), '-CAfile', files.root);
  assert.match(unknown.out, /0x1234567890: unknown/);

  const statusOf = (der: Buffer): number => {
    // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, ... }: 30 len 0a 01 <status>
    assert.equal(der[0], 0x30);
    const at = der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2;
    assert.equal(der[at], 0x0a);
    return der[at + 2]!;
  };
  const post = (body: Buffer) => fetchRaw('POST', '/ocsp', body, { 'content-type': 'application/ocsp-request' });

  const garbage = await post(Buffer.from('not an OCSP request'));
  assert.equal(garbage.status, 200);
  assert.equal(garbage.type, 'application/ocsp-response');
  assert.equal(statusOf(garbage.body), 1, 'malformedRequest');
  assert.equal(statusOf((await post(Buffer.alloc(0))).body), 1, 'empty body: malformedRequest');

  // A request for a certificate of another CA (openssl writes it, we post it).
  const other = await createTestCa();
  const otherIssuer = join(dir, 'other-ca.pem');
  await writeFile(otherIssuer, other.certificatePem);
  const reqFile = join(dir, 'other.req');
  const written = await openssl('ocsp', '-issuer', otherIssuer, '-serial', '0x01', '-reqout', reqFile, '-no_nonce');
  assert.equal(written.code, 0, written.out);
  assert.equal(statusOf((await post(await readFile(reqFile))).body), 6, 'unknown issuer: unauthorized');

  // CertID hashed with MD5: not supported.
  const md5File = join(dir, 'md5.req');
  const md5 = await openssl('ocsp', '-md5', '-issuer', files.issuing, '-serial', '0x01', '-reqout', md5File);
  assert.equal(md5.code, 0, md5.out);
  assert.equal(statusOf((await post(await readFile(md5File))).body), 1, 'unsupported hash: malformedRequest');

  // SHA-256 CertIDs are answered (GET form, RFC 6960 Appendix A.1).
  const shaFile = join(dir, 'sha256.req');
  await openssl('ocsp', '-sha256', '-issuer', files.issuing, '-serial', '0x01', '-reqout', shaFile);
  const viaGet = await fetchRaw('GET', `/ocsp/${encodeURIComponent((await readFile(shaFile)).toString('base64'))}`);
  assert.equal(statusOf(viaGet.body), 0, 'GET with a SHA-256 CertID: successful');

  const oversized = await post(Buffer.alloc(64 * 1024, 0x30));
  assert.equal(oversized.status, 413);

  const noCrl = await fetchRaw('GET', `/crl/${'0'.repeat(64)}.crl`);
  assert.equal(noCrl.status, 404);
  const badName = await fetchRaw('GET', '/crl/..%2Fetc%2Fpasswd');
  assert.equal(badName.status, 404);
});
