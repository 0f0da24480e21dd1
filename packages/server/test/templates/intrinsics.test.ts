import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTemplate, resolveTemplate, TEMPLATE_LIMITS } from '../../src/templates/index.js';
import { CERT_ID, expectTemplateError } from './fixtures.js';

/** Parameters every template below declares. */
const PARAMS = {
  Serial: { Type: 'String' },
  Csv: { Type: 'String' },
  Region: { Type: 'String', Default: 'eu' },
  Index: { Type: 'String' },
  Absent: { Type: 'String' },
};

const MAPPINGS = {
  Regions: {
    eu: { endpoint: 'eu.example.com', groups: ['eu-fleet', 'all'] },
    us: { endpoint: 'us.example.com', groups: ['us-fleet'] },
  },
};

function template(value: unknown, extra: Record<string, unknown> = {}): ReturnType<typeof parseTemplate> {
  return parseTemplate({ Parameters: PARAMS, Mappings: MAPPINGS, Resources: {}, DeviceConfiguration: { v: value }, ...extra });
}

/** Evaluates `value` as the DeviceConfiguration entry `v`. */
function evaluate(value: unknown, parameters: Record<string, string> = {}): string | undefined {
  return resolveTemplate(template(value), { parameters, certificate: { certificateId: CERT_ID } }).deviceConfiguration.v;
}

describe('Ref', () => {
  test('reads a supplied parameter', () => assert.equal(evaluate({ Ref: 'Serial' }, { Serial: 'S1' }), 'S1'));
  test('falls back to Default', () => assert.equal(evaluate({ Ref: 'Region' }), 'eu'));
  test('a supplied value wins over Default', () => assert.equal(evaluate({ Ref: 'Region' }, { Region: 'us' }), 'us'));
  test('an empty supplied string is a value, not a missing one', () => assert.equal(evaluate({ Ref: 'Region' }, { Region: '' }), ''));
  test('undeclared parameter fails at parse time', () =>
    expectTemplateError(() => template({ Ref: 'Nope' }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v',
      message: /undeclared parameter "Nope".*declare it under Parameters/,
    }));
  test('non-string argument fails', () =>
    expectTemplateError(() => template({ Ref: ['Serial'] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v',
      message: /Ref expects a parameter name/,
    }));
  test('a referenced parameter without value or Default is MissingParameter', () =>
    expectTemplateError(() => evaluate({ Ref: 'Absent' }), {
      code: 'MissingParameter',
      path: 'DeviceConfiguration.v',
      message: /"Absent" has no value: send it/,
    }));
});

describe('Fn::Join', () => {
  test('empty delimiter concatenates', () =>
    assert.equal(evaluate({ 'Fn::Join': ['', ['born_', { Ref: 'Serial' }]] }, { Serial: 'X' }), 'born_X'));
  test('delimiter goes between items only', () => assert.equal(evaluate({ 'Fn::Join': ['-', ['a', 'b', 'c']] }), 'a-b-c'));
  test('empty list gives empty string', () => assert.equal(evaluate({ 'Fn::Join': [',', []] }), ''));
  test('joins a list-valued intrinsic', () =>
    assert.equal(evaluate({ 'Fn::Join': ['+', { 'Fn::Split': [',', { Ref: 'Csv' }] }] }, { Csv: 'x,y' }), 'x+y'));
  test('joins a mapping list', () =>
    assert.equal(evaluate({ 'Fn::Join': [' ', { 'Fn::FindInMap': ['Regions', 'eu', 'groups'] }] }), 'eu-fleet all'));
  for (const bad of [['-'], ['-', ['a'], 'extra'], [1, ['a']], 'a,b', { x: 1 }]) {
    test(`rejects ${JSON.stringify(bad)}`, () =>
      expectTemplateError(() => template({ 'Fn::Join': bad }), {
        code: 'InvalidTemplate',
        path: 'DeviceConfiguration.v',
        message: /^Fn::Join expects \[delimiter, \[values\]\]$/,
      }));
  }
  test('a non-string item is reported at its own path', () =>
    expectTemplateError(() => template({ 'Fn::Join': ['', ['a', 5]] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v.Fn::Join[1][1]',
      message: /expected a string/,
    }));
  test('a Ref where a list is expected is rejected', () =>
    expectTemplateError(() => template({ 'Fn::Join': ['', { Ref: 'Csv' }] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v.Fn::Join[1]',
      message: /Ref returns a string, but a list is expected/,
    }));
  test('a result over 64 KiB is an EvaluationError', () => {
    const big = 'x'.repeat(40000);
    expectTemplateError(() => evaluate({ 'Fn::Join': ['', [{ Ref: 'Serial' }, { Ref: 'Serial' }]] }, { Serial: big }), {
      code: 'EvaluationError',
      path: 'DeviceConfiguration.v',
      message: /longer than 65536 characters/,
    });
  });
});

describe('Fn::Select', () => {
  test('numeric index', () => assert.equal(evaluate({ 'Fn::Select': [1, ['a', 'b', 'c']] }), 'b'));
  test('index as numeric text', () => assert.equal(evaluate({ 'Fn::Select': ['2', ['a', 'b', 'c']] }), 'c'));
  test('index from a parameter', () => assert.equal(evaluate({ 'Fn::Select': [{ Ref: 'Index' }, ['a', 'b']] }, { Index: '1' }), 'b'));
  test('from Fn::Split (the usual pairing)', () =>
    assert.equal(evaluate({ 'Fn::Select': [0, { 'Fn::Split': ['-', { Ref: 'Serial' }] }] }, { Serial: 'ACME-123' }), 'ACME'));
  test('only the selected literal item is evaluated', () => assert.equal(evaluate({ 'Fn::Select': [0, ['a', { Ref: 'Absent' }]] }), 'a'));
  test('out-of-range index at run time is an EvaluationError with the path', () =>
    expectTemplateError(() => evaluate({ 'Fn::Select': [3, { 'Fn::Split': ['-', { Ref: 'Serial' }] }] }, { Serial: 'a-b' }), {
      code: 'EvaluationError',
      path: 'DeviceConfiguration.v',
      message: /index 3 is out of range for a list of 2 items/,
    }));
  test('a non-numeric index from a parameter is an EvaluationError', () =>
    expectTemplateError(() => evaluate({ 'Fn::Select': [{ Ref: 'Index' }, ['a']] }, { Index: '-1' }), {
      code: 'EvaluationError',
      path: 'DeviceConfiguration.v',
      message: /non-negative integer, got "-1"/,
    }));
  test('a literal out-of-range index fails at parse time', () =>
    expectTemplateError(() => template({ 'Fn::Select': [2, ['a', 'b']] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v',
      message: /out of range/,
    }));
  for (const index of [-1, 1.5, 'x', '01']) {
    test(`rejects literal index ${JSON.stringify(index)}`, () =>
      expectTemplateError(() => template({ 'Fn::Select': [index, ['a', 'b']] }), {
        code: 'InvalidTemplate',
        path: 'DeviceConfiguration.v.Fn::Select[0]',
        message: /non-negative integer/,
      }));
  }
  test('wrong arity', () =>
    expectTemplateError(() => template({ 'Fn::Select': [0] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v',
      message: /^Fn::Select expects \[index, \[values\]\]$/,
    }));
});

describe('Fn::Split', () => {
  test('splits into a list usable as ThingGroups', () => {
    const t = parseTemplate({
      Parameters: { Groups: { Type: 'String' } },
      Resources: {
        thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'd1', ThingGroups: { 'Fn::Split': [',', { Ref: 'Groups' }] } } },
      },
    });
    assert.deepEqual(resolveTemplate(t, { parameters: { Groups: 'a,b,a' }, certificate: { certificateId: CERT_ID } }).thing?.thingGroups, [
      'a',
      'b',
    ]);
  });
  test('in a string slot it is rejected at parse time', () =>
    expectTemplateError(() => template({ 'Fn::Split': [',', 'a,b'] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v',
      message: /Fn::Split returns a list/,
    }));
  test('empty delimiter is rejected', () =>
    expectTemplateError(() => template({ 'Fn::Select': [0, { 'Fn::Split': ['', 'ab'] }] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v.Fn::Select[1].Fn::Split[0]',
      message: /must not be empty/,
    }));
  test('wrong shape', () =>
    expectTemplateError(() => template({ 'Fn::Select': [0, { 'Fn::Split': [','] }] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v.Fn::Select[1]',
      message: /^Fn::Split expects \[delimiter, string\]$/,
    }));
  test(`more than ${TEMPLATE_LIMITS.maxListItems} items is an EvaluationError`, () =>
    expectTemplateError(() => evaluate({ 'Fn::Select': [0, { 'Fn::Split': [',', { Ref: 'Csv' }] }] }, { Csv: ','.repeat(5000) }), {
      code: 'EvaluationError',
      path: 'DeviceConfiguration.v.Fn::Select[1]',
      message: /more than 1024 items/,
    }));
});

describe('Fn::FindInMap', () => {
  test('literal keys', () => assert.equal(evaluate({ 'Fn::FindInMap': ['Regions', 'us', 'endpoint'] }), 'us.example.com'));
  test('key from a parameter', () =>
    assert.equal(evaluate({ 'Fn::FindInMap': ['Regions', { Ref: 'Region' }, 'endpoint'] }), 'eu.example.com'));
  test('missing key at run time is an EvaluationError', () =>
    expectTemplateError(() => evaluate({ 'Fn::FindInMap': ['Regions', { Ref: 'Region' }, 'endpoint'] }, { Region: 'mars' }), {
      code: 'EvaluationError',
      path: 'DeviceConfiguration.v',
      message: /map "Regions" has no key "mars"/,
    }));
  test('a list where a string is expected is an EvaluationError', () =>
    expectTemplateError(() => evaluate({ 'Fn::FindInMap': ['Regions', { Ref: 'Region' }, 'groups'] }), {
      code: 'EvaluationError',
      path: 'DeviceConfiguration.v',
      message: /returned a list where a string is expected/,
    }));
  test('literal keys are checked at parse time', () => {
    expectTemplateError(() => template({ 'Fn::FindInMap': ['Regions', 'eu', 'nope'] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v',
      message: /key "eu" has no key "nope"/,
    });
    expectTemplateError(() => template({ 'Fn::FindInMap': ['Nope', { Ref: 'Region' }, 'x'] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v',
      message: /no map "Nope"/,
    });
    expectTemplateError(() => template({ 'Fn::FindInMap': ['Regions', 'eu', 'groups'] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v',
    });
  });
  test('wrong arity', () =>
    expectTemplateError(() => template({ 'Fn::FindInMap': ['Regions', 'eu'] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v',
      message: /expects \[mapName, topLevelKey, secondLevelKey\]/,
    }));
});

describe('Fn::Sub', () => {
  test('substitutes declared parameters', () =>
    assert.equal(evaluate({ 'Fn::Sub': 'dev-${Serial}-${Region}' }, { Serial: '7' }), 'dev-7-eu'));
  test('variables of the [string, {vars}] form win over parameters', () =>
    assert.equal(
      evaluate({ 'Fn::Sub': ['${Serial}/${Extra}', { Serial: 'var', Extra: { Ref: 'Region' } }] }, { Serial: 'param' }),
      'var/eu',
    ));
  test('${!Literal} writes ${Literal}', () => assert.equal(evaluate({ 'Fn::Sub': 'a ${!iot:ClientId} b' }), 'a ${iot:ClientId} b'));
  test('special parameters with colons can be referenced', () => {
    const t = parseTemplate({
      Parameters: { 'AWS::IoT::Certificate::Id': { Type: 'String' } },
      Resources: {},
      DeviceConfiguration: { v: { 'Fn::Sub': 'cert-${AWS::IoT::Certificate::Id}' } },
    });
    assert.equal(resolveTemplate(t, { parameters: {}, certificate: { certificateId: CERT_ID } }).deviceConfiguration.v, `cert-${CERT_ID}`);
  });
  test('substituted values are not scanned again (no recursion)', () => {
    const t = parseTemplate({
      Parameters: { A: { Type: 'String', Default: '${A}' } },
      Resources: {},
      DeviceConfiguration: { v: { 'Fn::Sub': '[${A}${A}]' } },
    });
    assert.equal(resolveTemplate(t, { parameters: {}, certificate: { certificateId: CERT_ID } }).deviceConfiguration.v, '[${A}${A}]');
  });
  test('an undeclared reference fails at parse time', () =>
    expectTemplateError(() => template({ 'Fn::Sub': 'x-${Thing.Arn}' }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v',
      message: /\$\{Thing\.Arn\} to undeclared parameter/,
    }));
  test('an unterminated ${ fails at parse time', () =>
    expectTemplateError(() => template({ 'Fn::Sub': 'x-${Serial' }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v',
      message: /unterminated/,
    }));
  test('${} fails', () =>
    expectTemplateError(() => template({ 'Fn::Sub': 'x${}' }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v',
      message: /empty reference/,
    }));
  test('wrong shape', () =>
    expectTemplateError(() => template({ 'Fn::Sub': ['a', 'b'] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v',
      message: /Fn::Sub expects a string or \[string, \{variables\}\]/,
    }));
  test('a variable value with a list is rejected at its path', () =>
    expectTemplateError(() => template({ 'Fn::Sub': ['${X}', { X: ['a'] }] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v.Fn::Sub[1].X',
      message: /expected a string/,
    }));
});

describe('intrinsic syntax', () => {
  test('unknown Fn::* is rejected with the supported list', () =>
    expectTemplateError(() => template({ 'Fn::Base64': 'x' }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v',
      message: /unknown intrinsic function "Fn::Base64"; supported: Ref, Fn::Join/,
    }));
  test('Fn::GetAtt is not supported', () =>
    expectTemplateError(() => template({ 'Fn::GetAtt': ['thing', 'Arn'] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v',
      message: /unknown intrinsic/,
    }));
  test('an intrinsic must be alone in its object', () =>
    expectTemplateError(() => template({ Ref: 'Serial', extra: 1 }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v',
      message: /only key of its object/,
    }));
  test('condition functions are only allowed under Conditions', () =>
    expectTemplateError(() => template({ 'Fn::Equals': ['a', 'a'] }), {
      code: 'InvalidTemplate',
      path: 'DeviceConfiguration.v',
      message: /only allowed in the Conditions section/,
    }));
  test(`nesting deeper than ${TEMPLATE_LIMITS.maxIntrinsicDepth} intrinsics is rejected`, () => {
    let deep: unknown = { Ref: 'Serial' };
    for (let i = 0; i < TEMPLATE_LIMITS.maxIntrinsicDepth; i++) deep = { 'Fn::Join': ['', [deep]] };
    expectTemplateError(() => template(deep), {
      code: 'InvalidTemplate',
      path: `DeviceConfiguration.v${'.Fn::Join[1][0]'.repeat(TEMPLATE_LIMITS.maxIntrinsicDepth)}`,
      message: /nested deeper than 32/,
    });
  });
  test(`nesting of exactly ${TEMPLATE_LIMITS.maxIntrinsicDepth} intrinsics is fine`, () => {
    let deep: unknown = 'x';
    for (let i = 0; i < TEMPLATE_LIMITS.maxIntrinsicDepth; i++) deep = { 'Fn::Join': ['', [deep, '.']] };
    assert.equal(evaluate(deep), 'x' + '.'.repeat(TEMPLATE_LIMITS.maxIntrinsicDepth));
  });
});
