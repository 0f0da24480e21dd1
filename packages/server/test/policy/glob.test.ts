import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileGlob, resourceIndexKey, tokenize } from '../../src/policy/glob.js';
import { evaluatePolicies } from '../../src/policy/index.js';
import { doc, named } from './helpers.js';

const W = { wildcards: true, variables: true };
const glob = (p: string): ((s: string) => boolean) => {
  const g = compileGlob(p, W);
  return (s) => g.match(s, {});
};

/** Reference: the same semantics via a regular expression (fine for short test strings). */
function reference(pattern: string, subject: string): boolean {
  let re = '';
  // eslint-disable-next-line no-control-regex -- NUL marks an escaped ${x} in this reference implementation
  for (const ch of pattern.replace(/\$\{([*?$])\}/g, (_m, c: string) => `\u0000${c}`).match(/\u0000.|[\s\S]/gu) ?? []) {
    if (ch.startsWith('\u0000')) re += ch.slice(1).replace(/[$*?]/g, '\\$&');
    else if (ch === '*') re += '[\\s\\S]*';
    else if (ch === '?') re += '[\\s\\S]';
    else re += ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'u').test(subject);
}

test('* matches any run of characters, across / levels, including none', () => {
  const m = glob('topic/a/*');
  assert.equal(m('topic/a/'), true);
  assert.equal(m('topic/a/b'), true);
  assert.equal(m('topic/a/b/c/d'), true);
  assert.equal(m('topic/a'), false);
  assert.equal(m('topic/ab'), false);
  const mid = glob('topic/*/telemetry');
  assert.equal(mid('topic/x/y/z/telemetry'), true);
  assert.equal(mid('topic//telemetry'), true);
  assert.equal(mid('topic/x/telemetry/extra'), false);
  assert.equal(glob('*')(''), true);
  assert.equal(glob('**a**')('xxaxx'), true);
  assert.equal(glob('a*b*c')('abc'), true);
  assert.equal(glob('a*b*c')('acb'), false);
});

test('? matches exactly one character (one code point)', () => {
  const m = glob('client/dev-?');
  assert.equal(m('client/dev-1'), true);
  assert.equal(m('client/dev-'), false);
  assert.equal(m('client/dev-12'), false);
  assert.equal(glob('topic/?/x')('topic/😀/x'), true);
  assert.equal(glob('topic/??/x')('topic/😀/x'), false);
  assert.equal(glob('*?')(''), false);
  assert.equal(glob('?*?')('ab'), true);
});

test('MQTT + and # are literal characters', () => {
  const plus = glob('topicfilter/a/+/b');
  assert.equal(plus('topicfilter/a/+/b'), true);
  assert.equal(plus('topicfilter/a/x/b'), false);
  const hash = glob('topicfilter/a/#');
  assert.equal(hash('topicfilter/a/#'), true);
  assert.equal(hash('topicfilter/a/b'), false);
  assert.equal(hash('topicfilter/a/b/#'), false);
});

test('${*} ${?} ${$} are the literal characters', () => {
  assert.equal(glob('topic/a${*}')('topic/a*'), true);
  assert.equal(glob('topic/a${*}')('topic/ab'), false);
  assert.equal(glob('topic/a${?}')('topic/a?'), true);
  assert.equal(glob('topic/a${?}')('topic/ab'), false);
  assert.equal(glob('topic/${$}aws/x')('topic/$aws/x'), true);
  // A lone $ is literal too, and ${ without } stays text.
  assert.equal(glob('topic/$aws/${')('topic/$aws/${'), true);
});

test('tokenize merges literals and collapses star runs', () => {
  const t = tokenize('a${*}b***c?${iot:ClientId}', W);
  assert.deepEqual(
    t.map((x) => [x.kind, x.text]),
    [
      [0, 'a*b'],
      [1, '*'],
      [0, 'c'],
      [2, '?'],
      [3, 'iot:ClientId'],
    ],
  );
  const lit = tokenize('a*?${x}', { wildcards: false, variables: false });
  assert.deepEqual(
    lit.map((x) => [x.kind, x.text]),
    [[0, 'a*?${x}']],
  );
});

test('adversarial patterns finish in milliseconds', () => {
  const subject = 'a'.repeat(100_000);
  const cases = [
    '*a'.repeat(2000) + '*b',
    `*${'?'.repeat(3000)}b*`,
    `*${'a'.repeat(5000)}b*`,
    `${'*a?'.repeat(1000)}c`,
    `${'?'.repeat(100)}*${'a*'.repeat(500)}b`,
  ];
  for (const p of cases) {
    const g = compileGlob(p, W);
    const t = performance.now();
    assert.equal(g.match(subject, {}), false);
    assert.ok(performance.now() - t < 500, `${p.slice(0, 20)}… took ${performance.now() - t} ms`);
  }
  // Through the policy engine, with a long request resource.
  const p = named('adv', doc({ Effect: 'Allow', Action: 'iot:Publish', Resource: `arn:aws:iot:r:a:topic/${'*a'.repeat(500)}*b` }));
  const t = performance.now();
  assert.equal(evaluatePolicies([p], 'iot:Publish', `topic/${'a'.repeat(60_000)}`).allowed, false);
  assert.equal(evaluatePolicies([p], 'iot:Publish', `topic/${'a'.repeat(60_000)}b`).allowed, true);
  // Linear matching takes a few ms; backtracking over these inputs would take seconds.
  assert.ok(performance.now() - t < 500);
});

test('property: the matcher agrees with a regular-expression reference', () => {
  const patternChar = fc.constantFrom('a', 'b', '/', '*', '?', '+', '#', '${*}', '${?}', '${$}', '😀');
  const subjectChar = fc.constantFrom('a', 'b', '/', '*', '?', '+', '#', '$', '😀');
  fc.assert(
    fc.property(fc.array(patternChar, { maxLength: 12 }), fc.array(subjectChar, { maxLength: 14 }), (p, s) => {
      const pattern = p.join('');
      const subject = s.join('');
      assert.equal(compileGlob(pattern, W).match(subject, {}), reference(pattern, subject), `${pattern} vs ${subject}`);
    }),
    { numRuns: 3000 },
  );
});

test('property: a subject matches itself with some characters replaced by ? or with * inserted', () => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 30 }),
      fc.array(fc.nat(), { maxLength: 5 }),
      fc.array(fc.nat(), { maxLength: 3 }),
      (subject, stars, qmarks) => {
        // Units: escape the pattern-special characters so each unit is one subject code point.
        const units = Array.from(subject, (c) => (c === '*' || c === '?' || c === '$' ? `\${${c}}` : c));
        for (const q of qmarks) if (units.length > 0) units[q % units.length] = '?';
        for (const st of stars) units.splice(st % (units.length + 1), 0, '*');
        const pattern = units.join('');
        assert.equal(compileGlob(pattern, W).match(subject, {}), true, `${pattern} should match ${subject}`);
      },
    ),
    { numRuns: 1000 },
  );
});

test('resourceIndexKey takes the text up to the second slash', () => {
  assert.equal(resourceIndexKey('topic/$aws/things/x'), 'topic/$aws/');
  assert.equal(resourceIndexKey('client/dev1'), 'client/dev1');
  assert.equal(resourceIndexKey('topic/a/'), 'topic/a/');
  assert.equal(resourceIndexKey('weird'), 'weird');
});
