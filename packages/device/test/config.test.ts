import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  loadConfigFile,
  mergeSettings,
  parseConfigFile,
  parseDeviceClientConfig,
  parseIni,
  parseReferenceClientIni,
  parseTemplateParameters,
} from '../src/config.js';
import { ConfigError } from '../src/errors.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleetprov-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A Device Client config as its README shows it: template-parameters is an escaped JSON string. */
const deviceClientJson = JSON.stringify({
  endpoint: 'abc123-ats.iot.eu-west-1.amazonaws.com',
  cert: '~/certs/claim.pem.crt',
  key: '/etc/claim/claim.pem.key',
  'root-ca': 'AmazonRootCA1.pem',
  'thing-name': 'claim-client-7',
  logging: { level: 'DEBUG' },
  jobs: { enabled: false },
  'fleet-provisioning': {
    enabled: true,
    'template-name': 'FleetTemplate',
    'template-parameters': '{"SerialNumber":"ABC-1","Batch":7,"Beta":true}',
    'csr-file': 'csr/device.csr',
    'device-key': '/secure/device.key',
  },
});

describe('parseDeviceClientConfig', () => {
  it('maps every Device Client key, resolving paths against the file and ~', () => {
    const s = parseDeviceClientConfig(deviceClientJson, '/opt/dc/aws-iot-device-client.json');
    assert.deepEqual(s, {
      endpoint: 'abc123-ats.iot.eu-west-1.amazonaws.com',
      rootCaPath: '/opt/dc/AmazonRootCA1.pem',
      claimCertPath: join(homedir(), 'certs/claim.pem.crt'),
      claimKeyPath: '/etc/claim/claim.pem.key',
      thingName: 'claim-client-7',
      templateName: 'FleetTemplate',
      templateParameters: { SerialNumber: 'ABC-1', Batch: '7', Beta: 'true' },
      csrFilePath: '/opt/dc/csr/device.csr',
      deviceKeyPath: '/secure/device.key',
    });
  });

  it('accepts template-parameters given as an object too', () => {
    const s = parseDeviceClientConfig('{"fleet-provisioning":{"template-parameters":{"A":"1"}}}', '/x/c.json');
    assert.deepEqual(s.templateParameters, { A: '1' });
  });

  it('rejects malformed escaped template parameters, naming the key', () => {
    assert.throws(
      () => parseDeviceClientConfig('{"fleet-provisioning":{"template-parameters":"{SerialNumber: 1}"}}', '/x/c.json'),
      (err: unknown) => err instanceof ConfigError && /template-parameters is not valid JSON/.test(err.message),
    );
  });

  it('rejects wrong types and non-JSON files', () => {
    assert.throws(() => parseDeviceClientConfig('{"endpoint": 5}', '/x/c.json'), /"endpoint" must be a string/);
    assert.throws(() => parseDeviceClientConfig('{"port": "8883"}', '/x/c.json'), /"port" must be an integer/);
    assert.throws(() => parseDeviceClientConfig('{"fleet-provisioning": []}', '/x/c.json'), /must be an object/);
    assert.throws(() => parseDeviceClientConfig('{nope', '/x/c.json'), /not valid JSON/);
    assert.throws(() => parseDeviceClientConfig('[1]', '/x/c.json'), /JSON object/);
  });
});

const referenceIni = `# aws-samples/aws-iot-fleet-provisioning config.ini
[SETTINGS]
# Set the path to the location containing your certificates (root, private, claim certificate)
SECURE_CERT_PATH = /home/pi/certs
; Specify the names for the root cert, provisioning claim cert, and the private key.
ROOT_CERT = root.ca.pem
CLAIM_CERT = bootstrap-certificate.pem.crt
SECURE_KEY = bootstrap-private.pem.key
# Set the name of your IoT Endpoint
IOT_ENDPOINT = xxxxxxxxxxxxxx-ats.iot.us-east-1.amazonaws.com
# Include the name for the provisioning template that was created in IoT Core
PROVISIONING_TEMPLATE_NAME = my_template
CLAIM_CERT_ABSOLUTE = ignored
`;

describe('parseReferenceClientIni', () => {
  it('maps the [SETTINGS] keys with file names relative to SECURE_CERT_PATH', () => {
    assert.deepEqual(parseReferenceClientIni(referenceIni, '/opt/app/config.ini'), {
      endpoint: 'xxxxxxxxxxxxxx-ats.iot.us-east-1.amazonaws.com',
      rootCaPath: '/home/pi/certs/root.ca.pem',
      claimCertPath: '/home/pi/certs/bootstrap-certificate.pem.crt',
      claimKeyPath: '/home/pi/certs/bootstrap-private.pem.key',
      templateName: 'my_template',
    });
  });

  it('resolves a relative SECURE_CERT_PATH against the config file and keeps absolute file names', () => {
    const s = parseReferenceClientIni(
      '[SETTINGS]\nsecure_cert_path: certs\nROOT_CERT=/abs/root.pem\nCLAIM_CERT=claim.crt\n',
      '/opt/app/config.ini',
    );
    assert.equal(s.rootCaPath, '/abs/root.pem');
    assert.equal(s.claimCertPath, '/opt/app/certs/claim.crt');
  });

  it('requires a [SETTINGS] section', () => {
    assert.throws(
      () => parseReferenceClientIni('[OTHER]\nA=1\n', '/x/config.ini'),
      (err: unknown) => err instanceof ConfigError && /\[SETTINGS\]/.test(err.message),
    );
  });

  it('parseIni ignores comments, lines outside sections and keeps sections apart', () => {
    const ini = parseIni('orphan=1\n[A]\nk = v\n# c\n; c\n[B]\nK: w\n');
    assert.equal(ini.get('A')?.get('k'), 'v');
    assert.equal(ini.get('B')?.get('k'), 'w');
    assert.equal(ini.size, 2);
  });
});

describe('parseConfigFile / loadConfigFile', () => {
  it('detects the format by content', async () => {
    assert.equal(parseConfigFile(`\n  ${deviceClientJson}`, '/x/a.conf').templateName, 'FleetTemplate');
    assert.equal(parseConfigFile(referenceIni, '/x/a.conf').templateName, 'my_template');
    const path = join(dir, 'config.ini');
    await writeFile(path, referenceIni);
    assert.equal((await loadConfigFile(path)).endpoint, 'xxxxxxxxxxxxxx-ats.iot.us-east-1.amazonaws.com');
  });

  it('reports a missing file as ConfigError', async () => {
    await assert.rejects(
      loadConfigFile(join(dir, 'nope.json')),
      (err: unknown) => err instanceof ConfigError && /ENOENT/.test(err.message),
    );
  });
});

describe('mergeSettings', () => {
  it('lets every given flag override the file and keeps the rest', () => {
    const file = parseDeviceClientConfig(deviceClientJson, '/opt/dc/c.json');
    const merged = mergeSettings(file, {
      endpoint: 'localhost',
      port: 8884,
      templateParameters: { SerialNumber: 'FLAG' },
      thingName: undefined,
    });
    assert.equal(merged.endpoint, 'localhost');
    assert.equal(merged.port, 8884);
    assert.deepEqual(merged.templateParameters, { SerialNumber: 'FLAG' });
    assert.equal(merged.thingName, 'claim-client-7');
    assert.equal(merged.rootCaPath, '/opt/dc/AmazonRootCA1.pem');
  });
});

describe('parseTemplateParameters', () => {
  it('coerces numbers and booleans to strings', () => {
    assert.deepEqual(parseTemplateParameters('{"a":"x","b":1.5,"c":false}', '--template-parameters'), { a: 'x', b: '1.5', c: 'false' });
  });

  for (const [text, pattern] of [
    ["{'SerialNumber':'x'}", /not valid JSON/],
    ['SerialNumber=x', /not valid JSON/],
    ['["x"]', /must be a JSON object/],
    ['null', /must be a JSON object/],
    ['{"a":{"nested":1}}', /parameter "a" must be a string, number or boolean/],
    ['{"a":null}', /parameter "a"/],
  ] as const) {
    it(`rejects ${text}`, () => {
      assert.throws(
        () => parseTemplateParameters(text, '--template-parameters'),
        (err: unknown) => err instanceof ConfigError && pattern.test(err.message),
      );
    });
  }

  it('keeps a __proto__ parameter as plain data', () => {
    const params = parseTemplateParameters('{"__proto__":"x"}', '--template-parameters');
    assert.equal(Object.getPrototypeOf(params), Object.prototype);
    assert.equal(Object.hasOwn(params, '__proto__'), true);
  });
});
