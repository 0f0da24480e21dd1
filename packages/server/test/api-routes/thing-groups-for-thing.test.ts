/**
 * UpdateThingGroupsForThing through the real `@aws-sdk/client-iot`: removals and additions in one
 * transaction (all or nothing); malformed, oversized, unsigned and replayed requests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateThingCommand,
  CreateThingGroupCommand,
  ListThingGroupsForThingCommand,
  UpdateThingGroupsForThingCommand,
} from '@aws-sdk/client-iot';
import { assertUnchanged, expectAwsError, startRoutesEnv, type RoutesEnv } from './helpers.js';
import { assertSigV4Refusals, replaySigned } from './wire.js';

let env: RoutesEnv;

before(async () => {
  env = await startRoutesEnv();
  await env.client.send(new CreateThingCommand({ thingName: 'dev' }));
  for (const thingGroupName of ['g-a', 'g-b', 'g-c']) await env.client.send(new CreateThingGroupCommand({ thingGroupName }));
  await env.client.send(new CreateThingGroupCommand({ thingGroupName: 'g-a-child', parentGroupName: 'g-a' }));
});
after(() => env.close());

async function groupsOf(thingName: string): Promise<string[]> {
  const out = await env.client.send(new ListThingGroupsForThingCommand({ thingName }));
  return (out.thingGroups ?? []).map((g) => g.groupName ?? '');
}

describe('UpdateThingGroupsForThing', () => {
  it('adds and removes in one call; removals first, so a swap within one hierarchy works', async () => {
    await env.client.send(
      new UpdateThingGroupsForThingCommand({ thingName: 'dev', thingGroupsToAdd: ['g-a', 'g-b'], overrideDynamicGroups: false }),
    );
    assert.deepEqual(await groupsOf('dev'), ['g-a', 'g-b']);
    // g-a-child is in g-a's hierarchy: adding it alone would be refused, swapping works.
    await env.client.send(
      new UpdateThingGroupsForThingCommand({ thingName: 'dev', thingGroupsToAdd: ['g-a-child', 'g-c'], thingGroupsToRemove: ['g-a'] }),
    );
    assert.deepEqual(await groupsOf('dev'), ['g-a-child', 'g-b', 'g-c']);
    await env.client.send(new UpdateThingGroupsForThingCommand({ thingName: 'dev', thingGroupsToRemove: ['g-b', 'g-a'] })); // g-a: not a member, fine
    assert.deepEqual(await groupsOf('dev'), ['g-a-child', 'g-c']);
    await env.client.send(new UpdateThingGroupsForThingCommand({ thingName: 'dev' }));
    assert.deepEqual(await groupsOf('dev'), ['g-a-child', 'g-c']);
  });

  it('is all or nothing: an unknown group or a refused addition leaves every membership as it was', async () => {
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(
          new UpdateThingGroupsForThingCommand({ thingName: 'dev', thingGroupsToRemove: ['g-c'], thingGroupsToAdd: ['ghost'] }),
        ),
        'ResourceNotFoundException',
        { status: 404 },
      );
      await expectAwsError(
        env.client.send(new UpdateThingGroupsForThingCommand({ thingName: 'dev', thingGroupsToRemove: ['ghost'] })),
        'ResourceNotFoundException',
        { message: /thing group "ghost" does not exist/ },
      );
      await expectAwsError(
        env.client.send(
          new UpdateThingGroupsForThingCommand({ thingName: 'dev', thingGroupsToRemove: ['g-c'], thingGroupsToAdd: ['g-a'] }),
        ),
        'InvalidRequestException',
        { message: /same hierarchy/ },
      );
      await expectAwsError(
        env.client.send(new UpdateThingGroupsForThingCommand({ thingName: 'ghost', thingGroupsToAdd: ['g-b'] })),
        'ResourceNotFoundException',
        {
          message: /thing "ghost" does not exist/,
        },
      );
    });
    assert.deepEqual(await groupsOf('dev'), ['g-a-child', 'g-c']);
  });

  it('refuses malformed and oversized input with InvalidRequestException', async () => {
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(new UpdateThingGroupsForThingCommand({ thingGroupsToAdd: ['g-b'] })),
        'InvalidRequestException',
        {
          status: 400,
          message: /^thingName is required\.$/,
        },
      );
      await expectAwsError(
        env.client.send(
          new UpdateThingGroupsForThingCommand({ thingName: 'dev', thingGroupsToAdd: ['g-b'], thingGroupsToRemove: ['g-b'] }),
        ),
        'InvalidRequestException',
        { message: /"g-b" is in both thingGroupsToAdd and thingGroupsToRemove/ },
      );
      await expectAwsError(
        env.client.send(new UpdateThingGroupsForThingCommand({ thingName: 'dev', thingGroupsToAdd: ['bad name'] })),
        'InvalidRequestException',
        { message: /^thingGroupsToAdd\[0\] "bad name" must match/ },
      );
      await expectAwsError(
        env.client.send(
          new UpdateThingGroupsForThingCommand({ thingName: 'dev', thingGroupsToAdd: Array.from({ length: 101 }, (_, i) => `g${i}`) }),
        ),
        'InvalidRequestException',
        { message: /^thingGroupsToAdd must be a list of at most 100 items\.$/ },
      );
      await expectAwsError(
        env.client.send(new UpdateThingGroupsForThingCommand({ thingName: 'dev', thingGroupsToAdd: ['x'.repeat(1024 * 1024 + 16)] })),
        'RequestEntityTooLargeException',
        { status: 413 },
      );
    });
  });

  it('a replayed signed request ends in the same memberships; unsigned requests are refused', async () => {
    const body = JSON.stringify({ thingName: 'dev', thingGroupsToAdd: ['g-b'], thingGroupsToRemove: ['g-c'] });
    const responses = await replaySigned(env, {
      method: 'PUT',
      path: '/thing-groups/updateThingGroupsForThing',
      headers: { 'content-type': 'application/json' },
      body,
    });
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 200],
    );
    assert.deepEqual(await groupsOf('dev'), ['g-a-child', 'g-b']);
    await assertSigV4Refusals(env, (c) => c.send(new UpdateThingGroupsForThingCommand({ thingName: 'dev', thingGroupsToRemove: ['g-b'] })));
  });
});
