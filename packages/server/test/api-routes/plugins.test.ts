/**
 * The control plane as Fastify plugins: route-schema violations reach the real
 * `@aws-sdk/client-iot` as AWS's InvalidRequestException, and the SigV4 scope covers every route
 * but the public ones, checked by walking every route the real assembly (api/control-plane.ts)
 * registers, so a route added later cannot be forgotten.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import {
  CreatePolicyCommand,
  CreateProvisioningTemplateCommand,
  CreateThingCommand,
  InvalidRequestException,
  ListThingPrincipalsV2Command,
  UpdateCertificateCommand,
  UpdateThingCommand,
} from '@aws-sdk/client-iot';
import { buildApiApp, type ApiApp } from '../../src/api/app.js';
import { registerControlPlane } from '../../src/api/control-plane.js';
import { staticCredentialStore } from '../../src/api/credentials.js';
import { ConsoleSessions } from '../../src/console/index.js';
import type { RotationService } from '../../src/rotation/index.js';
import { ADMIN, rawRequest } from '../api/helpers.js';
import { expectAwsError, startRoutesEnv, type RoutesEnv } from './helpers.js';

describe('route schemas answer AWS InvalidRequestException through the SDK', () => {
  let env: RoutesEnv;
  before(async () => {
    env = await startRoutesEnv();
  });
  after(() => env.close());

  it('a path parameter that breaks its pattern (CreateThing)', async () => {
    const err = await expectAwsError(env.client.send(new CreateThingCommand({ thingName: 'bad name!' })), 'InvalidRequestException', {
      status: 400,
      message: /^thingName "bad name!" must match \[a-zA-Z0-9:_-\]\+\.$/,
    });
    assert.ok(err instanceof InvalidRequestException);
    assert.equal(await env.registry.things.get('bad name!'), null);
  });

  it('a body member too long (CreateProvisioningTemplate) or of the wrong name (CreatePolicy)', async () => {
    await expectAwsError(
      env.client.send(
        new CreateProvisioningTemplateCommand({ templateName: 't'.repeat(37), templateBody: '{}', provisioningRoleArn: 'arn:r' }),
      ),
      'InvalidRequestException',
      { status: 400, message: /^templateName must be at most 36 characters long\.$/ },
    );
    await expectAwsError(
      env.client.send(new CreatePolicyCommand({ policyName: 'no spaces', policyDocument: '{}' })),
      'InvalidRequestException',
      {
        status: 400,
        message: /^policyName "no spaces" must match/,
      },
    );
  });

  it('a body integer out of range (UpdateThing expectedVersion)', async () => {
    await env.client.send(new CreateThingCommand({ thingName: 'schema-t1' }));
    await expectAwsError(
      env.client.send(new UpdateThingCommand({ thingName: 'schema-t1', expectedVersion: 0 })),
      'InvalidRequestException',
      {
        status: 400,
        message: /^expectedVersion must be between 1 and \d+\.$/,
      },
    );
  });

  it('a query enumeration (UpdateCertificate newStatus, ListThingPrincipalsV2 thingPrincipalType)', async () => {
    await expectAwsError(
      env.client.send(new UpdateCertificateCommand({ certificateId: 'a'.repeat(64), newStatus: 'BOGUS' as 'ACTIVE' })),
      'InvalidRequestException',
      { status: 400, message: /^newStatus must be one of ACTIVE, INACTIVE, REVOKED/ },
    );
    await expectAwsError(
      env.client.send(new ListThingPrincipalsV2Command({ thingName: 'schema-t1', thingPrincipalType: 'SHARED' as never })),
      'InvalidRequestException',
      { status: 400, message: /^thingPrincipalType must be one of EXCLUSIVE_THING, NON_EXCLUSIVE_THING\.$/ },
    );
  });
});

/** Routes served without a signature: the probes, the metrics and the console's own pages. */
const PUBLIC_ROUTES = new Set([
  '/healthz',
  '/readyz',
  '/metrics',
  '/console',
  '/console/',
  '/console/assets/*',
  '/console/api/login',
  '/console/api/session',
  '/console/api/logout',
]);

describe('the SigV4 scope', () => {
  let env: RoutesEnv;
  let app: ApiApp;
  let baseUrl: string;
  // The probes are registered by buildApiApp itself, before a hook can see them.
  const routes: Array<{ method: string; url: string }> = [
    { method: 'GET', url: '/healthz' },
    { method: 'GET', url: '/readyz' },
  ];

  before(async () => {
    env = await startRoutesEnv();
    app = buildApiApp({ region: env.ctx.region, accountId: env.ctx.accountId });
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) routes.push({ method, url: route.url });
    });
    await registerControlPlane(app, {
      context: env.ctx,
      credentials: staticCredentialStore([ADMIN]),
      sessions: new ConsoleSessions(),
      // Never called: an unsigned request is refused before any handler runs.
      rotation: {} as RotationService,
      metrics: null,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await app.close();
    await env.close();
  });

  it('every route but the public ones refuses an unsigned request; the public ones answer it', async () => {
    assert.ok(routes.filter((r) => !PUBLIC_ROUTES.has(r.url)).length > 60, `only ${routes.length} routes registered`);
    assert.deepEqual(
      new Set(routes.filter((r) => PUBLIC_ROUTES.has(r.url)).map((r) => r.url)),
      PUBLIC_ROUTES,
      'every public route is registered',
    );
    for (const { method, url } of routes) {
      const path = url.replace(/:[A-Za-z]+/g, 'x').replace('*', 'x');
      const res = await rawRequest(baseUrl, {
        method,
        path,
        ...(method === 'GET' || method === 'HEAD'
          ? {}
          : { headers: { 'content-type': 'application/json', 'content-length': '2' }, body: '{}' }),
      });
      const errorType = res.headers['x-amzn-errortype'];
      if (PUBLIC_ROUTES.has(url)) {
        // Public routes may refuse for their own reasons (no CSRF header, no metrics token), never for a missing signature.
        assert.notEqual(errorType, 'MissingAuthenticationTokenException', `${method} ${url} is public`);
      } else {
        assert.equal(res.status, 403, `${method} ${url} must require a signature`);
        assert.equal(errorType, 'MissingAuthenticationTokenException', `${method} ${url} must require a signature`);
      }
    }
  });

  it('the walk covers the operations added for issue 17 (principal policies, billing groups, role aliases, ...)', () => {
    const walked = new Set(routes.map((r) => `${r.method} ${r.url}`));
    const added = [
      'PUT /principal-policies/:policyName', // AttachPrincipalPolicy
      'DELETE /principal-policies/:policyName', // DetachPrincipalPolicy
      'GET /principal-policies', // ListPrincipalPolicies
      'GET /policy-principals', // ListPolicyPrincipals
      'GET /certificates-by-ca/:caCertificateId', // ListCertificatesByCA
      'DELETE /thing-types/:thingTypeName', // DeleteThingType
      'POST /thing-types/:thingTypeName/deprecate', // DeprecateThingType
      'PUT /thing-groups/updateThingGroupsForThing', // UpdateThingGroupsForThing
      'POST /billing-groups/:billingGroupName', // CreateBillingGroup
      'GET /billing-groups/:billingGroupName', // DescribeBillingGroup
      'GET /billing-groups', // ListBillingGroups
      'PATCH /billing-groups/:billingGroupName', // UpdateBillingGroup
      'DELETE /billing-groups/:billingGroupName', // DeleteBillingGroup
      'PUT /billing-groups/addThingToBillingGroup', // AddThingToBillingGroup
      'PUT /billing-groups/removeThingFromBillingGroup', // RemoveThingFromBillingGroup
      'GET /billing-groups/:billingGroupName/things', // ListThingsInBillingGroup
      'POST /role-aliases/:roleAlias', // CreateRoleAlias
      'GET /role-aliases/:roleAlias', // DescribeRoleAlias
      'GET /role-aliases', // ListRoleAliases
      'PUT /role-aliases/:roleAlias', // UpdateRoleAlias
      'DELETE /role-aliases/:roleAlias', // DeleteRoleAlias
    ];
    for (const route of added) assert.ok(walked.has(route), `${route} is registered and walked for its signature check`);
  });

  it('serves the probes unsigned', async () => {
    const health = await rawRequest(baseUrl, { method: 'GET', path: '/healthz' });
    assert.deepEqual([health.status, health.json()], [200, { status: 'ok' }]);
    const ready = await rawRequest(baseUrl, { method: 'GET', path: '/readyz' });
    assert.deepEqual([ready.status, ready.json()], [200, { status: 'ready' }]);
  });
});
