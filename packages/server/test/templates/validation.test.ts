import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTemplate, resolveTemplate, TEMPLATE_LIMITS } from '../../src/templates/index.js';
import { CERT_ID, expectTemplateError } from './fixtures.js';

const CERT_PARAM = { 'AWS::IoT::Certificate::Id': { Type: 'String' } };
const certResource = (properties: Record<string, unknown>) => ({ c: { Type: 'AWS::IoT::Certificate', Properties: properties } });
const thingResource = (properties: Record<string, unknown>) => ({ t: { Type: 'AWS::IoT::Thing', Properties: properties } });

describe('body', () => {
  test('over 10240 characters is rejected (text and object form alike)', () => {
    const body = JSON.stringify({ Resources: {}, DeviceConfiguration: { pad: 'x'.repeat(TEMPLATE_LIMITS.maxBodyChars) } });
    expectTemplateError(() => parseTemplate(body), { code: 'InvalidTemplate', path: '', message: /is \d+ characters; the limit is 10240/ });
    expectTemplateError(() => parseTemplate(JSON.parse(body) as object), {
      code: 'InvalidTemplate',
      path: '',
      message: /the limit is 10240/,
    });
  });
  test('exactly 10240 characters is fine', () => {
    const skeleton = JSON.stringify({ Resources: {}, DeviceConfiguration: { pad: '' } });
    const body = JSON.stringify({
      Resources: {},
      DeviceConfiguration: { pad: 'x'.repeat(TEMPLATE_LIMITS.maxBodyChars - skeleton.length) },
    });
    assert.equal(body.length, TEMPLATE_LIMITS.maxBodyChars);
    assert.equal(
      resolveTemplate(parseTemplate(body), { parameters: {}, certificate: { certificateId: CERT_ID } }).deviceConfiguration.pad?.length,
      TEMPLATE_LIMITS.maxBodyChars - skeleton.length,
    );
  });
  for (const [name, body, message] of [
    ['invalid JSON', '{"Resources": ', /not valid JSON/],
    ['a JSON array', '[]', /must be a JSON object, got a list/],
    ['a JSON string', '"x"', /must be a JSON object, got a string/],
    ['a number', 5, /JSON object or its text, got a number/],
    ['null', null, /JSON object or its text, got null/],
  ] as const) {
    test(`${name} is rejected`, () =>
      expectTemplateError(() => parseTemplate(body as unknown as string), { code: 'InvalidTemplate', path: '', message }));
  }
  test('an unserialisable object is rejected', () => {
    const cyclic: Record<string, unknown> = { Resources: {} };
    cyclic.self = cyclic;
    expectTemplateError(() => parseTemplate(cyclic), { code: 'InvalidTemplate', path: '', message: /not serialisable/ });
    expectTemplateError(() => parseTemplate({ Resources: {}, big: 1n }), {
      code: 'InvalidTemplate',
      path: '',
      message: /not serialisable/,
    });
  });
  test('unknown sections are named', () => {
    expectTemplateError(() => parseTemplate({ Resources: {}, Outputs: {} }), {
      code: 'InvalidTemplate',
      path: 'Outputs',
      message: /unknown section "Outputs"; allowed: Parameters, Mappings, Resources, DeviceConfiguration, Conditions/,
    });
    expectTemplateError(() => parseTemplate({ AWSTemplateFormatVersion: '2010-09-09', Resources: {} }), {
      code: 'InvalidTemplate',
      path: 'AWSTemplateFormatVersion',
    });
  });
  test('Resources is required', () =>
    expectTemplateError(() => parseTemplate({}), { code: 'InvalidTemplate', path: 'Resources', message: /needs a Resources section/ }));
  test('the template type option is checked', () =>
    expectTemplateError(() => parseTemplate({ Resources: {} }, { type: 'BULK' as 'JITP' }), {
      code: 'InvalidTemplate',
      path: '',
      message: /FLEET_PROVISIONING or JITP, got "BULK"/,
    }));
});

describe('warnings', () => {
  test('no thing and no certificate resource', () => {
    const t = parseTemplate({ Resources: {} });
    assert.deepEqual(t.warnings, [
      'no AWS::IoT::Thing resource: RegisterThing will return an empty thingName',
      'no AWS::IoT::Certificate resource: the template does not activate the new certificate',
    ]);
    assert.deepEqual(t.extensionsUsed, []);
  });
});

describe('resources', () => {
  const cases: Array<[string, unknown, string, RegExp]> = [
    [
      'unknown type',
      { r: { Type: 'AWS::IoT::ThingGroup', Properties: {} } },
      'Resources.r.Type',
      /must be AWS::IoT::Thing, AWS::IoT::Certificate or AWS::IoT::Policy, got "AWS::IoT::ThingGroup"/,
    ],
    ['missing Type', { r: { Properties: {} } }, 'Resources.r.Type', /got undefined/],
    [
      'unknown resource attribute',
      { r: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'a' }, DependsOn: 'x' } },
      'Resources.r.DependsOn',
      /unknown resource attribute "DependsOn"/,
    ],
    ['missing Properties', { r: { Type: 'AWS::IoT::Thing' } }, 'Resources.r.Properties', /needs a Properties object, got nothing/],
    ['resource not an object', { r: 'thing' }, 'Resources.r', /expected \{"Type"/],
    [
      'two things',
      { a: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'a' } }, b: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'b' } } },
      'Resources.b',
      /only one AWS::IoT::Thing resource; "a" is already one/,
    ],
    [
      'unknown thing property',
      thingResource({ ThingName: 'a', Tags: [] }),
      'Resources.t.Properties.Tags',
      /unknown AWS::IoT::Thing property "Tags"; allowed: ThingName, AttributePayload/,
    ],
    ['thing without ThingName', thingResource({}), 'Resources.t.Properties', /needs a ThingName/],
    [
      'literal thing name with a space',
      thingResource({ ThingName: 'my thing' }),
      'Resources.t.Properties.ThingName',
      /thing name "my thing" may only contain/,
    ],
    ['literal thing name too long', thingResource({ ThingName: 'x'.repeat(129) }), 'Resources.t.Properties.ThingName', /longer than 128/],
    ['empty thing name', thingResource({ ThingName: '' }), 'Resources.t.Properties.ThingName', /thing name is empty/],
    [
      'bad group literal',
      thingResource({ ThingName: 'a', ThingGroups: ['ok', 'bad group'] }),
      'Resources.t.Properties.ThingGroups[1]',
      /thing group name "bad group"/,
    ],
    [
      'groups not a list',
      thingResource({ ThingName: 'a', ThingGroups: 'g1' }),
      'Resources.t.Properties.ThingGroups',
      /expected a list of strings/,
    ],
    [
      'bad attribute name',
      thingResource({ ThingName: 'a', AttributePayload: { 'has space': 'v' } }),
      'Resources.t.Properties.AttributePayload["has space"]',
      /attribute name "has space" may only contain/,
    ],
    [
      'bad attribute value',
      thingResource({ ThingName: 'a', AttributePayload: { k: 'a b' } }),
      'Resources.t.Properties.AttributePayload.k',
      /value "a b" of attribute "k"/,
    ],
    [
      'attribute value too long',
      thingResource({ ThingName: 'a', AttributePayload: { k: 'v'.repeat(801) } }),
      'Resources.t.Properties.AttributePayload.k',
      /longer than 800/,
    ],
    [
      'nested attribute object',
      thingResource({ ThingName: 'a', AttributePayload: { k: { x: 'y' } } }),
      'Resources.t.Properties.AttributePayload.k',
      /expected a string or an intrinsic function, got an object/,
    ],
    [
      'attributes as a Ref',
      thingResource({ ThingName: 'a', AttributePayload: { Ref: 'X' } }),
      'Resources.t.Properties.AttributePayload',
      /only Fn::If may choose/,
    ],
    [
      'bad thing type literal',
      thingResource({ ThingName: 'a', ThingTypeName: 'a/b' }),
      'Resources.t.Properties.ThingTypeName',
      /thing type name "a\/b"/,
    ],
    [
      'bad billing group literal',
      thingResource({ ThingName: 'a', BillingGroup: 'x y' }),
      'Resources.t.Properties.BillingGroup',
      /billing group name "x y"/,
    ],
    [
      'two certificates',
      { ...certResource({ CertificateId: 'x' }), d: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: 'y' } } },
      'Resources.d',
      /only one AWS::IoT::Certificate/,
    ],
    [
      'certificate with no id source',
      certResource({ Status: 'ACTIVE' }),
      'Resources.c.Properties',
      /exactly one of CertificateId, CertificatePem/,
    ],
    [
      'certificate with two id sources',
      certResource({ CertificateId: 'x', CertificatePem: 'y' }),
      'Resources.c.Properties',
      /found CertificateId, CertificatePem/,
    ],
    [
      'CertificatePem in a fleet template',
      certResource({ CertificatePem: 'pem' }),
      'Resources.c.Properties.CertificatePem',
      /not allowed in FLEET_PROVISIONING templates/,
    ],
    [
      'CSR in a fleet template',
      certResource({ CertificateSigningRequest: 'csr' }),
      'Resources.c.Properties.CertificateSigningRequest',
      /not allowed in FLEET_PROVISIONING templates/,
    ],
    [
      'CACertificatePem alone',
      certResource({ CertificateId: 'x', CACertificatePem: 'ca' }),
      'Resources.c.Properties.CACertificatePem',
      /only allowed together with CertificatePem/,
    ],
    [
      'bad status',
      certResource({ CertificateId: 'x', Status: 'REVOKED' }),
      'Resources.c.Properties.Status',
      /ACTIVE or INACTIVE, got "REVOKED"/,
    ],
    [
      'policy with both',
      { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'a', PolicyDocument: '{}' } } },
      'Resources.p.Properties',
      /exactly one of PolicyName/,
    ],
    ['policy with neither', { p: { Type: 'AWS::IoT::Policy', Properties: {} } }, 'Resources.p.Properties', /exactly one of PolicyName/],
    [
      'bad policy name',
      { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'a b' } } },
      'Resources.p.Properties.PolicyName',
      /policy name "a b"/,
    ],
    [
      'policy document not JSON',
      { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: '{ nope' } } },
      'Resources.p.Properties.PolicyDocument',
      /not valid JSON/,
    ],
    [
      'policy document without Version',
      { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: { Statement: [{}] } } } },
      'Resources.p.Properties.PolicyDocument',
      /needs a "Version" string/,
    ],
    [
      'policy document without Statement',
      { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: '{"Version":"2012-10-17"}' } } },
      'Resources.p.Properties.PolicyDocument',
      /"Statement" object or list/,
    ],
    [
      'policy document with empty Statement',
      { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: { Version: '2012-10-17', Statement: [] } } } },
      'Resources.p.Properties.PolicyDocument',
      /must not be empty/,
    ],
    [
      'policy document a number',
      { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: 5 } } },
      'Resources.p.Properties.PolicyDocument',
      /JSON text or an object/,
    ],
    [
      'too many policies',
      Object.fromEntries(
        Array.from({ length: 11 }, (_, i) => [`p${i}`, { Type: 'AWS::IoT::Policy', Properties: { PolicyName: `p${i}` } }]),
      ),
      'Resources.p10',
      /at most 10 AWS::IoT::Policy/,
    ],
  ];
  for (const [name, resources, path, message] of cases) {
    test(name, () =>
      expectTemplateError(() => parseTemplate({ Parameters: CERT_PARAM, Resources: resources }), {
        code: 'InvalidTemplate',
        path,
        message,
      }),
    );
  }

  test('JITP templates also allow only CertificateId', () =>
    expectTemplateError(() => parseTemplate({ Resources: certResource({ CertificatePem: 'pem' }) }, { type: 'JITP' }), {
      code: 'InvalidTemplate',
      path: 'Resources.c.Properties.CertificatePem',
      message: /not allowed in JITP templates/,
    }));

  test('Status is case-insensitive and defaults to ACTIVE', () => {
    for (const [status, expected] of [
      ['Active', 'ACTIVE'],
      ['inactive', 'INACTIVE'],
      [undefined, 'ACTIVE'],
    ] as const) {
      const properties = { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, ...(status === undefined ? {} : { Status: status }) };
      const t = parseTemplate({ Parameters: CERT_PARAM, Resources: certResource(properties) });
      assert.equal(resolveTemplate(t, { parameters: {}, certificate: { certificateId: CERT_ID } }).certificate?.status, expected);
    }
  });
});

describe('values checked after evaluation', () => {
  const params = { P: { Type: 'String' } };
  const run = (resources: unknown, value: string) =>
    resolveTemplate(parseTemplate({ Parameters: { ...params, ...CERT_PARAM }, Resources: resources }), {
      parameters: { P: value },
      certificate: { certificateId: CERT_ID },
    });

  test('thing name', () => {
    expectTemplateError(() => run(thingResource({ ThingName: { Ref: 'P' } }), 'bad/name'), {
      code: 'EvaluationError',
      path: 'Resources.t.Properties.ThingName',
      message: /thing name "bad\/name" may only contain/,
    });
    expectTemplateError(() => run(thingResource({ ThingName: { Ref: 'P' } }), ''), {
      code: 'EvaluationError',
      path: 'Resources.t.Properties.ThingName',
      message: /thing name is empty/,
    });
    expectTemplateError(() => run(thingResource({ ThingName: { Ref: 'P' } }), 'n'.repeat(129)), {
      code: 'EvaluationError',
      path: 'Resources.t.Properties.ThingName',
      message: /longer than 128/,
    });
    assert.equal(run(thingResource({ ThingName: { Ref: 'P' } }), 'a:b_c-1').thing?.thingName, 'a:b_c-1');
  });
  test('attribute value', () => {
    expectTemplateError(() => run(thingResource({ ThingName: 'a', AttributePayload: { k: { Ref: 'P' } } }), 'white space'), {
      code: 'EvaluationError',
      path: 'Resources.t.Properties.AttributePayload.k',
      message: /value "white space" of attribute "k"/,
    });
    assert.deepEqual(run(thingResource({ ThingName: 'a', AttributePayload: { k: { Ref: 'P' } } }), '[a=b]/#@,.:_-').thing?.attributes, {
      k: '[a=b]/#@,.:_-',
    });
  });
  test('group, type and billing group names', () => {
    expectTemplateError(() => run(thingResource({ ThingName: 'a', ThingGroups: [{ Ref: 'P' }] }), 'g g'), {
      code: 'EvaluationError',
      path: 'Resources.t.Properties.ThingGroups',
      message: /thing group name "g g"/,
    });
    expectTemplateError(() => run(thingResource({ ThingName: 'a', ThingTypeName: { Ref: 'P' } }), 't t'), {
      code: 'EvaluationError',
      path: 'Resources.t.Properties.ThingTypeName',
    });
    expectTemplateError(() => run(thingResource({ ThingName: 'a', BillingGroup: { Ref: 'P' } }), 'b b'), {
      code: 'EvaluationError',
      path: 'Resources.t.Properties.BillingGroup',
    });
  });
  test('policy name and computed Status', () => {
    expectTemplateError(() => run({ p: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: { Ref: 'P' } } } }, 'p p'), {
      code: 'EvaluationError',
      path: 'Resources.p.Properties.PolicyName',
    });
    expectTemplateError(() => run(certResource({ CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: { Ref: 'P' } }), 'revoked'), {
      code: 'EvaluationError',
      path: 'Resources.c.Properties.Status',
      message: /ACTIVE or INACTIVE, got "REVOKED"/,
    });
    assert.equal(
      run(certResource({ CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: { Ref: 'P' } }), 'Inactive').certificate?.status,
      'INACTIVE',
    );
  });
  test('a computed policy document is canonicalised and named at run time', () => {
    const resources = {
      p: {
        Type: 'AWS::IoT::Policy',
        Properties: {
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: { 'Fn::Sub': 'arn:aws:iot:*:*:topic/${P}/${!iot:ClientId}' } }],
          },
        },
      },
    };
    const a = run(resources, 'alpha').policies[0];
    const b = run(resources, 'beta').policies[0];
    assert.ok(a?.kind === 'inline' && b?.kind === 'inline');
    assert.equal(
      a.document,
      '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/alpha/${iot:ClientId}"}]}',
    );
    assert.match(a.policyName, /^[0-9A-F]{40}$/);
    assert.notEqual(a.policyName, b.policyName);
  });
  test('the string and object forms of a document get the same canonical text and name', () => {
    const doc = { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' } };
    const asString = run({ p: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: JSON.stringify(doc, null, 2) } } }, 'x')
      .policies[0];
    const asObject = run({ p: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: doc } } }, 'x').policies[0];
    assert.deepEqual(asString, asObject);
  });
  test('a computed document that is not a policy is an EvaluationError', () =>
    expectTemplateError(
      () => run({ p: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: { Ref: 'P' } } } }, '{"Version":"2012-10-17"}'),
      {
        code: 'EvaluationError',
        path: 'Resources.p.Properties.PolicyDocument',
        message: /"Statement"/,
      },
    ));
});

describe('Mappings and DeviceConfiguration', () => {
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    [
      'intrinsic inside Mappings',
      { Mappings: { M: { k: { v: { Ref: 'X' } } } } },
      'Mappings.M.k.v',
      /intrinsic functions are not allowed in Mappings/,
    ],
    ['intrinsic as a map', { Mappings: { M: { Ref: 'X' } } }, 'Mappings.M', /intrinsic functions are not allowed in Mappings/],
    [
      'three levels too deep',
      { Mappings: { M: { k: { v: { deeper: 'x' } } } } },
      'Mappings.M.k.v',
      /a string or a list of strings, got an object/,
    ],
    ['non-string list item', { Mappings: { M: { k: { v: ['a', 1] } } } }, 'Mappings.M.k.v[1]', /must be strings, got a number/],
    ['map not an object', { Mappings: { M: 'x' } }, 'Mappings.M', /expected an object/],
    [
      'nested DeviceConfiguration',
      { DeviceConfiguration: { a: { b: 'c' } } },
      'DeviceConfiguration.a',
      /flat: nested objects are not supported/,
    ],
    ['list in DeviceConfiguration', { DeviceConfiguration: { a: ['b'] } }, 'DeviceConfiguration.a', /lists are not supported/],
    [
      'number in DeviceConfiguration',
      { DeviceConfiguration: { a: 5 } },
      'DeviceConfiguration.a',
      /must be strings, got a number \(quote it: "5"\)/,
    ],
    [
      'DeviceConfiguration as an intrinsic',
      { DeviceConfiguration: { Ref: 'X' } },
      'DeviceConfiguration',
      /intrinsic functions go in its values/,
    ],
    [
      'Fn::Split value in DeviceConfiguration',
      { DeviceConfiguration: { a: { 'Fn::Split': [',', 'a'] } } },
      'DeviceConfiguration.a',
      /Fn::Split returns a list/,
    ],
  ];
  for (const [name, sections, path, message] of cases) {
    test(name, () => expectTemplateError(() => parseTemplate({ Resources: {}, ...sections }), { code: 'InvalidTemplate', path, message }));
  }
  test('Mappings are fleet-only', () =>
    expectTemplateError(() => parseTemplate({ Resources: {}, Mappings: {} }, { type: 'JITP' }), {
      code: 'InvalidTemplate',
      path: 'Mappings',
      message: /only supported in FLEET_PROVISIONING/,
    }));
});
