/**
 * OCSP responses per second: `node packages/server/dist/bench/ocsp.js [seconds] [concurrency]`.
 * Starts a server (SQLite, EC P-256 CA) on ephemeral ports, issues one device certificate, then
 * (1) answers a real openssl-written request in-process (parse, registry lookup by serial, sign) and
 * (2) POSTs it to /ocsp over HTTPS keep-alive with `concurrency` requests in flight.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeysAndCertificateCommand } from '@aws-sdk/client-iot';
import { startServer } from '../src/server.js';
import { createAdminClient } from '../src/cli/admin-client.js';

const seconds = Number(process.argv[2] ?? 5);
const concurrency = Number(process.argv[3] ?? 16);
const dir = await mkdtemp(join(tmpdir(), 'fleetprov-bench-ocsp-'));
const server = await startServer({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0, logLevel: 'silent', keyAlgorithm: 'ec-p256' });
try {
  const iot = await createAdminClient({
    endpoint: server.controlPlaneUrl,
    credentialsPath: server.paths.credentials,
    caPath: server.caPath,
  });
  const cert = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  iot.destroy();
  await writeFile(join(dir, 'device.pem'), cert.certificatePem!);
  await writeFile(join(dir, 'issuing.pem'), server.context.ca.issuingCertificatePem);
  execFileSync('openssl', ['ocsp', '-issuer', join(dir, 'issuing.pem'), '-cert', join(dir, 'device.pem'), '-reqout', join(dir, 'req.der')]);
  const body = await readFile(join(dir, 'req.der'));

  let n = 0;
  let end = Date.now() + seconds * 1000;
  const cpu0 = process.cpuUsage();
  while (Date.now() < end) {
    const answer = await server.revocation.answerOcsp(body);
    if (answer.responseStatus !== 'successful') throw new Error(answer.reason);
    n++;
  }
  const cpu = process.cpuUsage(cpu0);
  console.log(`in-process: ${Math.round(n / seconds)} responses/s, ${((cpu.user + cpu.system) / n / 1000).toFixed(3)} ms CPU each`);

  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, ca: await readFile(server.caPath, 'utf8') });
  const post = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        `${server.controlPlaneUrl}/ocsp`,
        { method: 'POST', agent, headers: { 'content-type': 'application/ocsp-request' } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  n = 0;
  end = Date.now() + seconds * 1000;
  const cpu1 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        await post();
        n++;
      }
    }),
  );
  const cpuHttp = process.cpuUsage(cpu1);
  console.log(
    `HTTPS POST /ocsp, ${concurrency} in flight: ${Math.round(n / seconds)} responses/s, ${((cpuHttp.user + cpuHttp.system) / n / 1000).toFixed(3)} ms CPU each (client and server in one process)`,
  );
  agent.destroy();
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
