/**
 * DeprecateThingType (and its undo) and DeleteThingType through the real `@aws-sdk/client-iot`:
 * DescribeThingType/ListThingTypes report the deprecation, CreateThing and UpdateThing refuse a
 * deprecated type, DeleteThingType needs a deprecation at least 5 minutes old and no thing using
 * the type; malformed, unsigned and replayed requests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateThingCommand,
  CreateThingTypeCommand,
  DeleteThingTypeCommand,
  DeprecateThingTypeCommand,
  DescribeThingTypeCommand,
  ListThingTypesCommand,
  UpdateThingCommand,
} from '@aws-sdk/client-iot';
import { assertUnchanged, expectAwsError, startRoutesEnv, type RoutesEnv } from './helpers.js';
import { assertSigV4Refusals, replaySigned } from './wire.js';

let env: RoutesEnv;
/** Added to the registry's clock: lets the 5-minute wait pass without waiting. */
let skewMs = 0;

before(async () => {
  env = await startRoutesEnv({ registryClock: () => Date.now() + skewMs });
  await env.client.send(new CreateThingTypeCommand({ thingTypeName: 'lamp', thingTypeProperties: { thingTypeDescription: 'a lamp' } }));
  await env.client.send(new CreateThingCommand({ thingName: 'old-lamp', thingTypeName: 'lamp' }));
  await env.client.send(new CreateThingCommand({ thingName: 'plain' }));
});
after(() => env.close());

describe('DeprecateThingType', () => {
  it('deprecates: DescribeThingType and ListThingTypes say so, with the date', async () => {
    const before = await env.client.send(new DescribeThingTypeCommand({ thingTypeName: 'lamp' }));
    assert.equal(before.thingTypeMetadata?.deprecated, false);
    assert.equal(before.thingTypeMetadata?.deprecationDate, undefined);
    const out = await env.client.send(new DeprecateThingTypeCommand({ thingTypeName: 'lamp' }));
    assert.equal(out.$metadata.httpStatusCode, 200);
    const d = await env.client.send(new DescribeThingTypeCommand({ thingTypeName: 'lamp' }));
    assert.equal(d.thingTypeMetadata?.deprecated, true);
    assert.ok(d.thingTypeMetadata?.deprecationDate instanceof Date);
    assert.ok(Math.abs(d.thingTypeMetadata.deprecationDate.getTime() - Date.now()) < 60_000);
    assert.equal(d.thingTypeId, before.thingTypeId, 'the id does not change');
    const listed = (await env.client.send(new ListThingTypesCommand({}))).thingTypes?.find((t) => t.thingTypeName === 'lamp');
    assert.equal(listed?.thingTypeMetadata?.deprecated, true);
    assert.deepEqual(listed?.thingTypeMetadata?.deprecationDate, d.thingTypeMetadata.deprecationDate);
  });

  it('a deprecated type takes no new thing (CreateThing, UpdateThing): InvalidRequestException', async () => {
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(new CreateThingCommand({ thingName: 'new-lamp', thingTypeName: 'lamp' })),
        'InvalidRequestException',
        {
          status: 400,
          message: /^Thing type "lamp" is deprecated/,
        },
      );
      await expectAwsError(
        env.client.send(new UpdateThingCommand({ thingName: 'plain', thingTypeName: 'lamp' })),
        'InvalidRequestException',
        {
          message: /deprecated/,
        },
      );
    });
    // A thing that already has the type keeps it and can still be updated.
    await env.client.send(
      new UpdateThingCommand({ thingName: 'old-lamp', thingTypeName: 'lamp', attributePayload: { attributes: { w: '40' } } }),
    );
  });

  it('undoDeprecate makes it usable again; a replayed undo changes nothing more', async () => {
    const [first, second] = await replaySigned(env, {
      method: 'POST',
      path: '/thing-types/lamp/deprecate',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ undoDeprecate: true }),
    });
    assert.deepEqual([first?.status, second?.status], [200, 200]);
    const d = await env.client.send(new DescribeThingTypeCommand({ thingTypeName: 'lamp' }));
    assert.equal(d.thingTypeMetadata?.deprecated, false);
    assert.equal(d.thingTypeMetadata?.deprecationDate, undefined);
    await env.client.send(new CreateThingCommand({ thingName: 'new-lamp', thingTypeName: 'lamp' }));
  });

  it('unknown types are not found; malformed input is invalid; unsigned requests are refused', async () => {
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(env.client.send(new DeprecateThingTypeCommand({ thingTypeName: 'ghost' })), 'ResourceNotFoundException', {
        status: 404,
      });
      await expectAwsError(env.client.send(new DeprecateThingTypeCommand({ thingTypeName: 'bad name' })), 'InvalidRequestException', {
        message: /^thingTypeName "bad name" must match/,
      });
      await expectAwsError(
        env.client.send(new DeprecateThingTypeCommand({ thingTypeName: 'lamp', undoDeprecate: 'yes' as unknown as boolean })),
        'InvalidRequestException',
        { message: /^undoDeprecate must be a boolean\.$/ },
      );
    });
    await assertSigV4Refusals(env, (c) => c.send(new DeprecateThingTypeCommand({ thingTypeName: 'lamp' })));
  });
});

describe('DeleteThingType', () => {
  it('refuses a type that is not deprecated, or deprecated less than 5 minutes ago', async () => {
    await env.client.send(new CreateThingTypeCommand({ thingTypeName: 'retired' }));
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(env.client.send(new DeleteThingTypeCommand({ thingTypeName: 'retired' })), 'InvalidRequestException', {
        status: 400,
        message: /is not deprecated; deprecate it with DeprecateThingType, wait 5 minutes/,
      });
    });
    await env.client.send(new DeprecateThingTypeCommand({ thingTypeName: 'retired' }));
    skewMs = 4 * 60_000;
    await assertUnchanged(env.registry, () =>
      expectAwsError(env.client.send(new DeleteThingTypeCommand({ thingTypeName: 'retired' })), 'InvalidRequestException', {
        message: /deprecated less than 5 minutes ago; it can be deleted in \d+ seconds/,
      }),
    );
  });

  it('deletes a type deprecated 5 minutes ago; a type still in use is InvalidRequestException; unknown types are not found', async () => {
    skewMs = 5 * 60_000 + 1000;
    await env.client.send(new DeleteThingTypeCommand({ thingTypeName: 'retired' }));
    await expectAwsError(env.client.send(new DescribeThingTypeCommand({ thingTypeName: 'retired' })), 'ResourceNotFoundException');
    await expectAwsError(env.client.send(new DeleteThingTypeCommand({ thingTypeName: 'retired' })), 'ResourceNotFoundException', {
      status: 404,
    });
    skewMs = 0;
    await env.client.send(new DeprecateThingTypeCommand({ thingTypeName: 'lamp' }));
    skewMs = 6 * 60_000;
    await assertUnchanged(env.registry, () =>
      expectAwsError(env.client.send(new DeleteThingTypeCommand({ thingTypeName: 'lamp' })), 'InvalidRequestException', {
        message:
          /cannot be deleted: thing "(old|new)-lamp" uses thing type "lamp"; change the type of its things with UpdateThing first\.$/,
      }),
    );
    for (const thingName of ['old-lamp', 'new-lamp']) await env.client.send(new UpdateThingCommand({ thingName, removeThingType: true }));
    const [first, second] = await replaySigned(env, { method: 'DELETE', path: '/thing-types/lamp' });
    assert.equal(first?.status, 200, first?.body);
    assert.equal(second?.status, 404, 'a replayed delete finds nothing to delete');
    assert.equal(second?.headers['x-amzn-errortype'], 'ResourceNotFoundException');
    await assertSigV4Refusals(env, (c) => c.send(new DeleteThingTypeCommand({ thingTypeName: 'lamp' })));
  });
});
