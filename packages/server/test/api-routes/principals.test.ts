/**
 * Thing-principal operations through the real AWS SDK (principal in `x-amzn-principal`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  DetachThingPrincipalCommand,
  ListPrincipalThingsCommand,
  ListPrincipalThingsV2Command,
  ListThingPrincipalsCommand,
  ListThingPrincipalsV2Command,
} from '@aws-sdk/client-iot';
import { ACCOUNT_ID, REGION, assertUnchanged, expectAwsError, startRoutesEnv, type RoutesEnv } from './helpers.js';

let env: RoutesEnv;
let certA: string;
let certB: string;

before(async () => {
  env = await startRoutesEnv();
  certA = (await env.client.send(new CreateKeysAndCertificateCommand({ setAsActive: true }))).certificateArn ?? '';
  certB = (await env.client.send(new CreateKeysAndCertificateCommand({ setAsActive: true }))).certificateArn ?? '';
  for (const thingName of ['t1', 't2', 't3']) await env.client.send(new CreateThingCommand({ thingName }));
});
after(() => env.close());

describe('thing principals', () => {
  it('attaches certificates to things and lists both directions with paging', async () => {
    await env.client.send(new AttachThingPrincipalCommand({ thingName: 't1', principal: certA }));
    await env.client.send(new AttachThingPrincipalCommand({ thingName: 't1', principal: certB }));
    await env.client.send(new AttachThingPrincipalCommand({ thingName: 't2', principal: certA }));
    await env.client.send(new AttachThingPrincipalCommand({ thingName: 't2', principal: certA })); // idempotent

    const principals = await env.client.send(new ListThingPrincipalsCommand({ thingName: 't1' }));
    assert.deepEqual([...(principals.principals ?? [])].sort(), [certA, certB].sort());
    const first = await env.client.send(new ListThingPrincipalsCommand({ thingName: 't1', maxResults: 1 }));
    assert.equal(first.principals?.length, 1);
    assert.ok(first.nextToken);
    const second = await env.client.send(new ListThingPrincipalsCommand({ thingName: 't1', maxResults: 1, nextToken: first.nextToken }));
    assert.equal(second.nextToken, undefined);
    assert.deepEqual([...(first.principals ?? []), ...(second.principals ?? [])].sort(), [certA, certB].sort());

    const things = await env.client.send(new ListPrincipalThingsCommand({ principal: certA }));
    assert.deepEqual(things.things, ['t1', 't2']);
    const paged = await env.client.send(new ListPrincipalThingsCommand({ principal: certA, maxResults: 1 }));
    assert.deepEqual(paged.things, ['t1']);
    const rest = await env.client.send(new ListPrincipalThingsCommand({ principal: certA, maxResults: 1, nextToken: paged.nextToken }));
    assert.deepEqual(rest.things, ['t2']);
  });

  it('enforces exclusive attachment', async () => {
    await assertUnchanged(env.registry, () =>
      expectAwsError(
        env.client.send(new AttachThingPrincipalCommand({ thingName: 't3', principal: certA, thingPrincipalType: 'EXCLUSIVE_THING' })),
        'InvalidRequestException',
        {
          status: 400,
          message: /exclusively/,
        },
      ),
    );
    await env.client.send(new DetachThingPrincipalCommand({ thingName: 't1', principal: certB }));
    await env.client.send(new AttachThingPrincipalCommand({ thingName: 't3', principal: certB, thingPrincipalType: 'EXCLUSIVE_THING' }));
    assert.equal((await env.registry.thingPrincipals.listForPrincipal(certB.slice(-64))).items[0]?.type, 'EXCLUSIVE_THING');
    await assertUnchanged(env.registry, () =>
      expectAwsError(env.client.send(new AttachThingPrincipalCommand({ thingName: 't1', principal: certB })), 'InvalidRequestException', {
        message: /exclusively attached to thing "t3"/,
      }),
    );
  });

  it('V2 listings report the attachment type and filter by it, with paging', async () => {
    const t3 = await env.client.send(new ListThingPrincipalsV2Command({ thingName: 't3' }));
    assert.deepEqual(t3.thingPrincipalObjects, [{ principal: certB, thingPrincipalType: 'EXCLUSIVE_THING' }]);
    const t3Shared = await env.client.send(
      new ListThingPrincipalsV2Command({ thingName: 't3', thingPrincipalType: 'NON_EXCLUSIVE_THING' }),
    );
    assert.deepEqual(t3Shared.thingPrincipalObjects, []);
    const byA = await env.client.send(
      new ListPrincipalThingsV2Command({ principal: certA, thingPrincipalType: 'NON_EXCLUSIVE_THING', maxResults: 1 }),
    );
    assert.deepEqual(byA.principalThingObjects, [{ thingName: 't1', thingPrincipalType: 'NON_EXCLUSIVE_THING' }]);
    const rest = await env.client.send(
      new ListPrincipalThingsV2Command({ principal: certA, thingPrincipalType: 'NON_EXCLUSIVE_THING', nextToken: byA.nextToken }),
    );
    assert.deepEqual(rest.principalThingObjects, [{ thingName: 't2', thingPrincipalType: 'NON_EXCLUSIVE_THING' }]);
    assert.equal(rest.nextToken, undefined);
    const exclusiveB = await env.client.send(new ListPrincipalThingsV2Command({ principal: certB, thingPrincipalType: 'EXCLUSIVE_THING' }));
    assert.deepEqual(exclusiveB.principalThingObjects, [{ thingName: 't3', thingPrincipalType: 'EXCLUSIVE_THING' }]);
    await expectAwsError(
      env.client.send(new ListThingPrincipalsV2Command({ thingName: 't3', thingPrincipalType: 'SHARED' as never })),
      'InvalidRequestException',
      {
        message: /thingPrincipalType must be one of/,
      },
    );
    await expectAwsError(env.client.send(new ListThingPrincipalsV2Command({ thingName: 'ghost' })), 'ResourceNotFoundException', {
      status: 404,
    });
    await expectAwsError(
      env.client.send(new ListPrincipalThingsV2Command({ principal: `arn:aws:iot:${REGION}:${ACCOUNT_ID}:cert/${'d'.repeat(64)}` })),
      'ResourceNotFoundException',
    );
    await expectAwsError(env.client.send(new ListPrincipalThingsV2Command({ principal: 'not-an-arn' })), 'InvalidRequestException', {
      message: /principal/,
    });
  });

  it('detaches', async () => {
    await env.client.send(new DetachThingPrincipalCommand({ thingName: 't2', principal: certA }));
    assert.deepEqual((await env.client.send(new ListPrincipalThingsCommand({ principal: certA }))).things, ['t1']);
    await env.client.send(new DetachThingPrincipalCommand({ thingName: 't2', principal: certA })); // not attached: fine
  });

  it('refuses unknown things and certificates and principals that are not certificate ARNs', async () => {
    const unknownCert = `arn:aws:iot:${REGION}:${ACCOUNT_ID}:cert/${'c'.repeat(64)}`;
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(new AttachThingPrincipalCommand({ thingName: 'ghost', principal: certA })),
        'ResourceNotFoundException',
        { status: 404 },
      );
      await expectAwsError(
        env.client.send(new AttachThingPrincipalCommand({ thingName: 't1', principal: unknownCert })),
        'ResourceNotFoundException',
      );
      await expectAwsError(
        env.client.send(new DetachThingPrincipalCommand({ thingName: 'ghost', principal: certA })),
        'ResourceNotFoundException',
      );
      await expectAwsError(
        env.client.send(new DetachThingPrincipalCommand({ thingName: 't1', principal: unknownCert })),
        'ResourceNotFoundException',
      );
      await expectAwsError(env.client.send(new ListThingPrincipalsCommand({ thingName: 'ghost' })), 'ResourceNotFoundException');
      await expectAwsError(env.client.send(new ListPrincipalThingsCommand({ principal: unknownCert })), 'ResourceNotFoundException');
      await expectAwsError(
        env.client.send(new AttachThingPrincipalCommand({ thingName: 't1', principal: 'us-east-1:0f0e0d0c-0b0a-0908-0706-050403020100' })),
        'InvalidRequestException',
        { message: /principal/ },
      );
      await expectAwsError(
        env.client.send(new AttachThingPrincipalCommand({ thingName: 't1', principal: `arn:aws:iot:${REGION}:${ACCOUNT_ID}:thing/t2` })),
        'InvalidRequestException',
        { message: /certificate ARN/ },
      );
      await expectAwsError(
        env.client.send(new AttachThingPrincipalCommand({ thingName: 't1', principal: certA, thingPrincipalType: 'SHARED' as never })),
        'InvalidRequestException',
        { message: /thingPrincipalType must be one of/ },
      );
    });
  });
});
