/**
 * detectTemplateType: a body that uses a JITP-only certificate-subject parameter is JITP; one that
 * only uses AWS::IoT::Certificate::Id (provided to both kinds) is FLEET_PROVISIONING.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { detectTemplateType, SUBJECT_PARAMETERS } from '../../src/templates/index.js';
import { fixturePath } from '../support/package-root.js';

const fixture = (name: string): string => readFileSync(fixturePath('templates', name), 'utf8');

describe('detectTemplateType', () => {
  test('the JITP fixture is JITP, from its first declared subject parameter', () => {
    assert.deepEqual(detectTemplateType(fixture('jitp-template.json')), { type: 'JITP', evidence: 'AWS::IoT::Certificate::CommonName' });
  });

  test('every subject parameter marks a body as JITP, declared or only referenced', () => {
    for (const name of SUBJECT_PARAMETERS.keys()) {
      const declared = JSON.stringify({ Parameters: { [name]: { Type: 'String' } }, Resources: {} });
      assert.deepEqual(detectTemplateType(declared), { type: 'JITP', evidence: name });
      const referenced = JSON.stringify({ Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: name } } } } });
      assert.deepEqual(detectTemplateType(referenced), { type: 'JITP', evidence: name });
      const sub = JSON.stringify({ Resources: { t: { Properties: { ThingName: { 'Fn::Sub': `dev-\${${name}}` } } } } });
      assert.equal(detectTemplateType(sub).type, 'JITP');
    }
  });

  test('fleet templates, AWS::IoT::Certificate::Id alone, look-alike names and non-JSON are FLEET_PROVISIONING', () => {
    for (const name of ['birthing-template.json', 'certificate-id-template.json', 'rotation-template.json']) {
      assert.deepEqual(detectTemplateType(fixture(name)), { type: 'FLEET_PROVISIONING', evidence: null }, name);
    }
    const lookAlike = JSON.stringify({ Parameters: { 'AWS::IoT::Certificate::CountryCode': { Type: 'String' } }, Resources: {} });
    assert.deepEqual(detectTemplateType(lookAlike), { type: 'FLEET_PROVISIONING', evidence: null });
    assert.deepEqual(detectTemplateType('{"Resources": '), { type: 'FLEET_PROVISIONING', evidence: null });
    assert.deepEqual(detectTemplateType('[]'), { type: 'FLEET_PROVISIONING', evidence: null });
  });
});
