import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTemplate, resolveTemplate, SUBJECT_PARAMETERS, type CertificateFacts } from '../../src/templates/index.js';
import { CERT_ID, expectTemplateError } from './fixtures.js';

const CERT_PARAM = 'AWS::IoT::Certificate::Id';

function jitp(parameter: string): ReturnType<typeof parseTemplate> {
  return parseTemplate(
    {
      Parameters: { [parameter]: { Type: 'String' }, [CERT_PARAM]: { Type: 'String' } },
      Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'dev1', AttributePayload: { field: { Ref: parameter } } } } },
    },
    { type: 'JITP' },
  );
}

describe('special parameters', () => {
  test('AWS::IoT::Certificate::Id comes from the certificate, not from the device', () => {
    const t = parseTemplate({
      Parameters: { [CERT_PARAM]: { Type: 'String' } },
      Resources: {},
      DeviceConfiguration: { id: { Ref: CERT_PARAM } },
    });
    const resolved = resolveTemplate(t, { parameters: { [CERT_PARAM]: 'spoofed' }, certificate: { certificateId: CERT_ID } });
    assert.equal(resolved.deviceConfiguration.id, CERT_ID);
    assert.equal(resolved.parameters[CERT_PARAM], CERT_ID);
  });

  const subject = {
    C: ['DE'],
    O: ['Acme'],
    OU: ['Plant 1', 'Line 2'],
    dnQualifier: ['q1'],
    ST: ['Berlin'],
    CN: ['dev-1'],
    serialNumber: ['SN42'],
  };
  const expected: Record<string, string> = {
    C: 'DE',
    O: 'Acme',
    OU: 'Plant 1',
    dnQualifier: 'q1',
    ST: 'Berlin',
    CN: 'dev-1',
    serialNumber: 'SN42',
  };
  for (const [name, field] of SUBJECT_PARAMETERS) {
    test(`${name} reads the subject ${field} (first value)`, () => {
      const t = parseTemplate(
        {
          Parameters: { [name]: { Type: 'String' } },
          Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'dev1' } } },
        },
        { type: 'JITP' },
      );
      const resolved = resolveTemplate(t, { parameters: { [name]: 'spoofed' }, certificate: { certificateId: CERT_ID, subject } });
      assert.equal(resolved.parameters[name], expected[field]);
    });
  }

  test('SerialNumber is the subject serialNumber attribute (not the X.509 serial)', () => {
    const resolved = resolveTemplate(jitp('AWS::IoT::Certificate::SerialNumber'), {
      parameters: {},
      certificate: { certificateId: CERT_ID, subject: { serialNumber: ['ABC'] } },
    });
    assert.deepEqual(resolved.thing?.attributes, { field: 'ABC' });
  });

  test('a declared subject parameter the certificate lacks is MissingParameter, even with no subject at all', () => {
    const certificates: CertificateFacts[] = [
      { certificateId: CERT_ID, subject: { CN: ['x'] } },
      { certificateId: CERT_ID },
      { certificateId: CERT_ID, subject: { O: [] } },
    ];
    for (const certificate of certificates) {
      expectTemplateError(
        () =>
          resolveTemplate(jitp('AWS::IoT::Certificate::Organization'), {
            parameters: { 'AWS::IoT::Certificate::Organization': 'device' },
            certificate,
          }),
        {
          code: 'MissingParameter',
          path: 'Parameters.AWS::IoT::Certificate::Organization',
          message: /subject has no O attribute/,
        },
      );
    }
  });

  test('subject parameters are JITP-only; unknown AWS:: parameters are rejected; special parameters take no Default', () => {
    expectTemplateError(() => parseTemplate({ Parameters: { 'AWS::IoT::Certificate::CommonName': { Type: 'String' } }, Resources: {} }), {
      code: 'InvalidTemplate',
      path: 'Parameters.AWS::IoT::Certificate::CommonName',
      message: /only provided to JITP templates/,
    });
    expectTemplateError(
      () => parseTemplate({ Parameters: { 'AWS::IoT::Certificate::NotAfter': { Type: 'String' } }, Resources: {} }, { type: 'JITP' }),
      {
        code: 'InvalidTemplate',
        path: 'Parameters.AWS::IoT::Certificate::NotAfter',
        message: /unsupported special parameter/,
      },
    );
    expectTemplateError(() => parseTemplate({ Parameters: { [CERT_PARAM]: { Type: 'String', Default: 'x' } }, Resources: {} }), {
      code: 'InvalidTemplate',
      path: 'Parameters.AWS::IoT::Certificate::Id.Default',
      message: /remove Default/,
    });
  });

  test('CertificateId must resolve to the certificate being provisioned', () => {
    const t = parseTemplate({
      Parameters: { Other: { Type: 'String' } },
      Resources: { cert: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'Other' } } } },
    });
    expectTemplateError(() => resolveTemplate(t, { parameters: { Other: 'b'.repeat(64) }, certificate: { certificateId: CERT_ID } }), {
      code: 'EvaluationError',
      path: 'Resources.cert.Properties.CertificateId',
      message: /must be the certificate being provisioned/,
    });
  });
});

describe('device parameters', () => {
  const t = parseTemplate({
    Parameters: { A: { Type: 'String' }, B: { Type: 'String', Default: 'dflt' }, Unused: { Type: 'String' } },
    Resources: {},
    DeviceConfiguration: { a: { Ref: 'A' }, b: { Ref: 'B' } },
  });

  test('results list declared parameters with values only', () => {
    const resolved = resolveTemplate(t, { parameters: { A: 'x', Extra: 'y' }, certificate: { certificateId: CERT_ID } });
    assert.deepEqual(resolved.parameters, { A: 'x', B: 'dflt' });
    assert.deepEqual(resolved.deviceConfiguration, { a: 'x', b: 'dflt' });
  });

  test('unused declared parameters are reported as warnings, not errors', () => {
    assert.ok(t.warnings.includes('parameter "Unused" is declared but never used'));
    assert.doesNotThrow(() => resolveTemplate(t, { parameters: { A: 'x' }, certificate: { certificateId: CERT_ID } }));
  });

  test('numbers and booleans that slip through are coerced to their JSON form', () => {
    const parameters = { A: 12.5, B: true } as unknown as Record<string, string>;
    assert.deepEqual(resolveTemplate(t, { parameters, certificate: { certificateId: CERT_ID } }).deviceConfiguration, {
      a: '12.5',
      b: 'true',
    });
  });

  test('object values are an EvaluationError naming the parameter', () => {
    const parameters = { A: { nested: 1 } } as unknown as Record<string, string>;
    expectTemplateError(() => resolveTemplate(t, { parameters, certificate: { certificateId: CERT_ID } }), {
      code: 'EvaluationError',
      path: 'Parameters.A',
      message: /"A" must be a string, got an object/,
    });
  });

  test('inherited properties are not parameters', () => {
    const parameters = Object.create({ A: 'from-prototype' }) as Record<string, string>;
    expectTemplateError(() => resolveTemplate(t, { parameters, certificate: { certificateId: CERT_ID } }), {
      code: 'MissingParameter',
      path: 'DeviceConfiguration.a',
    });
  });

  test('a missing parameters object is treated as empty', () => {
    const input = { certificate: { certificateId: CERT_ID } } as unknown as Parameters<typeof resolveTemplate>[1];
    expectTemplateError(() => resolveTemplate(t, input), { code: 'MissingParameter', path: 'DeviceConfiguration.a', message: /"A"/ });
  });
});

describe('Parameters section validation', () => {
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['Type Number', { P: { Type: 'Number' } }, 'Parameters.P.Type', /must be "String" \(the only type AWS documents\), got "Number"/],
    ['missing Type', { P: {} }, 'Parameters.P.Type', /got nothing/],
    ['non-string Default', { P: { Type: 'String', Default: 5 } }, 'Parameters.P.Default', /Default must be a string, got a number/],
    [
      'unknown attribute',
      { P: { Type: 'String', AllowedValues: ['a'] } },
      'Parameters.P.AllowedValues',
      /unknown parameter attribute "AllowedValues"/,
    ],
    ['declaration not an object', { P: 'String' }, 'Parameters.P', /expected \{"Type": "String"\}/],
    ['section not an object', ['P'], 'Parameters', /expected an object/],
    ['empty name', { '': { Type: 'String' } }, 'Parameters[""]', /1 to 256 characters/],
  ];
  for (const [name, section, path, message] of cases) {
    test(name, () =>
      expectTemplateError(() => parseTemplate({ Parameters: section, Resources: {} }), { code: 'InvalidTemplate', path, message }),
    );
  }
  test('Description is allowed', () => {
    const t = parseTemplate({
      Parameters: { P: { Type: 'String', Description: 'serial' } },
      Resources: {},
      DeviceConfiguration: { p: { Ref: 'P' } },
    });
    assert.deepEqual(t.parameterNames, ['P']);
  });
});
