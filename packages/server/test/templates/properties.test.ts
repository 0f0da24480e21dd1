import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { evaluateTemplate, parseTemplate, resolveTemplate, TemplateError, type ParsedTemplate } from '../../src/templates/index.js';
import { CERT_ID, TEMPLATE_FIXTURES, templateFixture } from './fixtures.js';

/** Fails the property unless `fn` returns or throws a TemplateError. */
function onlyTemplateErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    assert.ok(err.message.startsWith(err.path === '' ? '' : `${err.path}: `), err.message);
  }
}

/** Words that steer random JSON into the template grammar. */
const VOCABULARY = [
  'Parameters',
  'Mappings',
  'Resources',
  'DeviceConfiguration',
  'Conditions',
  'Condition',
  'Type',
  'Properties',
  'OverrideSettings',
  'Default',
  'String',
  'AWS::IoT::Thing',
  'AWS::IoT::Certificate',
  'AWS::IoT::Policy',
  'ThingName',
  'AttributePayload',
  'ThingTypeName',
  'ThingGroups',
  'BillingGroup',
  'CertificateId',
  'CertificatePem',
  'Status',
  'ACTIVE',
  'Active',
  'PolicyName',
  'PolicyDocument',
  'REPLACE',
  'MERGE',
  'FAIL',
  'DO_NOTHING',
  'THING_GROUPS',
  'Ref',
  'Fn::Join',
  'Fn::Select',
  'Fn::Split',
  'Fn::FindInMap',
  'Fn::Sub',
  'Fn::If',
  'Fn::Equals',
  'Fn::And',
  'Fn::Or',
  'Fn::Not',
  'AWS::IoT::Certificate::Id',
  'AWS::IoT::Certificate::CommonName',
  'P',
  'Q',
  'M',
  'k',
  '${P}',
  '${!x}',
  '${',
  '__proto__',
  'constructor',
  '',
];
const word = fc.constantFrom(...VOCABULARY);
const key = fc.oneof(word, word, fc.string({ maxLength: 4 }));
const { value: templateish } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    word,
    fc.string({ maxLength: 6 }),
    fc.integer({ min: -2, max: 5 }),
    fc.constantFrom(null, true, false),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
  ),
}));
/** Expressions over names and conditions the templates below declare. */
const { good, list, cond } = fc.letrec<{ good: unknown; list: unknown; cond: unknown }>((tie) => ({
  good: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('a', 'b-1', 'x,y', '0', '1', 'Q'),
    fc.constantFrom('P', 'Q', 'AWS::IoT::Certificate::Id').map((name) => ({ Ref: name })),
    fc.tuple(fc.constantFrom('', '-', ','), fc.array(tie('good'), { maxLength: 3 })).map((args) => ({ 'Fn::Join': args })),
    fc.tuple(fc.constantFrom('', '-'), tie('list')).map((args) => ({ 'Fn::Join': args })),
    fc.tuple(fc.oneof(fc.constant(0), fc.constant({ Ref: 'I' })), tie('list')).map((args) => ({ 'Fn::Select': args })),
    fc.constantFrom('x-${P}', '${Q}${!y}', 'plain', '${AWS::IoT::Certificate::Id}').map((format) => ({ 'Fn::Sub': format })),
    fc.tuple(fc.constantFrom('x-${V}-${P}', '${V}'), tie('good')).map(([format, v]) => ({ 'Fn::Sub': [format, { V: v }] })),
    fc.constantFrom('a', 'b', { Ref: 'R' }).map((top) => ({ 'Fn::FindInMap': ['M', top, 'k'] })),
    fc.tuple(fc.constant('C0'), tie('good'), tie('good')).map((args) => ({ 'Fn::If': args })),
  ),
  list: fc.oneof(
    { depthSize: 'small' },
    fc.array(tie('good'), { minLength: 1, maxLength: 3 }),
    fc.tuple(fc.constantFrom(',', '-'), tie('good')).map((args) => ({ 'Fn::Split': args })),
    fc.constantFrom('a', 'b').map((top) => ({ 'Fn::FindInMap': ['M', top, 'l'] })),
    fc.tuple(fc.constant('C0'), tie('list'), tie('list')).map((args) => ({ 'Fn::If': args })),
  ),
  cond: fc.oneof(
    { depthSize: 'small' },
    fc.tuple(tie('good'), tie('good')).map((args) => ({ 'Fn::Equals': args })),
    fc.array(tie('cond'), { minLength: 2, maxLength: 3 }).map((args) => ({ 'Fn::And': args })),
    fc.array(tie('cond'), { minLength: 2, maxLength: 3 }).map((args) => ({ 'Fn::Or': args })),
    tie('cond').map((c) => ({ 'Fn::Not': [c] })),
    fc.constant({ Condition: 'C0' }),
  ),
}));
/** Mistakes: unknown names, bad arities, stray JSON. */
const bad = fc.oneof(
  templateish,
  fc.string({ maxLength: 8 }),
  fc.constantFrom(
    { Ref: 'Undeclared' },
    { 'Fn::Sub': '${' },
    { 'Fn::Sub': '${Undeclared}' },
    { 'Fn::FindInMap': ['N', 'a', 'k'] },
    { 'Fn::FindInMap': ['M', 'a', 'l'] },
  ),
  fc.constantFrom(
    { 'Fn::If': ['C9', 'a', 'b'] },
    { 'Fn::Select': [-1, ['a']] },
    { 'Fn::Select': [0, { 'Fn::Split': ['', 'a'] }] },
    { Condition: 'C1' },
  ),
);
/** Mostly well-formed values, sometimes a mistake. */
const expr = fc.oneof({ arbitrary: good, weight: 15 }, { arbitrary: bad, weight: 1 });
const override = fc.constantFrom('REPLACE', 'REPLACE', 'FAIL', 'DO_NOTHING', 'DO_NOTHING', 'bogus');
const templateBody = fc.record(
  {
    Parameters: fc.constant({
      P: { Type: 'String' },
      Q: { Type: 'String', Default: 'q' },
      I: { Type: 'String', Default: '0' },
      R: { Type: 'String', Default: 'a' },
      'AWS::IoT::Certificate::Id': { Type: 'String' },
    }),
    Mappings: fc.constant({ M: { a: { k: 'v1', l: ['x', 'y'] }, b: { k: 'v2', l: ['z'] } } }),
    Conditions: fc.record({
      C0: fc.constant({ 'Fn::Equals': [{ Ref: 'P' }, 'a'] }),
      C1: fc.oneof({ arbitrary: cond, weight: 15 }, { arbitrary: bad, weight: 1 }),
      C2: cond,
    }),
    Resources: fc.record(
      {
        thing: fc.record(
          {
            Type: fc.constant('AWS::IoT::Thing'),
            Properties: fc.record(
              {
                ThingName: expr,
                AttributePayload: fc.dictionary(fc.constantFrom('a', 'b', '__proto__', 'c', 'd', 'e', 'f', 'bad key'), expr, {
                  maxKeys: 3,
                }),
                ThingGroups: list,
                ThingTypeName: expr,
                BillingGroup: expr,
              },
              { requiredKeys: ['ThingName'] },
            ),
            OverrideSettings: fc.record(
              { AttributePayload: override, ThingGroups: override, THING_TYPE_NAME: override },
              { requiredKeys: [] },
            ),
          },
          { requiredKeys: ['Type', 'Properties'] },
        ),
        cert: fc.record({
          Type: fc.constant('AWS::IoT::Certificate'),
          Properties: fc.record(
            {
              CertificateId: fc.oneof(fc.constant({ Ref: 'AWS::IoT::Certificate::Id' }), expr),
              Status: fc.oneof(fc.constantFrom('Active', 'INACTIVE'), expr),
            },
            { requiredKeys: ['CertificateId'] },
          ),
        }),
        policy: fc.record(
          {
            Type: fc.constant('AWS::IoT::Policy'),
            Properties: fc.oneof(
              expr.map((name) => ({ PolicyName: name })),
              expr.map((resource) => ({
                PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: resource }] },
              })),
              expr.map((doc) => ({ PolicyDocument: doc })),
            ),
            Condition: fc.constantFrom('C0', 'C1', 'C2'),
          },
          { requiredKeys: ['Type', 'Properties'] },
        ),
      },
      { requiredKeys: [] },
    ),
    DeviceConfiguration: fc.dictionary(fc.constantFrom('x', 'y', 'constructor'), expr, { maxKeys: 3 }),
  },
  { requiredKeys: ['Parameters', 'Mappings', 'Conditions', 'Resources'] },
);
const parameters = fc
  .tuple(
    fc.dictionary(key, fc.string({ maxLength: 20 }), { maxKeys: 4 }),
    fc.record(
      { P: fc.constantFrom('a', 'b-1', 'x,y', '', 'q'), I: fc.constantFrom('0', '1', 'x'), R: fc.constantFrom('a', 'b', 'zz') },
      { requiredKeys: [] },
    ),
  )
  .map(([random, known]) => ({ ...random, ...known }));
const subject = fc.dictionary(
  fc.constantFrom('CN', 'C', 'O', 'OU', 'ST', 'serialNumber', 'dnQualifier'),
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 2 }),
);
const templateType = fc.constantFrom('FLEET_PROVISIONING' as const, 'JITP' as const);

test('parseTemplate on arbitrary JSON throws nothing but TemplateError', () => {
  fc.assert(
    fc.property(fc.jsonValue(), templateType, (body, type) => {
      onlyTemplateErrors(() => parseTemplate(body as object, { type }));
      onlyTemplateErrors(() => parseTemplate(JSON.stringify(body), { type }));
    }),
    { numRuns: 500 },
  );
});

test('parseTemplate on arbitrary values (not only JSON) throws nothing but TemplateError', () => {
  fc.assert(
    fc.property(fc.anything({ withNullPrototype: true, withBigInt: true, withBoxedValues: true, withMap: true, withSet: true }), (body) => {
      onlyTemplateErrors(() => parseTemplate(body as object));
    }),
    { numRuns: 300 },
  );
});

test('template-shaped random bodies: parse and evaluate throw nothing but TemplateError', () => {
  let parsedCount = 0;
  let evaluatedCount = 0;
  fc.assert(
    fc.property(templateBody, parameters, subject, (body, params, subj) => {
      let parsed: ParsedTemplate | undefined;
      onlyTemplateErrors(() => {
        parsed = parseTemplate(body);
      });
      if (parsed === undefined) return;
      parsedCount++;
      const template = parsed;
      onlyTemplateErrors(() => {
        evaluateTemplate(template, { parameters: params, certificate: { certificateId: CERT_ID, subject: subj } });
        evaluatedCount++;
      });
    }),
    { numRuns: 1500 },
  );
  assert.ok(
    parsedCount > 100 && evaluatedCount > 20,
    `the generator should reach evaluation (parsed ${parsedCount}, evaluated ${evaluatedCount})`,
  );
});

test('example templates with arbitrary string parameters throw nothing but TemplateError; thing names stay valid', () => {
  const templates = TEMPLATE_FIXTURES.map((name) =>
    parseTemplate(templateFixture(name), { type: name.startsWith('jitp') ? 'JITP' : 'FLEET_PROVISIONING' }),
  );
  const existing = fc.option(
    fc.record({
      attributes: fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
      thingGroups: fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
      thingTypeName: fc.option(fc.string({ maxLength: 5 })),
    }),
  );
  fc.assert(
    fc.property(
      fc.constantFrom(...templates),
      fc.dictionary(fc.constantFrom('SerialNumber', 'CertDate', 'AWS::IoT::Certificate::Id', 'Other'), fc.string({ maxLength: 40 })),
      subject,
      existing,
      (template, params, subj, current) => {
        onlyTemplateErrors(() => {
          const certificate = { certificateId: CERT_ID, subject: subj };
          const resolved = resolveTemplate(template, { parameters: params, certificate });
          if (resolved.thing !== undefined) assert.match(resolved.thing.thingName, /^[a-zA-Z0-9:_-]{1,128}$/);
          const existingThing =
            current === null || resolved.thing === undefined ? null : { thingName: resolved.thing.thingName, ...current };
          const plan = evaluateTemplate(template, { parameters: params, certificate, existingThing });
          assert.equal(plan.certificate?.certificateId, CERT_ID);
        });
      },
    ),
    { numRuns: 1000 },
  );
});
