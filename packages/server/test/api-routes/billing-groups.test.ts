/**
 * Billing groups through the real `@aws-sdk/client-iot`: Create/Describe/List/Update/DeleteBillingGroup,
 * AddThingToBillingGroup, RemoveThingFromBillingGroup, ListThingsInBillingGroup, DescribeThing's
 * `billingGroupName` and CreateThing with a billing group; malformed, oversized, unsigned and
 * replayed requests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AddThingToBillingGroupCommand,
  CreateBillingGroupCommand,
  CreateThingCommand,
  DeleteBillingGroupCommand,
  DeleteThingCommand,
  DescribeBillingGroupCommand,
  DescribeThingCommand,
  ListBillingGroupsCommand,
  ListThingsInBillingGroupCommand,
  RemoveThingFromBillingGroupCommand,
  UpdateBillingGroupCommand,
} from '@aws-sdk/client-iot';
import { ADMIN, rawRequest, signForWire, smithySigner } from '../api/helpers.js';
import { ACCOUNT_ID, REGION, assertUnchanged, expectAwsError, startRoutesEnv, type RoutesEnv } from './helpers.js';
import { assertRawError, assertSigV4Refusals, replaySigned } from './wire.js';

let env: RoutesEnv;
const arn = (name: string): string => `arn:aws:iot:${REGION}:${ACCOUNT_ID}:billinggroup/${name}`;

before(async () => {
  env = await startRoutesEnv();
});
after(() => env.close());

describe('CreateBillingGroup / DescribeBillingGroup / ListBillingGroups', () => {
  it('creates, describes as AWS does, and is idempotent for the same configuration', async () => {
    const created = await env.client.send(
      new CreateBillingGroupCommand({
        billingGroupName: 'bg-east',
        billingGroupProperties: { billingGroupDescription: 'East coast fleet' },
        tags: [{ Key: 'team', Value: 'ops' }],
      }),
    );
    assert.equal(created.billingGroupName, 'bg-east');
    assert.equal(created.billingGroupArn, arn('bg-east'));
    assert.match(created.billingGroupId ?? '', /^[0-9a-f-]{36}$/);
    const d = await env.client.send(new DescribeBillingGroupCommand({ billingGroupName: 'bg-east' }));
    assert.equal(d.billingGroupName, 'bg-east');
    assert.equal(d.billingGroupId, created.billingGroupId);
    assert.equal(d.billingGroupArn, created.billingGroupArn);
    assert.equal(d.version, 1);
    assert.deepEqual(d.billingGroupProperties, { billingGroupDescription: 'East coast fleet' });
    assert.ok(d.billingGroupMetadata?.creationDate instanceof Date);
    assert.ok(Math.abs(d.billingGroupMetadata.creationDate.getTime() - Date.now()) < 60_000);
    const again = await env.client.send(
      new CreateBillingGroupCommand({
        billingGroupName: 'bg-east',
        billingGroupProperties: { billingGroupDescription: 'East coast fleet' },
      }),
    );
    assert.equal(again.billingGroupId, created.billingGroupId);
  });

  it('refuses the same name with another configuration: ResourceAlreadyExistsException with resourceId and resourceArn', async () => {
    const err = await assertUnchangedError(
      () =>
        env.client.send(
          new CreateBillingGroupCommand({ billingGroupName: 'bg-east', billingGroupProperties: { billingGroupDescription: 'West' } }),
        ),
      'ResourceAlreadyExistsException',
      409,
    );
    assert.equal(err.resourceId, 'bg-east');
    assert.equal(err.resourceArn, arn('bg-east'));
  });

  it('a replayed signed CreateBillingGroup is answered like a repeated call (the same group, nothing new)', async () => {
    const body = JSON.stringify({ billingGroupProperties: { billingGroupDescription: 'replayed' } });
    const [first, second] = await replaySigned(env, {
      method: 'POST',
      path: '/billing-groups/bg-replay',
      headers: { 'content-type': 'application/json' },
      body,
    });
    assert.equal(first?.status, 200, first?.body);
    assert.equal(second?.status, 200, second?.body);
    assert.deepEqual(second?.json(), first?.json());
    assert.equal((await env.registry.billingGroups.list({ namePrefixFilter: 'bg-replay' })).items.length, 1);
  });

  it('lists by name with a prefix filter and pages with nextToken', async () => {
    for (const name of ['bg-north', 'bg-south', 'other-group'])
      await env.client.send(new CreateBillingGroupCommand({ billingGroupName: name }));
    const first = await env.client.send(new ListBillingGroupsCommand({ namePrefixFilter: 'bg-', maxResults: 2 }));
    assert.deepEqual(first.billingGroups, [
      { groupName: 'bg-east', groupArn: arn('bg-east') },
      { groupName: 'bg-north', groupArn: arn('bg-north') },
    ]);
    assert.ok(first.nextToken);
    const rest = await env.client.send(
      new ListBillingGroupsCommand({ namePrefixFilter: 'bg-', maxResults: 2, nextToken: first.nextToken }),
    );
    assert.deepEqual(
      rest.billingGroups?.map((g) => g.groupName),
      ['bg-replay', 'bg-south'],
    );
    assert.equal(rest.nextToken, undefined);
    const all = await env.client.send(new ListBillingGroupsCommand({}));
    assert.ok(all.billingGroups?.some((g) => g.groupName === 'other-group'));
  });

  it('malformed and oversized input is InvalidRequestException (413 for a body over the limit); unknown groups are not found', async () => {
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(env.client.send(new CreateBillingGroupCommand({ billingGroupName: 'bad name' })), 'InvalidRequestException', {
        status: 400,
        message: /^billingGroupName "bad name" must match/,
      });
      await expectAwsError(
        env.client.send(new CreateBillingGroupCommand({ billingGroupName: 'b'.repeat(129) })),
        'InvalidRequestException',
        {
          message: /^billingGroupName must be at most 128 characters long\.$/,
        },
      );
      await expectAwsError(
        env.client.send(
          new CreateBillingGroupCommand({
            billingGroupName: 'long-desc',
            billingGroupProperties: { billingGroupDescription: 'd'.repeat(2029) },
          }),
        ),
        'InvalidRequestException',
        { message: /^billingGroupProperties\.billingGroupDescription must be at most 2028 characters long\.$/ },
      );
      await expectAwsError(
        env.client.send(
          new CreateBillingGroupCommand({ billingGroupName: 'ctl', billingGroupProperties: { billingGroupDescription: 'a\u0000b' } }),
        ),
        'InvalidRequestException',
        { message: /billingGroupDescription/ },
      );
      await expectAwsError(
        env.client.send(
          new CreateBillingGroupCommand({
            billingGroupName: 'huge',
            billingGroupProperties: { billingGroupDescription: 'x'.repeat(1024 * 1024 + 16) },
          }),
        ),
        'RequestEntityTooLargeException',
        { status: 413 },
      );
      await expectAwsError(env.client.send(new ListBillingGroupsCommand({ maxResults: 251 })), 'InvalidRequestException', {
        message: /maxResults must be between 1 and 250/,
      });
      await expectAwsError(env.client.send(new ListBillingGroupsCommand({ nextToken: 'not-a-token' })), 'InvalidRequestException');
      await expectAwsError(env.client.send(new DescribeBillingGroupCommand({ billingGroupName: 'ghost' })), 'ResourceNotFoundException', {
        status: 404,
        message: /billing group "ghost" does not exist/,
      });
    });
  });

  it('refuses requests without a valid signature, changing nothing', async () => {
    await assertSigV4Refusals(env, (c) => c.send(new CreateBillingGroupCommand({ billingGroupName: 'unsigned-bg' })));
    await assertSigV4Refusals(env, (c) => c.send(new DescribeBillingGroupCommand({ billingGroupName: 'bg-east' })));
    await assertSigV4Refusals(env, (c) => c.send(new AddThingToBillingGroupCommand({ billingGroupName: 'bg-east', thingName: 'x' })));
    assert.equal(await env.registry.billingGroups.get('unsigned-bg'), null);
  });
});

describe('UpdateBillingGroup / DeleteBillingGroup', () => {
  it('updates with expectedVersion and refuses a stale one with VersionConflictException', async () => {
    await env.client.send(
      new CreateBillingGroupCommand({ billingGroupName: 'bg-upd', billingGroupProperties: { billingGroupDescription: 'v1' } }),
    );
    const u = await env.client.send(
      new UpdateBillingGroupCommand({
        billingGroupName: 'bg-upd',
        billingGroupProperties: { billingGroupDescription: 'v2' },
        expectedVersion: 1,
      }),
    );
    assert.equal(u.version, 2);
    await assertUnchangedError(
      () =>
        env.client.send(
          new UpdateBillingGroupCommand({
            billingGroupName: 'bg-upd',
            billingGroupProperties: { billingGroupDescription: 'v3' },
            expectedVersion: 1,
          }),
        ),
      'VersionConflictException',
      409,
    );
    const d = await env.client.send(new DescribeBillingGroupCommand({ billingGroupName: 'bg-upd' }));
    assert.deepEqual([d.version, d.billingGroupProperties?.billingGroupDescription], [2, 'v2']);
    const cleared = await env.client.send(new UpdateBillingGroupCommand({ billingGroupName: 'bg-upd', billingGroupProperties: {} }));
    assert.equal(cleared.version, 3);
    assert.deepEqual((await env.client.send(new DescribeBillingGroupCommand({ billingGroupName: 'bg-upd' }))).billingGroupProperties, {});
    await expectAwsError(
      env.client.send(new UpdateBillingGroupCommand({ billingGroupName: 'ghost', billingGroupProperties: {} })),
      'ResourceNotFoundException',
    );
    await expectAwsError(
      env.client.send(new UpdateBillingGroupCommand({ billingGroupName: 'bg-upd', billingGroupProperties: {}, expectedVersion: 0 })),
      'InvalidRequestException',
      { message: /^expectedVersion must be between 1 and \d+\.$/ },
    );
    await expectAwsError(
      env.client.send(new UpdateBillingGroupCommand({ billingGroupName: 'bg-upd' } as never)),
      'InvalidRequestException',
      { message: /^billingGroupProperties is required\.$/ },
    );
  });

  it('deletes with expectedVersion; deleting a group that does not exist succeeds, as AWS', async () => {
    await assertUnchangedError(
      () => env.client.send(new DeleteBillingGroupCommand({ billingGroupName: 'bg-upd', expectedVersion: 1 })),
      'VersionConflictException',
      409,
    );
    await env.client.send(new DeleteBillingGroupCommand({ billingGroupName: 'bg-upd', expectedVersion: 3 }));
    await expectAwsError(env.client.send(new DescribeBillingGroupCommand({ billingGroupName: 'bg-upd' })), 'ResourceNotFoundException');
    await env.client.send(new DeleteBillingGroupCommand({ billingGroupName: 'bg-upd' }));
    await env.client.send(new DeleteBillingGroupCommand({ billingGroupName: 'never-was', expectedVersion: 4 }));
  });
});

describe('things in billing groups', () => {
  it('CreateThing with a billing group; DescribeThing reports it; an unknown billing group is not found', async () => {
    await env.client.send(new CreateThingCommand({ thingName: 'billed-1', billingGroupName: 'bg-east' }));
    const d = await env.client.send(new DescribeThingCommand({ thingName: 'billed-1' }));
    assert.equal(d.billingGroupName, 'bg-east');
    await assertUnchangedError(
      () => env.client.send(new CreateThingCommand({ thingName: 'billed-2', billingGroupName: 'ghost' })),
      'ResourceNotFoundException',
      404,
    );
  });

  it('adds by name or ARN, moves a thing between groups (one billing group per thing), lists and removes', async () => {
    for (const name of ['m1', 'm2', 'm3']) await env.client.send(new CreateThingCommand({ thingName: name }));
    await env.client.send(new AddThingToBillingGroupCommand({ billingGroupName: 'bg-north', thingName: 'm1' }));
    await env.client.send(
      new AddThingToBillingGroupCommand({ billingGroupArn: arn('bg-north'), thingArn: `arn:aws:iot:${REGION}:${ACCOUNT_ID}:thing/m2` }),
    );
    await env.client.send(new AddThingToBillingGroupCommand({ billingGroupName: 'bg-north', thingName: 'm3' }));
    await env.client.send(new AddThingToBillingGroupCommand({ billingGroupName: 'bg-north', thingName: 'm3' })); // again: fine
    const d = await env.client.send(new DescribeThingCommand({ thingName: 'm1' }));
    assert.deepEqual([d.billingGroupName, d.version], ['bg-north', 1]);
    const page = await env.client.send(new ListThingsInBillingGroupCommand({ billingGroupName: 'bg-north', maxResults: 2 }));
    assert.deepEqual(page.things, ['m1', 'm2']);
    const rest = await env.client.send(new ListThingsInBillingGroupCommand({ billingGroupName: 'bg-north', nextToken: page.nextToken }));
    assert.deepEqual(rest.things, ['m3']);
    assert.equal(rest.nextToken, undefined);

    await env.client.send(new AddThingToBillingGroupCommand({ billingGroupName: 'bg-south', thingName: 'm2' }));
    assert.equal((await env.client.send(new DescribeThingCommand({ thingName: 'm2' }))).billingGroupName, 'bg-south');
    assert.deepEqual((await env.client.send(new ListThingsInBillingGroupCommand({ billingGroupName: 'bg-north' }))).things, ['m1', 'm3']);

    await env.client.send(new RemoveThingFromBillingGroupCommand({ billingGroupName: 'bg-north', thingName: 'm2' })); // not in it: no change
    assert.equal((await env.client.send(new DescribeThingCommand({ thingName: 'm2' }))).billingGroupName, 'bg-south');
    await env.client.send(new RemoveThingFromBillingGroupCommand({ billingGroupArn: arn('bg-north'), thingName: 'm1' }));
    assert.equal((await env.client.send(new DescribeThingCommand({ thingName: 'm1' }))).billingGroupName, undefined);

    await env.client.send(new DeleteThingCommand({ thingName: 'm3' }));
    assert.deepEqual((await env.client.send(new ListThingsInBillingGroupCommand({ billingGroupName: 'bg-north' }))).things, []);
    await env.client.send(new DeleteBillingGroupCommand({ billingGroupName: 'bg-south' }));
    assert.equal((await env.client.send(new DescribeThingCommand({ thingName: 'm2' }))).billingGroupName, undefined);
  });

  it('refuses unknown things and groups, missing or contradicting names and ARNs, and foreign ARNs', async () => {
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(new AddThingToBillingGroupCommand({ billingGroupName: 'ghost', thingName: 'm1' })),
        'ResourceNotFoundException',
        { status: 404 },
      );
      await expectAwsError(
        env.client.send(new AddThingToBillingGroupCommand({ billingGroupName: 'bg-north', thingName: 'ghost' })),
        'ResourceNotFoundException',
      );
      await expectAwsError(
        env.client.send(new RemoveThingFromBillingGroupCommand({ billingGroupName: 'ghost', thingName: 'm1' })),
        'ResourceNotFoundException',
      );
      await expectAwsError(
        env.client.send(new RemoveThingFromBillingGroupCommand({ billingGroupName: 'bg-north', thingName: 'ghost' })),
        'ResourceNotFoundException',
      );
      await expectAwsError(
        env.client.send(new ListThingsInBillingGroupCommand({ billingGroupName: 'ghost' })),
        'ResourceNotFoundException',
      );
      await expectAwsError(env.client.send(new AddThingToBillingGroupCommand({ thingName: 'm1' })), 'InvalidRequestException', {
        message: /^billingGroupName or billingGroupArn is required\.$/,
      });
      await expectAwsError(
        env.client.send(new AddThingToBillingGroupCommand({ billingGroupName: 'bg-north' })),
        'InvalidRequestException',
        {
          message: /^thingName or thingArn is required\.$/,
        },
      );
      await expectAwsError(
        env.client.send(
          new AddThingToBillingGroupCommand({ billingGroupName: 'bg-north', billingGroupArn: arn('bg-east'), thingName: 'm1' }),
        ),
        'InvalidRequestException',
        { message: /name different billing groups/ },
      );
      await expectAwsError(
        env.client.send(
          new AddThingToBillingGroupCommand({
            billingGroupArn: `arn:aws:iot:${REGION}:${ACCOUNT_ID}:thinggroup/bg-north`,
            thingName: 'm1',
          }),
        ),
        'InvalidRequestException',
        { message: /must be a billing group ARN/ },
      );
      await expectAwsError(
        env.client.send(
          new AddThingToBillingGroupCommand({
            billingGroupArn: `arn:aws:iot:us-west-2:${ACCOUNT_ID}:billinggroup/bg-north`,
            thingName: 'm1',
          }),
        ),
        'InvalidRequestException',
        { message: /belongs to region us-west-2/ },
      );
      await expectAwsError(
        env.client.send(new AddThingToBillingGroupCommand({ billingGroupName: 'bg-north', thingName: 'no spaces' })),
        'InvalidRequestException',
        { message: /^thingName "no spaces" must match/ },
      );
    });
  });

  it('a replayed signed AddThingToBillingGroup is harmless; a tampered copy is refused', async () => {
    await env.client.send(new CreateThingCommand({ thingName: 'replayed-thing' }));
    const body = JSON.stringify({ billingGroupName: 'bg-east', thingName: 'replayed-thing' });
    const req = { method: 'PUT', path: '/billing-groups/addThingToBillingGroup', headers: { 'content-type': 'application/json' }, body };
    const [first, second] = await replaySigned(env, req);
    assert.equal(first?.status, 200, first?.body);
    assert.equal(second?.status, 200, second?.body);
    const thing = await env.registry.things.get('replayed-thing');
    assert.deepEqual([thing?.billingGroupName, thing?.version], ['bg-east', 1]);
    // The same signature over another body: refused before the handler runs.
    const { path, headers } = await signForWire(env.baseUrl, req, smithySigner(ADMIN));
    const tampered = await rawRequest(env.baseUrl, {
      method: 'PUT',
      path,
      headers,
      body: JSON.stringify({ billingGroupName: 'bg-west', thingName: 'replayed-thing' }), // same length as the signed body
      ca: env.ca.rootCertificatePem,
    });
    assertRawError(tampered, 403, 'InvalidSignatureException');
    assert.equal((await env.registry.things.get('replayed-thing'))?.billingGroupName, 'bg-east');
  });
});

/** `call()` must fail with `name` and `status` and leave the registry as it was. */
async function assertUnchangedError(
  call: () => Promise<unknown>,
  name: string,
  status: number,
): Promise<Awaited<ReturnType<typeof expectAwsError>>> {
  let err: Awaited<ReturnType<typeof expectAwsError>> | undefined;
  await assertUnchanged(env.registry, async () => {
    err = await expectAwsError(call(), name, { status });
  });
  assert.ok(err);
  return err;
}
