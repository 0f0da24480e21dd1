/**
 * Role aliases through the real `@aws-sdk/client-iot`: Create/Describe/List/Update/DeleteRoleAlias
 * with AWS's bounds (credentialDurationSeconds 900–43200, default 3600); malformed, oversized,
 * unsigned and replayed requests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateRoleAliasCommand,
  DeleteRoleAliasCommand,
  DescribeRoleAliasCommand,
  ListRoleAliasesCommand,
  UpdateRoleAliasCommand,
} from '@aws-sdk/client-iot';
import { ACCOUNT_ID, REGION, assertUnchanged, expectAwsError, startRoutesEnv, type RoutesEnv } from './helpers.js';
import { assertRawError, assertSigV4Refusals, replaySigned } from './wire.js';

let env: RoutesEnv;
const ROLE = 'arn:aws:iam::123456789012:role/camera-uploader';
const arn = (alias: string): string => `arn:aws:iot:${REGION}:${ACCOUNT_ID}:rolealias/${alias}`;

before(async () => {
  env = await startRoutesEnv();
});
after(() => env.close());

describe('role aliases', () => {
  it('creates with the default duration and describes as AWS does', async () => {
    const created = await env.client.send(
      new CreateRoleAliasCommand({ roleAlias: 'camera=1,a@b-c_d', roleArn: ROLE, tags: [{ Key: 'k' }] }),
    );
    assert.deepEqual([created.roleAlias, created.roleAliasArn], ['camera=1,a@b-c_d', arn('camera=1,a@b-c_d')]);
    const d = (await env.client.send(new DescribeRoleAliasCommand({ roleAlias: 'camera=1,a@b-c_d' }))).roleAliasDescription;
    assert.ok(d?.creationDate instanceof Date && d.lastModifiedDate instanceof Date);
    assert.ok(Math.abs(d.creationDate.getTime() - Date.now()) < 60_000);
    assert.deepEqual(
      { ...d, creationDate: undefined, lastModifiedDate: undefined },
      {
        roleAlias: 'camera=1,a@b-c_d',
        roleAliasArn: arn('camera=1,a@b-c_d'),
        roleArn: ROLE,
        owner: ACCOUNT_ID,
        credentialDurationSeconds: 3600,
        creationDate: undefined,
        lastModifiedDate: undefined,
      },
    );
  });

  it('creating an existing alias is ResourceAlreadyExistsException, also for a replayed signed request', async () => {
    await assertUnchanged(env.registry, async () => {
      const err = await expectAwsError(
        env.client.send(new CreateRoleAliasCommand({ roleAlias: 'camera=1,a@b-c_d', roleArn: ROLE })),
        'ResourceAlreadyExistsException',
        { status: 409 },
      );
      assert.equal(err.resourceArn, arn('camera=1,a@b-c_d'));
    });
    const [first, second] = await replaySigned(env, {
      method: 'POST',
      path: '/role-aliases/replayed',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ roleArn: ROLE, credentialDurationSeconds: 900 }),
    });
    assert.equal(first?.status, 200, first?.body);
    assert.deepEqual(first?.json(), { roleAlias: 'replayed', roleAliasArn: arn('replayed') });
    assertRawError(second!, 409, 'ResourceAlreadyExistsException');
    assert.equal((await env.registry.roleAliases.get('replayed'))?.credentialDurationSeconds, 900);
  });

  it('refuses malformed, out-of-range and oversized input with InvalidRequestException (413 over the body limit)', async () => {
    await assertUnchanged(env.registry, async () => {
      for (const seconds of [899, 43_201]) {
        await expectAwsError(
          env.client.send(new CreateRoleAliasCommand({ roleAlias: 'bounds', roleArn: ROLE, credentialDurationSeconds: seconds })),
          'InvalidRequestException',
          { status: 400, message: /^credentialDurationSeconds must be between 900 and 43200\.$/ },
        );
      }
      await expectAwsError(
        env.client.send(new CreateRoleAliasCommand({ roleAlias: 'bad alias', roleArn: ROLE })),
        'InvalidRequestException',
        {
          message: /^roleAlias "bad alias" must match/,
        },
      );
      await expectAwsError(
        env.client.send(new CreateRoleAliasCommand({ roleAlias: 'r'.repeat(129), roleArn: ROLE })),
        'InvalidRequestException',
        {
          message: /^roleAlias must be at most 128 characters long\.$/,
        },
      );
      await expectAwsError(
        env.client.send(new CreateRoleAliasCommand({ roleAlias: 'short', roleArn: 'arn:aws:iam::1:r' })),
        'InvalidRequestException',
        {
          message: /^roleArn must be at least 20 characters long\.$/,
        },
      );
      await expectAwsError(env.client.send(new CreateRoleAliasCommand({ roleAlias: 'norole' } as never)), 'InvalidRequestException', {
        message: /^roleArn is required\.$/,
      });
      await expectAwsError(
        env.client.send(new CreateRoleAliasCommand({ roleAlias: 'long', roleArn: `${ROLE}${'x'.repeat(2048)}` })),
        'InvalidRequestException',
        { message: /^roleArn must be at most 2048 characters long\.$/ },
      );
      await expectAwsError(
        env.client.send(new CreateRoleAliasCommand({ roleAlias: 'huge', roleArn: `${ROLE}${'x'.repeat(1024 * 1024)}` })),
        'RequestEntityTooLargeException',
        { status: 413 },
      );
      await expectAwsError(
        env.client.send(new UpdateRoleAliasCommand({ roleAlias: 'camera=1,a@b-c_d', credentialDurationSeconds: 50_000 })),
        'InvalidRequestException',
      );
      await expectAwsError(env.client.send(new ListRoleAliasesCommand({ pageSize: 0 })), 'InvalidRequestException', {
        message: /pageSize must be between 1 and 250/,
      });
    });
  });

  it('updates the role and the duration; unknown aliases are not found', async () => {
    const before = await env.registry.roleAliases.get('camera=1,a@b-c_d');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const out = await env.client.send(new UpdateRoleAliasCommand({ roleAlias: 'camera=1,a@b-c_d', credentialDurationSeconds: 43_200 }));
    assert.deepEqual(out, { $metadata: out.$metadata, roleAlias: 'camera=1,a@b-c_d', roleAliasArn: arn('camera=1,a@b-c_d') });
    await env.client.send(new UpdateRoleAliasCommand({ roleAlias: 'camera=1,a@b-c_d', roleArn: `${ROLE}-v2` }));
    const d = (await env.client.send(new DescribeRoleAliasCommand({ roleAlias: 'camera=1,a@b-c_d' }))).roleAliasDescription;
    assert.deepEqual([d?.roleArn, d?.credentialDurationSeconds], [`${ROLE}-v2`, 43_200]);
    assert.ok((d?.lastModifiedDate?.getTime() ?? 0) > (before?.modifiedAt ?? Infinity) - 1);
    assert.equal(d?.creationDate?.getTime(), before?.createdAt);
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(new UpdateRoleAliasCommand({ roleAlias: 'ghost', roleArn: ROLE })),
        'ResourceNotFoundException',
        {
          status: 404,
        },
      );
      await expectAwsError(env.client.send(new DescribeRoleAliasCommand({ roleAlias: 'ghost' })), 'ResourceNotFoundException', {
        message: /role alias "ghost" does not exist/,
      });
      await expectAwsError(env.client.send(new DeleteRoleAliasCommand({ roleAlias: 'ghost' })), 'ResourceNotFoundException');
    });
  });

  it('lists in descending alphabetical order unless isAscendingOrder, paging with marker', async () => {
    for (const alias of ['b-alias', 'a-alias', 'c-alias'])
      await env.client.send(new CreateRoleAliasCommand({ roleAlias: alias, roleArn: ROLE }));
    const all = (await env.client.send(new ListRoleAliasesCommand({}))).roleAliases;
    assert.deepEqual(all, ['replayed', 'camera=1,a@b-c_d', 'c-alias', 'b-alias', 'a-alias']);
    const first = await env.client.send(new ListRoleAliasesCommand({ ascendingOrder: true, pageSize: 2 }));
    assert.deepEqual(first.roleAliases, ['a-alias', 'b-alias']);
    assert.ok(first.nextMarker);
    const second = await env.client.send(new ListRoleAliasesCommand({ ascendingOrder: true, pageSize: 2, marker: first.nextMarker }));
    assert.deepEqual(second.roleAliases, ['c-alias', 'camera=1,a@b-c_d']);
    const third = await env.client.send(new ListRoleAliasesCommand({ ascendingOrder: true, pageSize: 2, marker: second.nextMarker }));
    assert.deepEqual(third.roleAliases, ['replayed']);
    assert.equal(third.nextMarker, undefined);
    await expectAwsError(env.client.send(new ListRoleAliasesCommand({ marker: first.nextMarker })), 'InvalidRequestException');
  });

  it('deletes', async () => {
    await env.client.send(new DeleteRoleAliasCommand({ roleAlias: 'b-alias' }));
    await expectAwsError(env.client.send(new DescribeRoleAliasCommand({ roleAlias: 'b-alias' })), 'ResourceNotFoundException');
    await expectAwsError(env.client.send(new DeleteRoleAliasCommand({ roleAlias: 'b-alias' })), 'ResourceNotFoundException');
  });

  it('refuses requests without a valid signature, changing nothing', async () => {
    await assertSigV4Refusals(env, (c) => c.send(new CreateRoleAliasCommand({ roleAlias: 'unsigned', roleArn: ROLE })));
    await assertSigV4Refusals(env, (c) => c.send(new DeleteRoleAliasCommand({ roleAlias: 'a-alias' })));
    await assertSigV4Refusals(env, (c) => c.send(new ListRoleAliasesCommand({})));
    assert.ok(await env.registry.roleAliases.get('a-alias'));
  });
});
