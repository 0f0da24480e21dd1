/**
 * The console's fleetprov-extension routes (and the two ListThings / ListCertificates query
 * extensions) over real HTTPS with a console session: answers, malformed and oversized input,
 * unauthenticated calls, and that the dry runs (render, simulate, validate) change nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { certInput } from '../registry/helpers.js';
import { snapshot } from '../api-routes/helpers.js';
import { DEVICE_POLICY, DEVICE_TEMPLATE, ROLE_ARN } from '../provisioning/helpers.js';
import { PROVISIONING_EVENT_TYPE } from '../../src/provisioning/request-scope.js';
import { errorType, startConsoleEnv, type ConsoleEnv } from './support.js';

describe('console extension routes', () => {
  let env: ConsoleEnv;
  let headers: Record<string, string>;
  const get = (path: string) => env.send('GET', path, { headers });
  const post = (path: string, body: unknown) => env.send('POST', path, { headers, body });

  before(async () => {
    env = await startConsoleEnv();
    const { cookie, csrf } = await env.login();
    headers = { cookie, 'x-fleetprov-csrf': csrf };
    await env.registry.policies.create({ name: 'device_policy', document: DEVICE_POLICY });
    await env.registry.templates.create({
      name: 'device_template',
      body: DEVICE_TEMPLATE,
      provisioningRoleArn: ROLE_ARN,
      enabled: true,
      type: 'FLEET_PROVISIONING',
    });
    await env.registry.templates.create({
      name: 'off_template',
      body: DEVICE_TEMPLATE,
      provisioningRoleArn: ROLE_ARN,
      enabled: false,
      type: 'FLEET_PROVISIONING',
    });
    await env.registry.certificates.create(certInput('a', { status: 'ACTIVE' }));
    await env.registry.certificates.create(certInput('b', { status: 'INACTIVE' }));
    for (const name of ['born_1', 'born_2', 'other']) await env.registry.things.create({ name, attributes: { kind: 'sensor' } });
  });
  after(() => env.close());

  test('every extension route refuses unauthenticated calls', async () => {
    for (const [method, path] of [
      ['GET', '/fleetprov/stats'],
      ['GET', '/fleetprov/console/events'],
      ['GET', '/fleetprov/trust-anchor'],
      ['POST', '/fleetprov/templates/validate'],
      ['POST', '/fleetprov/templates/render'],
      ['POST', '/fleetprov/policies/validate'],
      ['POST', '/fleetprov/policies/simulate'],
    ]) {
      const res = await env.send(method!, path!, method === 'POST' ? { body: {} } : {});
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(errorType(res), 'MissingAuthenticationTokenException');
    }
  });

  test('stats: counts and provisioning requests per bucket and outcome from the event log', async () => {
    const now = Date.now();
    await env.registry.events.append({ type: PROVISIONING_EVENT_TYPE, outcome: 'accepted', at: now - 120_000 });
    await env.registry.events.append({ type: PROVISIONING_EVENT_TYPE, outcome: 'accepted', at: now - 119_000 });
    await env.registry.events.append({ type: PROVISIONING_EVENT_TYPE, outcome: 'rejected', errorCode: 'Throttling', at: now - 60_000 });
    await env.registry.events.append({ type: 'sweeper', outcome: 'info', at: now - 60_000 });
    await env.registry.events.append({ type: PROVISIONING_EVENT_TYPE, outcome: 'accepted', at: now - 2 * 3600_000 });
    const res = await get('/fleetprov/stats?windowSeconds=3600&bucketSeconds=60');
    assert.equal(res.status, 200, res.body);
    const stats = res.json() as {
      things: number;
      certificatesByStatus: Record<string, number>;
      templates: { total: number; enabled: number };
      policies: { total: number };
      provisioning: { bucketSeconds: number; since: number; buckets: Array<{ start: number; outcome: string; count: number }> };
    };
    assert.equal(stats.things, 3);
    assert.equal(stats.certificatesByStatus.ACTIVE, 1);
    assert.equal(stats.certificatesByStatus.INACTIVE, 1);
    assert.deepEqual(stats.templates, { total: 2, enabled: 1, capped: false });
    assert.equal(stats.policies.total, 1);
    assert.equal(stats.provisioning.bucketSeconds, 60);
    const sum = (outcome: string) => stats.provisioning.buckets.filter((b) => b.outcome === outcome).reduce((a, b) => a + b.count, 0);
    assert.equal(sum('accepted'), 2, 'the event two hours ago is outside the window');
    assert.equal(sum('rejected'), 1);
    assert.equal(sum('info'), 0, 'only provisioning events are counted');
    for (const b of stats.provisioning.buckets) assert.equal(b.start % 60, 0);
    for (const bad of [
      'windowSeconds=10',
      'windowSeconds=abc',
      'bucketSeconds=0',
      'windowSeconds=604800&bucketSeconds=1',
      `windowSeconds=${'9'.repeat(30)}`,
    ]) {
      const r = await get(`/fleetprov/stats?${bad}`);
      assert.equal(r.status, 400, bad);
      assert.equal(errorType(r), 'InvalidRequestException');
    }
  });

  test('events: newest first, filtered, paged with nextBeforeId; malformed filters are refused', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 5; i++)
      ids.push(
        (
          await env.registry.events.append({
            type: PROVISIONING_EVENT_TYPE,
            outcome: 'rejected',
            thingName: 'paged',
            errorCode: 'InvalidPayload',
            message: `no ${i}`,
          })
        ).id,
      );
    const first = (await get('/fleetprov/console/events?thingName=paged&limit=2')).json() as {
      events: Array<{ id: number; message: string; at: number }>;
      nextBeforeId?: number;
    };
    assert.deepEqual(
      first.events.map((e) => e.id),
      [ids[4], ids[3]],
    );
    assert.equal(first.nextBeforeId, ids[3]);
    assert.ok(first.events[0]!.at > 1e9 && first.events[0]!.at < 1e11, 'times are epoch seconds');
    const second = (await get(`/fleetprov/console/events?thingName=paged&limit=2&beforeId=${first.nextBeforeId}`)).json() as {
      events: Array<{ id: number }>;
      nextBeforeId?: number;
    };
    assert.deepEqual(
      second.events.map((e) => e.id),
      [ids[2], ids[1]],
    );
    const last = (await get(`/fleetprov/console/events?thingName=paged&limit=2&beforeId=${second.nextBeforeId}`)).json() as {
      events: Array<{ id: number }>;
      nextBeforeId?: number;
    };
    assert.deepEqual(
      last.events.map((e) => e.id),
      [ids[0]],
    );
    assert.equal(last.nextBeforeId, undefined);
    const accepted = (await get('/fleetprov/console/events?outcome=accepted&limit=1000')).json() as { events: Array<{ outcome: string }> };
    assert.ok(accepted.events.every((e) => e.outcome === 'accepted'));
    for (const bad of [
      'limit=0',
      'limit=1001',
      'outcome=maybe',
      'certificateId=xyz',
      'thingName=has%20space',
      'beforeId=-1',
      `thingName=${'a'.repeat(200)}`,
    ]) {
      assert.equal((await get(`/fleetprov/console/events?${bad}`)).status, 400, bad);
    }
  });

  test('templates/validate: the engine error at its JSON path; malformed and oversized bodies refused', async () => {
    const ok = (await post('/fleetprov/templates/validate', { templateBody: DEVICE_TEMPLATE })).json() as {
      valid: boolean;
      parameters: string[];
    };
    assert.equal(ok.valid, true);
    assert.deepEqual([...ok.parameters].sort(), ['AWS::IoT::Certificate::Id', 'SerialNumber']);
    const broken = JSON.parse(DEVICE_TEMPLATE) as { Resources: { thing: { Properties: Record<string, unknown> } } };
    broken.Resources.thing.Properties.ThingName = { Ref: 'Nope' };
    const bad = (await post('/fleetprov/templates/validate', { templateBody: JSON.stringify(broken) })).json() as {
      valid: boolean;
      error: { code: string; path: string; detail: string };
    };
    assert.equal(bad.valid, false);
    assert.equal(bad.error.code, 'InvalidTemplate');
    assert.equal(bad.error.path, 'Resources.thing.Properties.ThingName');
    assert.match(bad.error.detail, /undeclared parameter "Nope"/);
    for (const body of [{}, { templateBody: 42 }, { templateBody: 'x'.repeat(10_241) }, { templateBody: DEVICE_TEMPLATE, type: 'OTHER' }]) {
      assert.equal((await post('/fleetprov/templates/validate', body)).status, 400, JSON.stringify(body).slice(0, 80));
    }
    assert.equal(
      (await env.send('POST', '/fleetprov/templates/validate', { headers: { ...headers, 'content-type': 'text/plain' }, body: 'hello' }))
        .status,
      400,
    );
  });

  test('templates/render: the plan against current things, changing nothing; bad input refused', async () => {
    const before = await snapshot(env.registry);
    const fresh = (
      await post('/fleetprov/templates/render', { templateName: 'device_template', parameters: { SerialNumber: '9' } })
    ).json() as { valid: boolean; plan: { thing: { thingName: string; action: string } }; existingThing: boolean };
    assert.equal(fresh.valid, true);
    assert.equal(fresh.plan.thing.thingName, 'born_9');
    assert.equal(fresh.plan.thing.action, 'create');
    assert.equal(fresh.existingThing, false);
    const existing = (
      await post('/fleetprov/templates/render', { templateBody: DEVICE_TEMPLATE, parameters: { SerialNumber: '1' } })
    ).json() as { plan: { thing: { action: string } }; existingThing: boolean };
    assert.equal(existing.existingThing, true, 'born_1 exists');
    assert.notEqual(existing.plan.thing.action, 'create');
    const missing = (await post('/fleetprov/templates/render', { templateBody: DEVICE_TEMPLATE, parameters: {} })).json() as {
      valid: boolean;
      error: { code: string };
    };
    assert.equal(missing.valid, false);
    assert.equal(missing.error.code, 'MissingParameter');
    assert.deepEqual(await snapshot(env.registry), before, 'rendering created or changed nothing');
    assert.equal((await post('/fleetprov/templates/render', { templateName: 'nope' })).status, 404);
    for (const body of [
      {},
      { templateName: 'device_template', templateBody: DEVICE_TEMPLATE },
      { templateName: 'device_template', parameters: { SerialNumber: 5 } },
      { templateName: 'device_template', parameters: 'SerialNumber=5' },
      { templateName: 'device_template', certificateId: 'short' },
    ]) {
      assert.equal((await post('/fleetprov/templates/render', body)).status, 400, JSON.stringify(body));
    }
  });

  test('policies/validate and simulate: ALLOW/DENY with the deciding statement; bad input refused; nothing changes', async () => {
    const before = await snapshot(env.registry);
    const valid = (await post('/fleetprov/policies/validate', { policyDocument: DEVICE_POLICY })).json() as {
      valid: boolean;
      statements: number;
    };
    assert.deepEqual([valid.valid, valid.statements], [true, 3]);
    const invalid = (
      await post('/fleetprov/policies/validate', {
        policyDocument: '{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"iot:Connect","Resource":"*"}]}',
      })
    ).json() as { valid: boolean; error: { path: string } };
    assert.equal(invalid.valid, false);
    assert.equal(invalid.error.path, 'Statement[0].Effect');

    const allow = (
      await post('/fleetprov/policies/simulate', {
        policyNames: ['device_policy'],
        clientId: 'born_1',
        thingName: 'born_1',
        action: 'iot:Publish',
        resource: 'topic/$aws/things/born_1/shadow/update',
      })
    ).json() as { decision: string; decidingStatement: { policyName: string; statementIndex: number; effect: string } };
    assert.equal(allow.decision, 'ALLOW');
    assert.deepEqual(allow.decidingStatement, { policyName: 'device_policy', statementIndex: 1, effect: 'Allow' });
    const deny = (
      await post('/fleetprov/policies/simulate', {
        policyNames: ['device_policy'],
        clientId: 'born_1',
        thingName: 'born_1',
        action: 'iot:Publish',
        resource: 'arn:aws:iot:us-east-1:123456789012:topic/$aws/things/born_2/x',
      })
    ).json() as { decision: string; decidingStatement: null };
    assert.equal(deny.decision, 'DENY');
    assert.equal(deny.decidingStatement, null);
    const draft = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'iot:*', Resource: '*' },
        { Sid: 'no', Effect: 'Deny', Action: 'iot:Connect', Resource: '*' },
      ],
    });
    const draftDeny = (
      await post('/fleetprov/policies/simulate', {
        policyDocument: draft,
        draftPolicyName: 'device_policy',
        policyNames: ['device_policy'],
        clientId: 'x',
        action: 'iot:Connect',
        resource: 'client/x',
      })
    ).json() as { decision: string; decidingStatement: { statementIndex: number; sid: string } };
    assert.equal(draftDeny.decision, 'DENY');
    assert.equal(draftDeny.decidingStatement.sid, 'no', 'the draft replaces the stored policy of the same name');
    const badDraft = (
      await post('/fleetprov/policies/simulate', {
        policyDocument: '{"Version":"2012-10-17"}',
        action: 'iot:Connect',
        resource: 'client/x',
      })
    ).json() as { valid: boolean; error: { path: string } };
    assert.equal(badDraft.valid, false);
    assert.equal(
      (await post('/fleetprov/policies/simulate', { policyNames: ['nope'], action: 'iot:Connect', resource: 'client/x' })).status,
      404,
    );
    assert.equal(
      (
        await post('/fleetprov/policies/simulate', {
          policyNames: ['device_policy'],
          thingName: 'ghost',
          action: 'iot:Connect',
          resource: 'client/x',
        })
      ).status,
      404,
    );
    for (const body of [
      { action: 'iot:Connect', resource: 'client/x' },
      { policyNames: ['device_policy'], resource: 'client/x' },
      { policyNames: ['device_policy'], action: 'iot:Connect' },
      { policyNames: Array(11).fill('device_policy'), action: 'iot:Connect', resource: 'client/x' },
      { policyNames: 'device_policy', action: 'iot:Connect', resource: 'client/x' },
      { policyNames: ['device_policy'], action: 'iot Connect!', resource: 'client/x' },
      { policyNames: ['device_policy'], action: 'iot:Connect', resource: 'x'.repeat(3000) },
    ]) {
      assert.equal((await post('/fleetprov/policies/simulate', body)).status, 400, JSON.stringify(body).slice(0, 100));
    }
    assert.deepEqual(await snapshot(env.registry), before, 'simulating created or changed nothing');
  });

  test('ListThings namePrefix and ListCertificates status (the console filters) and the trust anchor', async () => {
    const things = (await get('/things?namePrefix=born_')).json() as { things: Array<{ thingName: string }> };
    assert.deepEqual(
      things.things.map((t) => t.thingName),
      ['born_1', 'born_2'],
    );
    assert.equal((await get('/things?namePrefix=bad%20name')).status, 400);
    const inactive = (await get('/certificates?status=INACTIVE')).json() as { certificates: Array<{ status: string }> };
    assert.deepEqual(
      inactive.certificates.map((c) => c.status),
      ['INACTIVE'],
    );
    assert.equal((await get('/certificates?status=SLEEPY')).status, 400);
    const anchor = (await get('/fleetprov/trust-anchor')).json() as { rootCertificatePem: string; endpointAddress: string };
    assert.equal(anchor.rootCertificatePem, env.ca.rootCertificatePem);
    assert.equal(anchor.endpointAddress, 'localhost');
  });
});
