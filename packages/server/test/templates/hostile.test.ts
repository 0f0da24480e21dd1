import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateTemplate, parseTemplate, resolveTemplate, TemplateError } from '../../src/templates/index.js';
import { CERT_ID, expectTemplateError, templateFixture } from './fixtures.js';

/** Runs `fn` and asserts it finished within `ms` (generous: catches hangs, not slowness). */
function bounded<T>(fn: () => T, ms = 2000): T {
  const start = performance.now();
  try {
    return fn();
  } finally {
    const elapsed = performance.now() - start;
    assert.ok(elapsed < ms, `took ${elapsed.toFixed(0)} ms`);
  }
}

const TEN_MB = 'x'.repeat(10 * 1024 * 1024);
const certificate = { certificateId: CERT_ID };

describe('oversized and deeply nested bodies', () => {
  test('a 10 MB body string', () =>
    bounded(() => expectTemplateError(() => parseTemplate(TEN_MB), { code: 'InvalidTemplate', path: '', message: /the limit is 10240/ })));
  test('a 10 MB string inside an object body', () =>
    bounded(() =>
      expectTemplateError(() => parseTemplate({ Resources: {}, DeviceConfiguration: { a: TEN_MB } }), {
        code: 'InvalidTemplate',
        path: '',
        message: /the limit is 10240/,
      }),
    ));
  test('a huge array inside an object body', () =>
    bounded(() =>
      expectTemplateError(() => parseTemplate({ Resources: {}, X: new Array(1_000_000).fill(0) }), { code: 'InvalidTemplate', path: '' }),
    ));
  test('deeply nested arrays in a body string', () => {
    const tooLong = `{"Resources":{},"DeviceConfiguration":{"a":${'['.repeat(6000)}${']'.repeat(6000)}}}`;
    bounded(() => expectTemplateError(() => parseTemplate(tooLong), { code: 'InvalidTemplate', path: '', message: /the limit is 10240/ }));
    const deep = `{"Resources":{},"DeviceConfiguration":{"a":${'['.repeat(5000)}${']'.repeat(5000)}}}`;
    assert.ok(deep.length <= 10240);
    bounded(() => {
      try {
        parseTemplate(deep);
        assert.fail('expected an error');
      } catch (err) {
        assert.ok(err instanceof TemplateError, String(err));
        assert.equal(err.code, 'InvalidTemplate');
        assert.ok(err.path.startsWith('DeviceConfiguration.a[0][0]'), err.path);
        assert.match(err.message, /: JSON nested deeper than 128 levels$/);
      }
    });
  });
  test('a 100000-deep object (stack-overflowing serialisation)', () => {
    let deep: Record<string, unknown> = {};
    const root = { Resources: {}, DeviceConfiguration: deep };
    for (let i = 0; i < 100_000; i++) {
      const next = {};
      deep.a = next;
      deep = next;
    }
    bounded(() => expectTemplateError(() => parseTemplate(root), { code: 'InvalidTemplate', path: '' }));
  });
  test('a deep Fn::If chain within the body limit is rejected by the intrinsic depth limit', () => {
    let value: unknown = 'leaf';
    for (let i = 0; i < 40; i++) value = { 'Fn::If': ['C', value, 'x'] };
    const body = { Conditions: { C: { 'Fn::Equals': ['a', 'a'] } }, Resources: {}, DeviceConfiguration: { v: value } };
    bounded(() =>
      expectTemplateError(() => parseTemplate(body), {
        code: 'InvalidTemplate',
        path: `DeviceConfiguration.v${'.Fn::If[1]'.repeat(32)}`,
        message: /nested deeper than 32/,
      }),
    );
  });
});

describe('oversized inputs at evaluation', () => {
  const birthing = parseTemplate(templateFixture('birthing-template.json'));
  test('a 10 MB parameter value', () =>
    bounded(() =>
      expectTemplateError(() => evaluateTemplate(birthing, { parameters: { SerialNumber: TEN_MB }, certificate }), {
        code: 'EvaluationError',
        path: 'Parameters.SerialNumber',
        message: /longer than 65536/,
      }),
    ));
  test('a parameters object with 200000 keys', () => {
    const parameters: Record<string, string> = {};
    for (let i = 0; i < 200_000; i++) parameters[`p${i}`] = 'v';
    parameters.SerialNumber = 'ok';
    assert.equal(bounded(() => evaluateTemplate(birthing, { parameters, certificate })).thing?.thingName, 'born_ok');
  });
  test('Fn::Split of a 64 KiB value into many items', () => {
    const t = parseTemplate({
      Parameters: { G: { Type: 'String' } },
      Resources: { t: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'a', ThingGroups: { 'Fn::Split': [',', { Ref: 'G' }] } } } },
    });
    bounded(() =>
      expectTemplateError(() => resolveTemplate(t, { parameters: { G: 'g,'.repeat(30_000) }, certificate }), {
        code: 'EvaluationError',
        path: 'Resources.t.Properties.ThingGroups',
        message: /more than 1024 items/,
      }),
    );
  });
  test('many DeviceConfiguration entries echoing a 60 KiB parameter exceed the evaluation budget', () => {
    const entries: Record<string, unknown> = {};
    for (let i = 0; i < 30; i++) entries[`k${i}`] = { 'Fn::Join': ['', [{ Ref: 'P' }]] };
    const t = parseTemplate({ Parameters: { P: { Type: 'String' } }, Resources: {}, DeviceConfiguration: entries });
    bounded(() =>
      expectTemplateError(() => resolveTemplate(t, { parameters: { P: 'y'.repeat(60_000) }, certificate }), {
        code: 'EvaluationError',
        path: 'DeviceConfiguration.k17',
        message: /more than 1048576 characters/,
      }),
    );
  });
});

describe('__proto__ and constructor keys', () => {
  const body = `{
    "Parameters": { "__proto__": { "Type": "String" }, "constructor": { "Type": "String", "Default": "ctor" } },
    "Mappings": { "__proto__": { "constructor": { "__proto__": "mapped" } } },
    "Resources": {
      "__proto__": { "Type": "AWS::IoT::Thing", "Properties": {
        "ThingName": { "Ref": "__proto__" },
        "AttributePayload": { "__proto__": "attr", "constructor": { "Fn::FindInMap": ["__proto__", "constructor", "__proto__"] } }
      } },
      "constructor": { "Type": "AWS::IoT::Policy", "Properties": { "PolicyName": "p" } }
    },
    "DeviceConfiguration": { "__proto__": { "Fn::Sub": ["\${__proto__}-\${constructor}", { "constructor": "var" }] }, "toString": { "Ref": "constructor" } }
  }`;

  test('work as ordinary names and never touch prototypes', () => {
    const t = parseTemplate(body);
    assert.deepEqual(t.parameterNames, ['__proto__', 'constructor']);
    const plan = evaluateTemplate(t, { parameters: JSON.parse('{"__proto__": "dev1"}') as Record<string, string>, certificate });
    assert.equal(plan.thing?.thingName, 'dev1');
    const attributes = plan.thing?.attributes ?? {};
    assert.equal(Object.getPrototypeOf(attributes), Object.prototype);
    assert.deepEqual(Object.entries(attributes), [
      ['__proto__', 'attr'],
      ['constructor', 'mapped'],
    ]);
    assert.deepEqual(Object.entries(plan.deviceConfiguration), [
      ['__proto__', 'dev1-var'],
      ['toString', 'ctor'],
    ]);
    assert.deepEqual(Object.entries(plan.resources), [
      ['__proto__', 'dev1'],
      ['constructor', 'p'],
    ]);
    assert.deepEqual(Object.entries(plan.parameters), [
      ['__proto__', 'dev1'],
      ['constructor', 'ctor'],
    ]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal((JSON.parse(JSON.stringify(plan.deviceConfiguration)) as Record<string, string>).__proto__, 'dev1-var');
  });

  test('an inherited-looking parameter is not read from Object.prototype', () => {
    const t = parseTemplate({
      Parameters: { toString: { Type: 'String' } },
      Resources: {},
      DeviceConfiguration: { v: { Ref: 'toString' } },
    });
    expectTemplateError(() => resolveTemplate(t, { parameters: {}, certificate }), {
      code: 'MissingParameter',
      path: 'DeviceConfiguration.v',
      message: /"toString"/,
    });
  });

  test('an unknown condition named like a prototype member', () => {
    expectTemplateError(
      () => parseTemplate({ Resources: { p: { Type: 'AWS::IoT::Policy', Condition: 'constructor', Properties: { PolicyName: 'p' } } } }),
      {
        code: 'InvalidTemplate',
        path: 'Resources.p.Condition',
        message: /unknown condition "constructor"/,
      },
    );
    expectTemplateError(
      () => parseTemplate({ Resources: {}, DeviceConfiguration: { v: { 'Fn::FindInMap': ['hasOwnProperty', 'a', 'b'] } } }),
      { code: 'InvalidTemplate', path: 'DeviceConfiguration.v', message: /no map "hasOwnProperty"/ },
    );
  });
});

describe('wrong value types everywhere', () => {
  const wrong = [null, 5, true, [], {}, ['x'], { Ref: 5 }, { 'Fn::Nope': 1 }];
  const slots: Array<(v: unknown) => unknown> = [
    (v) => ({ Resources: { t: { Type: 'AWS::IoT::Thing', Properties: { ThingName: v } } } }),
    (v) => ({ Resources: { t: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'a', ThingGroups: v } } } }),
    (v) => ({ Resources: { t: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'a', AttributePayload: v } } } }),
    (v) => ({ Resources: { t: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'a' }, OverrideSettings: v } } }),
    (v) => ({ Resources: { c: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: v } } } }),
    (v) => ({ Resources: { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: v } } } }),
    (v) => ({ Resources: { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: v } } } }),
    (v) => ({ Resources: v }),
    (v) => ({ Resources: {}, Parameters: v }),
    (v) => ({ Resources: {}, Mappings: v }),
    (v) => ({ Resources: {}, Conditions: { C: v } }),
    (v) => ({ Resources: {}, DeviceConfiguration: v }),
    (v) => ({ Resources: {}, DeviceConfiguration: { a: { 'Fn::Join': v } } }),
    (v) => ({ Resources: {}, DeviceConfiguration: { a: { 'Fn::Sub': v } } }),
    (v) => ({ Resources: { t: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'a' }, Condition: v } } }),
  ];
  test('never throw anything but TemplateError', () => {
    let rejected = 0;
    for (const slot of slots) {
      for (const value of wrong) {
        try {
          const t = parseTemplate(slot(value) as object);
          resolveTemplate(t, { parameters: {}, certificate });
        } catch (err) {
          assert.ok(err instanceof TemplateError, `${JSON.stringify(slot(value))}: ${String(err)}`);
          rejected++;
        }
      }
    }
    assert.ok(rejected > slots.length * 4, `only ${rejected} rejections`);
  });
});
