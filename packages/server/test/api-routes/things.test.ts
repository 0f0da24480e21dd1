/**
 * Thing, thing-type and thing-group operations through the real AWS SDK.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AddThingToThingGroupCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  CreateThingTypeCommand,
  DeleteThingCommand,
  DeleteThingGroupCommand,
  DescribeThingCommand,
  DescribeThingGroupCommand,
  DescribeThingTypeCommand,
  DetachThingPrincipalCommand,
  ListThingGroupsCommand,
  ListThingGroupsForThingCommand,
  ListThingsCommand,
  ListThingsInThingGroupCommand,
  ListThingTypesCommand,
  RemoveThingFromThingGroupCommand,
  UpdateThingCommand,
  UpdateThingGroupCommand,
} from '@aws-sdk/client-iot';
import { ACCOUNT_ID, REGION, assertUnchanged, expectAwsError, startRoutesEnv, type RoutesEnv } from './helpers.js';

let env: RoutesEnv;

before(async () => {
  env = await startRoutesEnv();
});
after(() => env.close());

const arn = (type: string, name: string) => `arn:aws:iot:${REGION}:${ACCOUNT_ID}:${type}/${name}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('thing types', () => {
  it('creates, describes and lists thing types', async () => {
    const created = await env.client.send(
      new CreateThingTypeCommand({
        thingTypeName: 'sensor',
        thingTypeProperties: { thingTypeDescription: 'A sensor', searchableAttributes: ['serial'] },
      }),
    );
    assert.equal(created.thingTypeName, 'sensor');
    assert.equal(created.thingTypeArn, arn('thingtype', 'sensor'));
    assert.match(created.thingTypeId ?? '', UUID);
    await env.client.send(new CreateThingTypeCommand({ thingTypeName: 'gateway' }));

    const d = await env.client.send(new DescribeThingTypeCommand({ thingTypeName: 'sensor' }));
    assert.equal(d.thingTypeId, created.thingTypeId, 'the id is stable');
    assert.equal(d.thingTypeArn, created.thingTypeArn);
    assert.equal(d.thingTypeProperties?.thingTypeDescription, 'A sensor');
    assert.equal(d.thingTypeMetadata?.deprecated, false);
    assert.ok(d.thingTypeMetadata?.creationDate instanceof Date);

    const all = await env.client.send(new ListThingTypesCommand({}));
    assert.deepEqual(
      all.thingTypes?.map((t) => t.thingTypeName),
      ['gateway', 'sensor'],
    );
    const paged = await env.client.send(new ListThingTypesCommand({ maxResults: 1 }));
    assert.deepEqual(
      paged.thingTypes?.map((t) => t.thingTypeName),
      ['gateway'],
    );
    const next = await env.client.send(new ListThingTypesCommand({ maxResults: 1, nextToken: paged.nextToken }));
    assert.deepEqual(
      next.thingTypes?.map((t) => t.thingTypeName),
      ['sensor'],
    );
    const one = await env.client.send(new ListThingTypesCommand({ thingTypeName: 'sensor' }));
    assert.deepEqual(
      one.thingTypes?.map((t) => t.thingTypeArn),
      [arn('thingtype', 'sensor')],
    );
  });

  it('refuses duplicates and bad input; unknown types are not found', async () => {
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(env.client.send(new CreateThingTypeCommand({ thingTypeName: 'sensor' })), 'ResourceAlreadyExistsException', {
        status: 409,
      });
      await expectAwsError(
        env.client.send(
          new CreateThingTypeCommand({ thingTypeName: 'many', thingTypeProperties: { searchableAttributes: ['a', 'b', 'c', 'd'] } }),
        ),
        'InvalidRequestException',
        { message: /searchableAttributes/ },
      );
      await expectAwsError(env.client.send(new CreateThingTypeCommand({ thingTypeName: 'bad type' })), 'InvalidRequestException', {
        message: /thingTypeName/,
      });
    });
    await expectAwsError(env.client.send(new DescribeThingTypeCommand({ thingTypeName: 'nope' })), 'ResourceNotFoundException', {
      status: 404,
    });
  });
});

describe('things', () => {
  it('creates and describes a thing', async () => {
    const created = await env.client.send(
      new CreateThingCommand({
        thingName: 'dev-1',
        thingTypeName: 'sensor',
        attributePayload: { attributes: { serial: 'SN-1', room: 'lab' } },
      }),
    );
    assert.equal(created.thingName, 'dev-1');
    assert.equal(created.thingArn, arn('thing', 'dev-1'));
    assert.match(created.thingId ?? '', UUID);

    const d = await env.client.send(new DescribeThingCommand({ thingName: 'dev-1' }));
    assert.equal(d.thingName, 'dev-1');
    assert.equal(d.defaultClientId, 'dev-1');
    assert.equal(d.thingId, created.thingId);
    assert.equal(d.thingArn, created.thingArn);
    assert.equal(d.thingTypeName, 'sensor');
    assert.deepEqual(d.attributes, { serial: 'SN-1', room: 'lab' });
    assert.equal(d.version, 1);
    assert.equal(d.billingGroupName, undefined);

    const again = await env.client.send(
      new CreateThingCommand({
        thingName: 'dev-1',
        thingTypeName: 'sensor',
        attributePayload: { attributes: { serial: 'SN-1', room: 'lab' } },
      }),
    );
    assert.equal(again.thingId, created.thingId, 'creating the same thing again is idempotent');
  });

  it('refuses conflicting re-creation, unknown types and bad names or attributes without changing anything', async () => {
    await assertUnchanged(env.registry, async () => {
      const dup = await expectAwsError(
        env.client.send(new CreateThingCommand({ thingName: 'dev-1', attributePayload: { attributes: { serial: 'other' } } })),
        'ResourceAlreadyExistsException',
        { status: 409 },
      );
      assert.equal(dup.resourceId, 'dev-1');
      await expectAwsError(
        env.client.send(new CreateThingCommand({ thingName: 'dev-x', thingTypeName: 'nope' })),
        'ResourceNotFoundException',
      );
      await expectAwsError(env.client.send(new CreateThingCommand({ thingName: 'bad name' })), 'InvalidRequestException', {
        message: /thingName "bad name" must match/,
      });
      await expectAwsError(env.client.send(new CreateThingCommand({ thingName: 't'.repeat(129) })), 'InvalidRequestException', {
        message: /thingName must be at most 128/,
      });
      await expectAwsError(
        env.client.send(new CreateThingCommand({ thingName: 'dev-x', attributePayload: { attributes: { 'bad key': 'v' } } })),
        'InvalidRequestException',
        { message: /attributePayload\.attributes name/ },
      );
      await expectAwsError(
        env.client.send(new CreateThingCommand({ thingName: 'dev-x', attributePayload: { attributes: { k: 'bad value!' } } })),
        'InvalidRequestException',
        { message: /attributePayload\.attributes\["k"\]/ },
      );
    });
    await expectAwsError(env.client.send(new DescribeThingCommand({ thingName: 'ghost' })), 'ResourceNotFoundException', {
      status: 404,
      message: /ghost/,
    });
  });

  it('lists things in pages and filters them', async () => {
    for (let i = 2; i <= 7; i++) {
      await env.client.send(
        new CreateThingCommand({
          thingName: `dev-${i}`,
          ...(i % 2 === 0 ? { thingTypeName: 'gateway' } : {}),
          attributePayload: { attributes: { serial: `SN-${i}` } },
        }),
      );
    }
    const names: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await env.client.send(new ListThingsCommand({ maxResults: 3, ...(nextToken ? { nextToken } : {}) }));
      assert.ok((page.things ?? []).length <= 3);
      for (const t of page.things ?? []) {
        assert.equal(t.thingArn, arn('thing', t.thingName ?? ''));
        assert.equal(typeof t.version, 'number');
        names.push(t.thingName ?? '');
      }
      nextToken = page.nextToken;
      pages++;
    } while (nextToken !== undefined);
    assert.equal(pages, 3);
    assert.deepEqual(names, ['dev-1', 'dev-2', 'dev-3', 'dev-4', 'dev-5', 'dev-6', 'dev-7']);

    const gateways = await env.client.send(new ListThingsCommand({ thingTypeName: 'gateway' }));
    assert.deepEqual(
      gateways.things?.map((t) => t.thingName),
      ['dev-2', 'dev-4', 'dev-6'],
    );
    const bySerial = await env.client.send(new ListThingsCommand({ attributeName: 'serial', attributeValue: 'SN-5' }));
    assert.deepEqual(
      bySerial.things?.map((t) => [t.thingName, t.attributes]),
      [['dev-5', { serial: 'SN-5' }]],
    );
    const byPrefix = await env.client.send(
      new ListThingsCommand({ attributeName: 'serial', attributeValue: 'SN-', usePrefixAttributeValue: true, maxResults: 250 }),
    );
    assert.equal(byPrefix.things?.length, 7);
    await expectAwsError(env.client.send(new ListThingsCommand({ maxResults: 1000 })), 'InvalidRequestException', {
      message: /maxResults must be between 1 and 250/,
    });
  });

  it('updates attributes (replace, merge, remove), the type and checks expectedVersion', async () => {
    await env.client.send(
      new UpdateThingCommand({ thingName: 'dev-1', attributePayload: { attributes: { fw: '1.0' }, merge: true }, expectedVersion: 1 }),
    );
    let d = await env.client.send(new DescribeThingCommand({ thingName: 'dev-1' }));
    assert.deepEqual(d.attributes, { serial: 'SN-1', room: 'lab', fw: '1.0' });
    assert.equal(d.version, 2);

    await env.client.send(new UpdateThingCommand({ thingName: 'dev-1', attributePayload: { attributes: { room: '' }, merge: true } }));
    d = await env.client.send(new DescribeThingCommand({ thingName: 'dev-1' }));
    assert.deepEqual(d.attributes, { serial: 'SN-1', fw: '1.0' });

    await env.client.send(
      new UpdateThingCommand({ thingName: 'dev-1', attributePayload: { attributes: { only: 'this' } }, removeThingType: true }),
    );
    d = await env.client.send(new DescribeThingCommand({ thingName: 'dev-1' }));
    assert.deepEqual(d.attributes, { only: 'this' });
    assert.equal(d.thingTypeName, undefined);
    assert.equal(d.version, 4);

    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(new UpdateThingCommand({ thingName: 'dev-1', attributePayload: { attributes: { x: 'y' } }, expectedVersion: 2 })),
        'VersionConflictException',
        { status: 409 },
      );
      await expectAwsError(
        env.client.send(new UpdateThingCommand({ thingName: 'dev-1', thingTypeName: 'nope' })),
        'ResourceNotFoundException',
      );
      await expectAwsError(
        env.client.send(new UpdateThingCommand({ thingName: 'dev-1', thingTypeName: 'sensor', removeThingType: true })),
        'InvalidRequestException',
      );
      await expectAwsError(
        env.client.send(new UpdateThingCommand({ thingName: 'ghost', attributePayload: { attributes: { a: 'b' } } })),
        'ResourceNotFoundException',
      );
    });
  });

  it('deletes a thing: checks expectedVersion and attached certificates; absent things are fine', async () => {
    const { certificateArn } = await env.client.send(new CreateKeysAndCertificateCommand({}));
    await env.client.send(new AttachThingPrincipalCommand({ thingName: 'dev-7', principal: certificateArn }));
    await assertUnchanged(env.registry, async () => {
      // AWS answers InvalidRequestException here (the model lists no DeleteConflictException for DeleteThing).
      await expectAwsError(env.client.send(new DeleteThingCommand({ thingName: 'dev-7' })), 'InvalidRequestException', {
        status: 400,
        message: /is still attached to one or more principals/,
      });
      await expectAwsError(env.client.send(new DeleteThingCommand({ thingName: 'dev-6', expectedVersion: 9 })), 'VersionConflictException');
    });
    await env.client.send(new DetachThingPrincipalCommand({ thingName: 'dev-7', principal: certificateArn }));
    await env.client.send(new DeleteThingCommand({ thingName: 'dev-7', expectedVersion: 1 }));
    await expectAwsError(env.client.send(new DescribeThingCommand({ thingName: 'dev-7' })), 'ResourceNotFoundException');
    await env.client.send(new DeleteThingCommand({ thingName: 'dev-7' }));
  });
});

describe('thing groups', () => {
  it('creates groups in a hierarchy and describes them', async () => {
    const root = await env.client.send(
      new CreateThingGroupCommand({
        thingGroupName: 'site',
        thingGroupProperties: { thingGroupDescription: 'A site', attributePayload: { attributes: { city: 'Berlin' } } },
      }),
    );
    assert.equal(root.thingGroupArn, arn('thinggroup', 'site'));
    assert.match(root.thingGroupId ?? '', UUID);
    await env.client.send(new CreateThingGroupCommand({ thingGroupName: 'floor-1', parentGroupName: 'site' }));
    await env.client.send(new CreateThingGroupCommand({ thingGroupName: 'room-1', parentGroupName: 'floor-1' }));

    const d = await env.client.send(new DescribeThingGroupCommand({ thingGroupName: 'room-1' }));
    assert.equal(d.thingGroupName, 'room-1');
    assert.equal(d.thingGroupArn, arn('thinggroup', 'room-1'));
    assert.equal(d.version, 1);
    assert.equal(d.thingGroupMetadata?.parentGroupName, 'floor-1');
    assert.deepEqual(d.thingGroupMetadata?.rootToParentThingGroups, [
      { groupName: 'site', groupArn: arn('thinggroup', 'site') },
      { groupName: 'floor-1', groupArn: arn('thinggroup', 'floor-1') },
    ]);
    assert.ok(d.thingGroupMetadata?.creationDate instanceof Date);

    const site = await env.client.send(new DescribeThingGroupCommand({ thingGroupName: 'site' }));
    assert.equal(site.thingGroupProperties?.thingGroupDescription, 'A site');
    assert.deepEqual(site.thingGroupProperties?.attributePayload?.attributes, { city: 'Berlin' });
    assert.equal(site.thingGroupMetadata?.parentGroupName, undefined);
  });

  it('lists groups with parent, prefix and paging', async () => {
    const all = await env.client.send(new ListThingGroupsCommand({}));
    assert.deepEqual(
      all.thingGroups?.map((g) => g.groupName),
      ['floor-1', 'room-1', 'site'],
    );
    assert.equal(all.thingGroups?.[0]?.groupArn, arn('thinggroup', 'floor-1'));
    const children = await env.client.send(new ListThingGroupsCommand({ parentGroup: 'site', recursive: false }));
    assert.deepEqual(
      children.thingGroups?.map((g) => g.groupName),
      ['floor-1'],
    );
    const descendants = await env.client.send(new ListThingGroupsCommand({ parentGroup: 'site', recursive: true }));
    assert.deepEqual(
      descendants.thingGroups?.map((g) => g.groupName),
      ['floor-1', 'room-1'],
    );
    const prefixed = await env.client.send(new ListThingGroupsCommand({ namePrefixFilter: 'ro' }));
    assert.deepEqual(
      prefixed.thingGroups?.map((g) => g.groupName),
      ['room-1'],
    );
    const page = await env.client.send(new ListThingGroupsCommand({ maxResults: 2 }));
    assert.equal(page.thingGroups?.length, 2);
    const rest = await env.client.send(new ListThingGroupsCommand({ maxResults: 2, nextToken: page.nextToken }));
    assert.deepEqual(
      rest.thingGroups?.map((g) => g.groupName),
      ['site'],
    );
  });

  it('updates a group with expectedVersion', async () => {
    const out = await env.client.send(
      new UpdateThingGroupCommand({
        thingGroupName: 'site',
        thingGroupProperties: { attributePayload: { attributes: { zip: '10115' }, merge: true } },
        expectedVersion: 1,
      }),
    );
    assert.equal(out.version, 2);
    const d = await env.client.send(new DescribeThingGroupCommand({ thingGroupName: 'site' }));
    assert.deepEqual(d.thingGroupProperties?.attributePayload?.attributes, { city: 'Berlin', zip: '10115' });
    await assertUnchanged(env.registry, () =>
      expectAwsError(
        env.client.send(
          new UpdateThingGroupCommand({ thingGroupName: 'site', thingGroupProperties: { thingGroupDescription: 'x' }, expectedVersion: 1 }),
        ),
        'VersionConflictException',
      ),
    );
  });

  it('adds things by name or ARN, lists members both ways and removes them', async () => {
    await env.client.send(new AddThingToThingGroupCommand({ thingGroupName: 'room-1', thingName: 'dev-1' }));
    await env.client.send(
      new AddThingToThingGroupCommand({ thingGroupArn: arn('thinggroup', 'floor-1'), thingArn: arn('thing', 'dev-2') }),
    );
    const room = await env.client.send(new ListThingsInThingGroupCommand({ thingGroupName: 'room-1' }));
    assert.deepEqual(room.things, ['dev-1']);
    const siteAll = await env.client.send(new ListThingsInThingGroupCommand({ thingGroupName: 'site', recursive: true }));
    assert.deepEqual(siteAll.things, ['dev-1', 'dev-2']);
    const groups = await env.client.send(new ListThingGroupsForThingCommand({ thingName: 'dev-1' }));
    assert.deepEqual(groups.thingGroups, [{ groupName: 'room-1', groupArn: arn('thinggroup', 'room-1') }]);

    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(new AddThingToThingGroupCommand({ thingGroupName: 'ghost', thingName: 'dev-1' })),
        'ResourceNotFoundException',
      );
      await expectAwsError(
        env.client.send(new AddThingToThingGroupCommand({ thingGroupName: 'room-1', thingName: 'ghost' })),
        'ResourceNotFoundException',
      );
      await expectAwsError(env.client.send(new AddThingToThingGroupCommand({ thingName: 'dev-1' })), 'InvalidRequestException', {
        message: /thingGroupName or thingGroupArn/,
      });
      await expectAwsError(
        env.client.send(new AddThingToThingGroupCommand({ thingGroupArn: arn('thing', 'dev-1'), thingName: 'dev-1' })),
        'InvalidRequestException',
        { message: /thing group ARN/ },
      );
      await expectAwsError(env.client.send(new ListThingGroupsForThingCommand({ thingName: 'ghost' })), 'ResourceNotFoundException');
      await expectAwsError(env.client.send(new ListThingsInThingGroupCommand({ thingGroupName: 'ghost' })), 'ResourceNotFoundException');
    });

    await env.client.send(new RemoveThingFromThingGroupCommand({ thingGroupName: 'room-1', thingName: 'dev-1' }));
    assert.deepEqual((await env.client.send(new ListThingsInThingGroupCommand({ thingGroupName: 'room-1' }))).things ?? [], []);
  });

  it('deletes groups: refuses while children exist, succeeds for leaves and absent groups', async () => {
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(env.client.send(new DeleteThingGroupCommand({ thingGroupName: 'floor-1' })), 'InvalidRequestException', {
        status: 400,
        message: /when there are still child groups attached to it/,
      });
      await expectAwsError(
        env.client.send(new CreateThingGroupCommand({ thingGroupName: 'orphan', parentGroupName: 'ghost' })),
        'ResourceNotFoundException',
      );
    });
    await env.client.send(new DeleteThingGroupCommand({ thingGroupName: 'room-1' }));
    await expectAwsError(env.client.send(new DescribeThingGroupCommand({ thingGroupName: 'room-1' })), 'ResourceNotFoundException', {
      status: 404,
    });
    await env.client.send(new DeleteThingGroupCommand({ thingGroupName: 'room-1' }));
  });
});
