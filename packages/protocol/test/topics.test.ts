import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ACCEPTED_SUFFIX,
  allTopics,
  CREATE_CERTIFICATE_FROM_CSR_TOPIC_PREFIX,
  CREATE_KEYS_AND_CERTIFICATE_TOPIC_PREFIX,
  isProvisioningTopic,
  isValidTemplateName,
  OPERATIONS,
  PAYLOAD_FORMATS,
  parseTopic,
  REGISTER_THING_TOPIC_BRIDGE,
  REGISTER_THING_TOPIC_PREFIX,
  REJECTED_SUFFIX,
  replyTopic,
  requestTopic,
  subscriptionTopics,
  TopicArgumentError,
  type Operation,
  type PayloadFormat,
} from '../src/index.js';

describe('topic builders', () => {
  it('build the exact AWS topic strings', () => {
    assert.equal(requestTopic('CreateKeysAndCertificate', 'json'), '$aws/certificates/create/json');
    assert.equal(requestTopic('CreateCertificateFromCsr', 'cbor'), '$aws/certificates/create-from-csr/cbor');
    assert.equal(requestTopic('RegisterThing', 'json', 'FleetTemplate'), '$aws/provisioning-templates/FleetTemplate/provision/json');
    assert.equal(replyTopic('CreateKeysAndCertificate', 'cbor', 'accepted'), '$aws/certificates/create/cbor/accepted');
    assert.equal(
      replyTopic('RegisterThing', 'cbor', 'rejected', 'my_tmpl-1'),
      '$aws/provisioning-templates/my_tmpl-1/provision/cbor/rejected',
    );
  });

  it('use the embedded C SDK constants', () => {
    assert.equal(CREATE_KEYS_AND_CERTIFICATE_TOPIC_PREFIX, '$aws/certificates/create/');
    assert.equal(CREATE_CERTIFICATE_FROM_CSR_TOPIC_PREFIX, '$aws/certificates/create-from-csr/');
    assert.equal(REGISTER_THING_TOPIC_PREFIX, '$aws/provisioning-templates/');
    assert.equal(REGISTER_THING_TOPIC_BRIDGE, '/provision/');
    assert.equal(ACCEPTED_SUFFIX, '/accepted');
    assert.equal(REJECTED_SUFFIX, '/rejected');
  });

  it('subscriptionTopics returns accepted then rejected', () => {
    assert.deepEqual(subscriptionTopics('CreateCertificateFromCsr', 'json'), [
      '$aws/certificates/create-from-csr/json/accepted',
      '$aws/certificates/create-from-csr/json/rejected',
    ]);
    assert.deepEqual(subscriptionTopics('RegisterThing', 'cbor', 'T'), [
      '$aws/provisioning-templates/T/provision/cbor/accepted',
      '$aws/provisioning-templates/T/provision/cbor/rejected',
    ]);
  });

  it('ignore the template name for certificate operations', () => {
    assert.equal(requestTopic('CreateKeysAndCertificate', 'json', 'Ignored'), '$aws/certificates/create/json');
  });

  it('allTopics lists 18 distinct topics', () => {
    const topics = allTopics('Tmpl');
    assert.equal(topics.length, 18);
    assert.equal(new Set(topics).size, 18);
    assert.equal(topics.filter((t) => t.includes('/Tmpl/')).length, 6);
  });

  it('throw TopicArgumentError on bad arguments', () => {
    assert.throws(() => requestTopic('RegisterThing', 'json'), TopicArgumentError);
    assert.throws(() => requestTopic('RegisterThing', 'json', ''), TopicArgumentError);
    assert.throws(() => requestTopic('RegisterThing', 'json', 'a/b'), TopicArgumentError);
    assert.throws(() => requestTopic('RegisterThing', 'json', 'x'.repeat(37)), TopicArgumentError);
    assert.throws(() => requestTopic('Nope' as Operation, 'json'), TopicArgumentError);
    assert.throws(() => requestTopic('CreateKeysAndCertificate', 'xml' as PayloadFormat), TopicArgumentError);
    assert.throws(
      () => allTopics('bad name'),
      (err: unknown) => {
        assert.ok(err instanceof TopicArgumentError);
        assert.equal(err.code, 'ERR_FLEETPROV_TOPIC_ARGUMENT');
        return true;
      },
    );
    assert.throws(() => replyTopic('CreateKeysAndCertificate', 'json', 'maybe' as 'accepted'), TopicArgumentError);
  });
});

describe('parseTopic', () => {
  it('round-trips every one of the 18 topics', () => {
    const template = 'Fleet_Template-01';
    let seen = 0;
    for (const operation of OPERATIONS) {
      for (const format of PAYLOAD_FORMATS) {
        const expectedBase = operation === 'RegisterThing' ? { operation, format, templateName: template } : { operation, format };
        assert.deepEqual(parseTopic(requestTopic(operation, format, template)), { ...expectedBase, kind: 'request' });
        for (const kind of ['accepted', 'rejected'] as const) {
          assert.deepEqual(parseTopic(replyTopic(operation, format, kind, template)), { ...expectedBase, kind });
        }
        seen += 3;
      }
    }
    assert.equal(seen, 18);
    for (const topic of allTopics(template)) assert.notEqual(parseTopic(topic), null, topic);
  });

  it('returns no templateName key for certificate topics', () => {
    const parsed = parseTopic('$aws/certificates/create/json');
    assert.ok(parsed !== null);
    assert.equal(Object.hasOwn(parsed, 'templateName'), false);
  });

  it('accepts 1- and 36-character template names', () => {
    assert.equal(parseTopic('$aws/provisioning-templates/a/provision/json')?.operation, 'RegisterThing');
    const t36 = 'A'.repeat(36);
    const parsed = parseTopic(`$aws/provisioning-templates/${t36}/provision/cbor/accepted`);
    assert.ok(parsed !== null && parsed.operation === 'RegisterThing');
    assert.equal(parsed.templateName, t36);
  });

  it('rejects anything that is not exactly a provisioning topic', () => {
    const bad = [
      '',
      '$aws/certificates/create',
      '$aws/certificates/create/',
      '$aws/certificates/create/xml',
      '$aws/certificates/create/JSON',
      '$aws/certificates/create/json/',
      '$aws/certificates/create/json/accepted/',
      '$aws/certificates/create/json/accepted/extra',
      '$aws/certificates/create/json/done',
      '$aws/certificates/create/+',
      '$aws/certificates/create/#',
      '$aws/certificates/create-from-csr',
      '$aws/certificates/create-from-csr/json/rejected/x',
      '$aws/certificates/delete/json',
      '$aws/certificates//json',
      '$aws/provisioning-templates/T/provision',
      '$aws/provisioning-templates/T/provision/',
      '$aws/provisioning-templates/T/provision/yaml',
      '$aws/provisioning-templates/T/provisioning/json',
      '$aws/provisioning-templates//provision/json',
      '$aws/provisioning-templates/bad.name/provision/json',
      '$aws/provisioning-templates/bad name/provision/json',
      '$aws/provisioning-templates/+/provision/json',
      `$aws/provisioning-templates/${'A'.repeat(37)}/provision/json`,
      '$aws/provisioning-templates/T/provision/json/accepted/x',
      '$aws/provisioning-templates/T/x/provision/json',
      '$aws/things/T/shadow/update',
      'aws/certificates/create/json',
      '/$aws/certificates/create/json',
      '$AWS/certificates/create/json',
    ];
    for (const topic of bad) assert.equal(parseTopic(topic), null, topic);
    assert.equal(parseTopic(42 as unknown as string), null);
  });
});

describe('isValidTemplateName', () => {
  it('follows ^[0-9A-Za-z_-]+$ with 1-36 characters', () => {
    for (const ok of ['a', 'Z9', 'my-template_1', 'x'.repeat(36)]) assert.equal(isValidTemplateName(ok), true, ok);
    for (const bad of ['', 'x'.repeat(37), 'a.b', 'a/b', 'a b', 'é', '+', '#', 'a\n']) {
      assert.equal(isValidTemplateName(bad), false, JSON.stringify(bad));
    }
    assert.equal(isValidTemplateName(undefined), false);
  });
});

describe('isProvisioningTopic', () => {
  it('matches everything under the reserved roots', () => {
    for (const t of [
      '$aws/certificates/create/json',
      '$aws/certificates/anything/else',
      '$aws/certificates/#',
      '$aws/certificates',
      '$aws/provisioning-templates/T/provision/json/accepted',
      '$aws/provisioning-templates/+/provision/#',
      '$aws/provisioning-templates',
    ]) {
      assert.equal(isProvisioningTopic(t), true, t);
    }
  });

  it('does not match other topics', () => {
    for (const t of ['$aws/things/x/shadow/get', '$aws/certificatesX', 'certificates/create/json', '$aws/#', '#', '']) {
      assert.equal(isProvisioningTopic(t), false, t);
    }
  });
});
