/**
 * Secure-element mode end to end, with real parts: a SoftHSM2 token (Debian's softhsm2, on a
 * private SOFTHSM2_CONF and token directory), OpenSSL's PKCS#11 engine (libengine-pkcs11-openssl)
 * for TLS, `pkcs11js` for key generation and CSR signing, and a real fleetprov server. One server
 * and one token serve every case.
 *
 * Asserts: the key is generated in the token (sensitive, non-extractable), the certificate
 * carries the token's public key, no private key file is written, the runtime config is the
 * Device Client's shape (empty `key`), connect + publish sign in the token, and each fault
 * (wrong PIN, absent token, wrong key type, CreateKeysAndCertificate) is a clear error that
 * leaves the previous identity intact.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  ConfigError,
  connect,
  inspectTokenKey,
  loadIdentity,
  Pkcs11Error,
  provision,
  rotate,
  type DeviceIdentity,
  type Pkcs11Options,
} from '@fleetprov/device';
import { startFleet, type Fleet } from './support/fleet.js';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const TOKEN = 'fleetprov-test';
const PIN = '123456';

function tool(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
}

/** Connects with the identity, publishes QoS 1 on the thing's own topic, disconnects. */
async function connectAndPublish(fleet: Fleet, identity: DeviceIdentity, pkcs11Pin?: string): Promise<void> {
  const client = await connect(identity, {
    endpoint: '127.0.0.1',
    port: fleet.server.mqttPort,
    rootCa: fleet.rootCa,
    ...(pkcs11Pin === undefined ? {} : { pkcs11Pin }),
  });
  try {
    assert.equal(client.connected, true);
    await client.publishAsync(`$aws/things/${identity.thingName}/shadow/name/probe/update`, '{"t":1}', { qos: 1 });
  } finally {
    await client.endAsync();
  }
}

describe('secure element (PKCS#11, SoftHSM2) against a fleetprov server', () => {
  let fleet: Fleet;
  let pinFile: string;
  let token: (keyLabel: string, extra?: Partial<Pkcs11Options>) => Pkcs11Options;

  before(async () => {
    for (const path of [MODULE, '/usr/bin/softhsm2-util', '/usr/bin/pkcs11-tool']) {
      assert.ok(
        existsSync(path),
        `${path} is missing: run scripts/test-services.sh (apt-get install -y softhsm2 opensc libengine-pkcs11-openssl)`,
      );
    }
    fleet = await startFleet();
    const hsm = join(fleet.work, 'softhsm');
    await mkdir(join(hsm, 'tokens'), { recursive: true });
    await writeFile(
      join(hsm, 'softhsm2.conf'),
      `directories.tokendir = ${join(hsm, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`,
    );
    // Before the module is first loaded in this process: SoftHSM2 reads it at C_Initialize.
    process.env.SOFTHSM2_CONF = join(hsm, 'softhsm2.conf');
    tool('softhsm2-util', ['--init-token', '--free', '--label', TOKEN, '--pin', PIN, '--so-pin', '654321']);
    // An AES key under a label, for the wrong-type case.
    tool('pkcs11-tool', [
      '--module',
      MODULE,
      '--token-label',
      TOKEN,
      '--login',
      '--pin',
      PIN,
      '--keygen',
      '--key-type',
      'AES:16',
      '--label',
      'an-aes-key',
    ]);
    pinFile = join(hsm, 'pin');
    await writeFile(pinFile, `${PIN}\n`, { mode: 0o600 });
    token = (keyLabel, extra = {}) => ({ module: MODULE, tokenLabel: TOKEN, pinFile, keyLabel, ...extra });
  });
  after(async () => {
    await fleet?.dispose();
  });

  let identity: DeviceIdentity;
  const dir = (): string => join(fleet.work, 'device');

  it('wrong PIN (first login of the process): stops at the first refusal with the token error, nothing sent', async () => {
    const badPin = join(fleet.work, 'bad-pin-first');
    await writeFile(badPin, '000000\n');
    const certs = await fleet.certificateCount();
    await assert.rejects(
      provision(fleet.options(join(fleet.work, 'wrong-pin'), 'wp', { pkcs11: token('k3', { pinFile: badPin }) })),
      (err: unknown) => {
        assert.ok(err instanceof Pkcs11Error, String(err));
        assert.equal(err.problem, 'pin-incorrect');
        assert.equal(err.tokenCode, 'CKR_PIN_INCORRECT');
        assert.equal(err.retryable, false);
        return true;
      },
    );
    assert.equal(await fleet.certificateCount(), certs, 'no request reached the server');
  });

  it('provisions by CSR with a key generated in the token: non-extractable, in the certificate, no key file on disk', async () => {
    identity = await provision(fleet.options(dir(), 'se1', { pkcs11: token('device-key') }));
    assert.equal(identity.thingName, 'born_se1');
    assert.equal(identity.privateKeyPath, `pkcs11:token=${TOKEN};object=device-key;type=private`);
    assert.deepEqual(identity.secureElement, { module: MODULE, tokenLabel: TOKEN, keyLabel: 'device-key', pinFile });

    const key = await inspectTokenKey(token('device-key'));
    assert.ok(key !== null);
    assert.equal(key.extractable, false, 'CKA_EXTRACTABLE');
    assert.equal(key.sensitive, true, 'CKA_SENSITIVE');
    const cert = new X509Certificate(await readFile(identity.certificatePath));
    assert.deepEqual(cert.publicKey.export({ type: 'spki', format: 'der' }), key.spki, "the certificate carries the token's public key");

    const names = (await readdir(dir())).sort();
    assert.deepEqual(names, [`${identity.certificateId}-certificate.pem.crt`, 'runtime-config.json'], 'no private key file');
    assert.equal((await stat(join(dir(), 'runtime-config.json'))).mode & 0o777, 0o600);
    const doc = JSON.parse(await readFile(join(dir(), 'runtime-config.json'), 'utf8')) as {
      'runtime-config': Record<string, unknown>;
      fleetprov: { 'secure-element': Record<string, unknown> };
    };
    assert.deepEqual(doc['runtime-config'], {
      'completed-fp': true,
      cert: identity.certificatePath,
      key: '',
      'thing-name': 'born_se1',
      'device-config': { Fallback: 'yes' },
    });
    assert.deepEqual(doc.fleetprov['secure-element'], {
      'pkcs11-lib': MODULE,
      'secure-element-token-label': TOKEN,
      'secure-element-key-label': 'device-key',
      'pin-file': pinFile,
    });
    assert.ok(!JSON.stringify(doc).includes(PIN), 'the PIN is not stored');
    assert.deepEqual(await loadIdentity(dir()), identity);
  });

  it('connect(identity) signs in the token: connects and publishes; a re-run of provision is a no-op', async () => {
    await connectAndPublish(fleet, (await loadIdentity(dir()))!);
    const count = await fleet.certificateCount();
    assert.deepEqual(await provision(fleet.options(dir(), 'se1', { pkcs11: token('device-key') })), identity);
    assert.equal(await fleet.certificateCount(), count);
  });

  it('refuses CreateKeysAndCertificate and key options in pkcs11 mode, before any traffic', async () => {
    const other = join(fleet.work, 'refused');
    await assert.rejects(provision(fleet.options(other, 'r1', { pkcs11: token('k2'), method: 'keys' })), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /CreateKeysAndCertificate\) is refused with pkcs11/);
      return true;
    });
    await assert.rejects(provision(fleet.options(other, 'r1', { pkcs11: token('k2'), deviceKeyPem: 'x' })), ConfigError);
    assert.equal(existsSync(other), false);
  });

  it('wrong PIN on an identity: refused before any traffic; the identity stays usable', async () => {
    const badPin = join(fleet.work, 'bad-pin');
    await writeFile(badPin, '000000\n');
    const certs = await fleet.certificateCount();
    await assert.rejects(provision(fleet.options(dir(), 'se1', { pkcs11: token('device-key', { pinFile: badPin }) })), (err: unknown) => {
      assert.ok(err instanceof Pkcs11Error, String(err));
      assert.equal(err.problem, 'pin-incorrect');
      return true;
    });
    assert.equal(await fleet.certificateCount(), certs, 'no request reached the server');
    assert.deepEqual(await loadIdentity(dir()), identity);
    await connectAndPublish(fleet, identity, PIN);
  });

  it('rotate() refuses a token identity with a clear error and leaves it unchanged', async () => {
    const before = await readFile(join(dir(), 'runtime-config.json'), 'utf8');
    await assert.rejects(
      rotate({
        endpoint: '127.0.0.1',
        port: fleet.server.mqttPort,
        rootCa: fleet.rootCa,
        storageDir: dir(),
        templateName: 'birthing_template',
      }),
      (err: unknown) => err instanceof ConfigError && /PKCS#11 token; rotate\(\) does not rotate token keys yet/.test(err.message),
    );
    assert.equal(await readFile(join(dir(), 'runtime-config.json'), 'utf8'), before);
    await connectAndPublish(fleet, identity);
  });

  it('absent token, missing module and a label of the wrong type are clear errors; nothing is written', async () => {
    const expect = (problem: string) => (err: unknown) => {
      assert.ok(err instanceof Pkcs11Error, String(err));
      assert.equal(err.problem, problem);
      return true;
    };
    await assert.rejects(
      provision(fleet.options(join(fleet.work, 'absent'), 'a', { pkcs11: token('k', { tokenLabel: 'no-such-token' }) })),
      (err: unknown) => {
        expect('token-absent')(err);
        assert.match((err as Error).message, /no token labelled "no-such-token".*fleetprov-test/);
        return true;
      },
    );
    await assert.rejects(
      provision(fleet.options(join(fleet.work, 'absent'), 'a', { pkcs11: token('k', { module: '/nonexistent/libpkcs11.so' }) })),
      expect('module'),
    );
    await assert.rejects(provision(fleet.options(join(fleet.work, 'absent'), 'a', { pkcs11: token('an-aes-key') })), (err: unknown) => {
      expect('key-wrong-type')(err);
      assert.match((err as Error).message, /names a secret key, not a private key/);
      return true;
    });
    assert.deepEqual(await readdir(join(fleet.work, 'absent')), [], 'no state or certificate written');
  });
});
