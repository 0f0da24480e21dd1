/**
 * Forged pagination tokens (issue 17 B): every paginated route of the control plane, found by
 * walking the app's route table (any route whose query schema has `nextToken`, `marker`, `afterId`
 * or `beforeId`), answers a malformed token with 400 InvalidRequestException, on SQLite and on
 * PostgreSQL (where a NUL inside a decoded token used to reach the database and fail with 500).
 *
 * Tokens are arbitrary strings (including NUL and other control characters), invalid UTF-8 percent
 * escapes sent raw on the wire, strings up to ~12 KB (the request head limit is 16 KiB) and
 * valid-looking base64url of garbage JSON, including JSON that mimics fleetprov's own cursors with
 * NUL, lone surrogates and oversized keys.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { RouteOptions } from 'fastify';
import {
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateProvisioningTemplateCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  CreateBillingGroupCommand,
} from '@aws-sdk/client-iot';
import { decodeQueryComponent } from '../../src/api/querystring.js';
import { ADMIN, rawRequest, signForWire, smithySigner } from '../api/helpers.js';
import { requirePostgres } from '../support/postgres.js';
import { fixture, startRoutesEnv, type RoutesEnv } from './helpers.js';

/** Query parameters that carry a position in a list. */
const PAGING_PARAMS = ['nextToken', 'marker', 'afterId', 'beforeId'] as const;

/** A paginated route as walked from the route table. */
interface PagedRoute {
  method: string;
  url: string;
  param: string;
  headers: readonly string[];
}

/** The paginated routes of an app's route table (HEAD twins left out). */
function pagedRoutes(routes: readonly RouteOptions[]): PagedRoute[] {
  const out: PagedRoute[] = [];
  for (const r of routes) {
    const methods = [r.method].flat().filter((m) => m !== 'HEAD');
    const schema = r.schema as {
      querystring?: { properties?: Record<string, unknown> };
      headers?: { properties?: Record<string, unknown> };
    };
    const props = schema?.querystring?.properties ?? {};
    const headers = Object.keys(schema?.headers?.properties ?? {});
    for (const method of methods) {
      for (const param of PAGING_PARAMS) if (param in props) out.push({ method, url: r.url, param, headers });
    }
  }
  return out;
}

/** Values of the path parameters and headers the paginated routes take: resources that exist. */
interface Fixtures {
  params: Record<string, string>;
  headers: Record<string, string>;
}

async function createFixtures(env: RoutesEnv): Promise<Fixtures> {
  const { client } = env;
  const cert = await client.send(new CreateKeysAndCertificateCommand({ setAsActive: false }));
  const certArn = cert.certificateArn ?? '';
  await client.send(new CreateThingCommand({ thingName: 'pt-thing' }));
  await client.send(new CreateThingGroupCommand({ thingGroupName: 'pt-group' }));
  await client.send(new CreateBillingGroupCommand({ billingGroupName: 'pt-billing' }));
  await client.send(new AttachThingPrincipalCommand({ thingName: 'pt-thing', principal: certArn }));
  await client.send(
    new CreatePolicyCommand({
      policyName: 'pt-policy',
      policyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }] }),
    }),
  );
  await client.send(
    new CreateProvisioningTemplateCommand({
      templateName: 'pt-template',
      templateBody: await fixture('templates/birthing-template.json'),
      provisioningRoleArn: 'arn:aws:iam::123456789012:role/provisioning',
    }),
  );
  return {
    params: {
      thingName: 'pt-thing',
      thingGroupName: 'pt-group',
      billingGroupName: 'pt-billing',
      policyName: 'pt-policy',
      templateName: 'pt-template',
      target: certArn,
      // ListCertificatesByCA answers an empty page for a CA it does not hold.
      caCertificateId: '0'.repeat(64),
    },
    headers: { 'x-amzn-principal': certArn, 'x-amzn-iot-principal': certArn, 'x-amzn-iot-policy': 'pt-policy' },
  };
}

/** The wire path of a route with its parameters filled in. */
function routePath(route: PagedRoute, fixtures: Fixtures): string {
  return route.url.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
    const value = fixtures.params[name];
    if (value === undefined) throw new Error(`no fixture for path parameter :${name} of ${route.method} ${route.url}; add one`);
    return encodeURIComponent(value);
  });
}

const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const LIST_KINDS = [
  'things',
  'thing-types',
  'thing-groups',
  'group-things',
  'thing-groups-of',
  'thing-principals',
  'templates',
  'policies',
  'certs-asc',
  'rotations',
];

/** A forged token: `wire` is how it travels in the query string (already percent-encoded). */
interface ForgedToken {
  wire: string;
  label: string;
}

const escapeComponent = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
/** Strings that can be sent as UTF-8 (lone surrogates cannot; they appear below as raw escapes). */
const wellFormed = (s: string) => !/\p{Cs}/u.test(s);

const forgedTokens: fc.Arbitrary<ForgedToken> = fc.oneof(
  // arbitrary text, NUL and control characters included
  fc
    .string({ unit: 'binary', minLength: 1, maxLength: 64 })
    .filter(wellFormed)
    .map((s) => ({ wire: escapeComponent(s), label: 'text' })),
  fc
    .array(fc.constantFrom('\u0000', '\u0001', '\u001f', '\u007f', 'a', '=', '%', '&', '+', '/', ' '), { minLength: 1, maxLength: 16 })
    .map((a) => ({ wire: escapeComponent(a.join('')), label: 'control' })),
  // invalid UTF-8 sent raw (lone continuation bytes, overlongs, surrogates, truncated sequences)
  fc
    .array(fc.constantFrom('%FF', '%FE', '%C0%AF', '%ED%A0%80', '%E2%82', '%80', '%F4%90%80%80', '%00', 'A', '%2'), {
      minLength: 1,
      maxLength: 12,
    })
    .map((a) => ({ wire: a.join(''), label: 'bad-utf8' })),
  // huge (under the 16 KiB request head, over the 8192-character token limit, or just under it)
  fc
    .tuple(fc.integer({ min: 8000, max: 12_000 }), fc.constantFrom('A', 'a', '-', '_', 'Z'))
    .map(([n, c]) => ({ wire: c.repeat(n), label: 'huge' })),
  // base64url of garbage
  fc.string({ unit: 'binary', maxLength: 200 }).map((s) => ({ wire: base64url(s) || 'AA', label: 'b64-garbage' })),
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => ({ wire: Buffer.from(b).toString('base64url'), label: 'b64-bytes' })),
  // base64url of cursor-shaped JSON with hostile keys
  fc
    .tuple(
      fc.constantFrom(...LIST_KINDS),
      fc.array(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 20 }).map((s) => `${s}\u0000${s}`),
          fc.constant('\ud800'),
          fc.constant('x'.repeat(3000)),
          fc.constant('é'.repeat(1500)),
          fc.integer(),
          fc.double(),
          fc.constant(null),
          fc.constant(Number.MAX_SAFE_INTEGER + 2),
          fc.string({ maxLength: 10 }),
        ),
        { maxLength: 3 },
      ),
    )
    .map(([k, v]) => ({ wire: base64url(JSON.stringify({ k, v })), label: 'cursor-json' })),
  fc.jsonValue().map((j) => ({ wire: base64url(JSON.stringify(j) ?? 'null'), label: 'json' })),
);

/** Sends `route` with `token` (raw on the wire), signed as the SDK signs the value the server decodes. */
async function sendForged(env: RoutesEnv, route: PagedRoute, fixtures: Fixtures, token: ForgedToken) {
  const path = routePath(route, fixtures);
  const headers: Record<string, string> = {};
  for (const h of route.headers) {
    const value = fixtures.headers[h];
    if (value === undefined) throw new Error(`no fixture for header ${h} of ${route.method} ${route.url}`);
    headers[h] = value;
  }
  const decoded = decodeQueryComponent(token.wire);
  const signed = await signForWire(
    env.baseUrl,
    { method: route.method, path, query: { [route.param]: decoded }, headers },
    smithySigner(ADMIN),
  );
  return rawRequest(env.baseUrl, {
    method: route.method,
    path: `${path}?${route.param}=${token.wire}`,
    headers: signed.headers,
    ca: env.ca.rootCertificatePem,
  });
}

function suite(dialect: 'sqlite' | 'postgres'): void {
  describe(`forged pagination tokens on every paginated route (${dialect})`, () => {
    let env: RoutesEnv;
    let fixtures: Fixtures;
    let routes: PagedRoute[];

    before(async () => {
      env = await startRoutesEnv({ db: dialect, extensions: true });
      fixtures = await createFixtures(env);
      routes = pagedRoutes(env.routes);
    });
    after(() => env.close());

    it('walks the route table: every list operation is there', () => {
      const names = new Set(routes.map((r) => `${r.method} ${r.url}`));
      for (const expected of [
        'GET /things',
        'GET /thing-groups',
        'GET /thing-types',
        'GET /certificates',
        'GET /policies',
        'GET /provisioning-templates',
        'GET /provisioning-templates/:templateName/versions',
        'GET /cacertificates',
        'POST /policy-targets/:policyName',
        'POST /attached-policies/:target',
        'GET /things/:thingName/principals',
        'GET /principals/things',
        'GET /fleetprov/rotations',
        'GET /fleetprov/events',
      ]) {
        assert.ok(names.has(expected), `${expected} is walked (found: ${[...names].join(', ')})`);
      }
    });

    it('a valid token still pages (the walk sends requests the server accepts)', async () => {
      for (const route of routes.filter((r) => r.param === 'nextToken' || r.param === 'marker')) {
        const res = await sendForged(env, route, fixtures, { wire: '', label: 'empty' });
        assert.equal(res.status, 200, `${route.method} ${route.url} with an empty ${route.param}: ${res.body}`);
      }
    });

    it('known hostile tokens: NUL inside a cursor, lone surrogates, invalid escapes, oversized keys', async () => {
      const hostile: ForgedToken[] = [
        { wire: base64url(JSON.stringify({ k: 'thing-groups', v: ['a\u0000b'] })), label: 'nul' },
        { wire: base64url(JSON.stringify({ k: 'templates', v: ['\u0000'] })), label: 'nul' },
        { wire: base64url(JSON.stringify({ k: 'policies', v: ['\ud800'] })), label: 'surrogate' },
        { wire: base64url(JSON.stringify({ k: 'things', v: ['x'.repeat(5000)] })), label: 'big-key' },
        { wire: '%00', label: 'nul-raw' },
        { wire: '%FF%FE', label: 'bad-utf8' },
        { wire: 'A'.repeat(8193), label: 'too-long' },
      ];
      for (const route of routes) {
        for (const token of hostile) {
          const res = await sendForged(env, route, fixtures, token);
          assert.equal(res.status, 400, `${route.method} ${route.url} ${route.param}=${token.label}: ${res.status} ${res.body}`);
          assert.equal(res.headers['x-amzn-errortype'], 'InvalidRequestException');
        }
      }
    });

    it('property: any forged token on any paginated route is 400 InvalidRequestException', async () => {
      await fc.assert(
        fc.asyncProperty(fc.nat(), forgedTokens, async (pick, token) => {
          const route = routes[pick % routes.length]!;
          const res = await sendForged(env, route, fixtures, token);
          // An empty or accepted token is not forged (e.g. base64 of `{"k":"things","v":["a"]}` on /things).
          if (res.status === 200) return;
          assert.equal(
            res.status,
            400,
            `${route.method} ${route.url} ${route.param} (${token.label}) ${token.wire.slice(0, 80)}: ${res.body}`,
          );
          assert.equal(res.headers['x-amzn-errortype'], 'InvalidRequestException', res.body);
        }),
        { numRuns: 300 },
      );
    });
  });
}

suite('sqlite');
if (await requirePostgres('forged pagination tokens on PostgreSQL')) suite('postgres');
