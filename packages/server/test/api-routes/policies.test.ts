/**
 * Policy operations through the real AWS SDK: policies, versions, attachments.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateThingGroupCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DetachPolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  ListAttachedPoliciesCommand,
  ListPoliciesCommand,
  ListPolicyVersionsCommand,
  ListTargetsForPolicyCommand,
  SetDefaultPolicyVersionCommand,
} from '@aws-sdk/client-iot';
import { ACCOUNT_ID, REGION, assertUnchanged, expectAwsError, fixture, startRoutesEnv, type RoutesEnv } from './helpers.js';

let env: RoutesEnv;
let claimPolicy: string;
let certArn: string;

before(async () => {
  env = await startRoutesEnv();
  claimPolicy = await fixture('policies/claim-policy.json');
  certArn = (await env.client.send(new CreateKeysAndCertificateCommand({ setAsActive: true }))).certificateArn ?? '';
});
after(() => env.close());

const policyArn = (name: string) => `arn:aws:iot:${REGION}:${ACCOUNT_ID}:policy/${name}`;
const groupArn = (name: string) => `arn:aws:iot:${REGION}:${ACCOUNT_ID}:thinggroup/${name}`;

/** A valid document allowing one topic, so versions differ. */
function doc(topic: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: `arn:aws:iot:*:*:topic/${topic}` }],
  });
}

describe('CreatePolicy / GetPolicy / ListPolicies', () => {
  it('creates version 1 as the default and reads it back', async () => {
    const before = Date.now();
    const created = await env.client.send(new CreatePolicyCommand({ policyName: 'claim', policyDocument: claimPolicy }));
    assert.deepEqual(
      { name: created.policyName, arn: created.policyArn, doc: created.policyDocument, v: created.policyVersionId },
      { name: 'claim', arn: policyArn('claim'), doc: claimPolicy, v: '1' },
    );
    const got = await env.client.send(new GetPolicyCommand({ policyName: 'claim' }));
    assert.equal(got.policyName, 'claim');
    assert.equal(got.policyArn, policyArn('claim'));
    assert.equal(got.policyDocument, claimPolicy);
    assert.equal(got.defaultVersionId, '1');
    assert.match(got.generationId ?? '', /\S/);
    assert.ok(got.creationDate instanceof Date && Math.abs(got.creationDate.getTime() - before) < 60_000);
    assert.ok(got.lastModifiedDate instanceof Date);
  });

  it('refuses a malformed document with MalformedPolicyException naming the path, and stores nothing', async () => {
    const bad = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
        { Effect: 'Perhaps', Action: 'iot:Connect', Resource: '*' },
      ],
    });
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(new CreatePolicyCommand({ policyName: 'bad', policyDocument: bad })),
        'MalformedPolicyException',
        {
          status: 400,
          message: /Statement\[1\]\.Effect/,
        },
      );
      await expectAwsError(
        env.client.send(new CreatePolicyCommand({ policyName: 'bad', policyDocument: '{"Version":' })),
        'MalformedPolicyException',
        {
          message: /not valid JSON/,
        },
      );
    });
    await expectAwsError(env.client.send(new GetPolicyCommand({ policyName: 'bad' })), 'ResourceNotFoundException', { status: 404 });
  });

  it('refuses duplicates and bad names', async () => {
    await assertUnchanged(env.registry, async () => {
      const dup = await expectAwsError(
        env.client.send(new CreatePolicyCommand({ policyName: 'claim', policyDocument: doc('x') })),
        'ResourceAlreadyExistsException',
        {
          status: 409,
        },
      );
      assert.equal(dup.resourceId, 'claim');
      assert.equal(dup.resourceArn, policyArn('claim'));
      await expectAwsError(
        env.client.send(new CreatePolicyCommand({ policyName: 'bad name', policyDocument: doc('x') })),
        'InvalidRequestException',
        {
          message: /policyName "bad name" must match/,
        },
      );
      await expectAwsError(
        env.client.send(new CreatePolicyCommand({ policyName: 'p'.repeat(129), policyDocument: doc('x') })),
        'InvalidRequestException',
        {
          message: /policyName must be at most 128/,
        },
      );
    });
  });

  it('lists policies by name in pages, either order', async () => {
    for (const name of ['p-a', 'p-b', 'p-c'])
      await env.client.send(new CreatePolicyCommand({ policyName: name, policyDocument: doc(name) }));
    const names: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const page = await env.client.send(new ListPoliciesCommand({ pageSize: 2, ...(marker ? { marker } : {}) }));
      for (const p of page.policies ?? []) {
        assert.equal(p.policyArn, policyArn(p.policyName ?? ''));
        names.push(p.policyName ?? '');
      }
      marker = page.nextMarker;
      pages++;
    } while (marker !== undefined);
    assert.equal(pages, 2);
    assert.deepEqual(names, ['claim', 'p-a', 'p-b', 'p-c']);
    const descending = await env.client.send(new ListPoliciesCommand({ ascendingOrder: false }));
    assert.deepEqual(
      descending.policies?.map((p) => p.policyName),
      ['p-c', 'p-b', 'p-a', 'claim'],
    );
  });
});

describe('policy versions', () => {
  it('creates, reads, lists, switches and deletes versions; the 6th is refused', async () => {
    await env.client.send(new CreatePolicyCommand({ policyName: 'versioned', policyDocument: doc('v1') }));
    const v2 = await env.client.send(new CreatePolicyVersionCommand({ policyName: 'versioned', policyDocument: doc('v2') }));
    assert.deepEqual(
      { arn: v2.policyArn, doc: v2.policyDocument, id: v2.policyVersionId, def: v2.isDefaultVersion },
      { arn: policyArn('versioned'), doc: doc('v2'), id: '2', def: false },
    );
    const v3 = await env.client.send(
      new CreatePolicyVersionCommand({ policyName: 'versioned', policyDocument: doc('v3'), setAsDefault: true }),
    );
    assert.equal(v3.policyVersionId, '3');
    assert.equal(v3.isDefaultVersion, true);
    let policy = await env.client.send(new GetPolicyCommand({ policyName: 'versioned' }));
    assert.equal(policy.defaultVersionId, '3');
    assert.equal(policy.policyDocument, doc('v3'));

    const gv = await env.client.send(new GetPolicyVersionCommand({ policyName: 'versioned', policyVersionId: '2' }));
    assert.equal(gv.policyName, 'versioned');
    assert.equal(gv.policyArn, policyArn('versioned'));
    assert.equal(gv.policyDocument, doc('v2'));
    assert.equal(gv.policyVersionId, '2');
    assert.equal(gv.isDefaultVersion, false);
    assert.ok(gv.creationDate instanceof Date && gv.lastModifiedDate instanceof Date);
    assert.equal(gv.generationId, policy.generationId);

    await env.client.send(new SetDefaultPolicyVersionCommand({ policyName: 'versioned', policyVersionId: '2' }));
    policy = await env.client.send(new GetPolicyCommand({ policyName: 'versioned' }));
    assert.equal(policy.defaultVersionId, '2');
    assert.equal(policy.policyDocument, doc('v2'));

    await env.client.send(new CreatePolicyVersionCommand({ policyName: 'versioned', policyDocument: doc('v4') }));
    await env.client.send(new CreatePolicyVersionCommand({ policyName: 'versioned', policyDocument: doc('v5') }));
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(new CreatePolicyVersionCommand({ policyName: 'versioned', policyDocument: doc('v6') })),
        'VersionsLimitExceededException',
        {
          status: 409,
        },
      );
      await expectAwsError(
        env.client.send(
          new CreatePolicyVersionCommand({ policyName: 'versioned', policyDocument: '{"Version": "2012-10-17", "Statement": 5}' }),
        ),
        'MalformedPolicyException',
        {
          message: /Statement/,
        },
      );
      await expectAwsError(
        env.client.send(new DeletePolicyVersionCommand({ policyName: 'versioned', policyVersionId: '2' })),
        'DeleteConflictException',
        {
          status: 409,
        },
      );
      await expectAwsError(
        env.client.send(new SetDefaultPolicyVersionCommand({ policyName: 'versioned', policyVersionId: '9' })),
        'ResourceNotFoundException',
      );
      await expectAwsError(
        env.client.send(new GetPolicyVersionCommand({ policyName: 'versioned', policyVersionId: 'one' })),
        'InvalidRequestException',
        {
          message: /policyVersionId/,
        },
      );
      await expectAwsError(
        env.client.send(new CreatePolicyVersionCommand({ policyName: 'nope', policyDocument: doc('x') })),
        'ResourceNotFoundException',
      );
    });

    const listed = await env.client.send(new ListPolicyVersionsCommand({ policyName: 'versioned' }));
    assert.deepEqual(
      listed.policyVersions?.map((v) => [v.versionId, v.isDefaultVersion]),
      [
        ['1', false],
        ['2', true],
        ['3', false],
        ['4', false],
        ['5', false],
      ],
    );
    assert.ok(listed.policyVersions?.every((v) => v.createDate instanceof Date));

    await env.client.send(new DeletePolicyVersionCommand({ policyName: 'versioned', policyVersionId: '4' }));
    await expectAwsError(
      env.client.send(new GetPolicyVersionCommand({ policyName: 'versioned', policyVersionId: '4' })),
      'ResourceNotFoundException',
      {
        message: /Version 4/,
      },
    );
    await expectAwsError(env.client.send(new ListPolicyVersionsCommand({ policyName: 'nope' })), 'ResourceNotFoundException');
  });
});

describe('AttachPolicy / DetachPolicy / ListAttachedPolicies / ListTargetsForPolicy', () => {
  it('attaches to a certificate and to thing groups; lists both ways, recursively for groups', async () => {
    await env.client.send(new CreateThingGroupCommand({ thingGroupName: 'parent' }));
    await env.client.send(new CreateThingGroupCommand({ thingGroupName: 'child', parentGroupName: 'parent' }));
    await env.client.send(new AttachPolicyCommand({ policyName: 'claim', target: certArn }));
    await env.client.send(new AttachPolicyCommand({ policyName: 'p-a', target: certArn }));
    await env.client.send(new AttachPolicyCommand({ policyName: 'claim', target: certArn })); // idempotent
    await env.client.send(new AttachPolicyCommand({ policyName: 'p-b', target: groupArn('parent') }));
    await env.client.send(new AttachPolicyCommand({ policyName: 'p-c', target: groupArn('child') }));

    const forCert = await env.client.send(new ListAttachedPoliciesCommand({ target: certArn }));
    assert.deepEqual(forCert.policies, [
      { policyName: 'claim', policyArn: policyArn('claim') },
      { policyName: 'p-a', policyArn: policyArn('p-a') },
    ]);
    const paged = await env.client.send(new ListAttachedPoliciesCommand({ target: certArn, pageSize: 1 }));
    assert.equal(paged.policies?.length, 1);
    const rest = await env.client.send(new ListAttachedPoliciesCommand({ target: certArn, pageSize: 1, marker: paged.nextMarker }));
    assert.deepEqual(
      rest.policies?.map((p) => p.policyName),
      ['p-a'],
    );

    const direct = await env.client.send(new ListAttachedPoliciesCommand({ target: groupArn('child') }));
    assert.deepEqual(
      direct.policies?.map((p) => p.policyName),
      ['p-c'],
    );
    const inherited = await env.client.send(new ListAttachedPoliciesCommand({ target: groupArn('child'), recursive: true }));
    assert.deepEqual(
      inherited.policies?.map((p) => p.policyName),
      ['p-b', 'p-c'],
    );

    await env.client.send(new AttachPolicyCommand({ policyName: 'p-b', target: certArn }));
    const targets = await env.client.send(new ListTargetsForPolicyCommand({ policyName: 'p-b' }));
    assert.deepEqual([...(targets.targets ?? [])].sort(), [certArn, groupArn('parent')].sort());

    await env.client.send(new DetachPolicyCommand({ policyName: 'p-b', target: certArn }));
    await env.client.send(new DetachPolicyCommand({ policyName: 'p-b', target: groupArn('parent') }));
    const none = await env.client.send(new ListTargetsForPolicyCommand({ policyName: 'p-b' }));
    assert.deepEqual(none.targets ?? [], []);
  });

  it('refuses other targets, other accounts and unknown resources without changing anything', async () => {
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(new AttachPolicyCommand({ policyName: 'p-a', target: `arn:aws:iot:${REGION}:${ACCOUNT_ID}:thing/t1` })),
        'InvalidRequestException',
        {
          message: /certificate ARN or a thing group ARN/,
        },
      );
      await expectAwsError(
        env.client.send(new AttachPolicyCommand({ policyName: 'p-a', target: certArn.replace(ACCOUNT_ID, '999999999999') })),
        'InvalidRequestException',
        {
          message: /account 999999999999/,
        },
      );
      await expectAwsError(
        env.client.send(new AttachPolicyCommand({ policyName: 'p-a', target: 'us-east-1:identity' })),
        'InvalidRequestException',
        {
          message: /not an AWS IoT ARN/,
        },
      );
      await expectAwsError(env.client.send(new AttachPolicyCommand({ policyName: 'nope', target: certArn })), 'ResourceNotFoundException');
      await expectAwsError(
        env.client.send(new AttachPolicyCommand({ policyName: 'p-a', target: certArn.replace(/[0-9a-f]{64}$/, 'e'.repeat(64)) })),
        'ResourceNotFoundException',
      );
      await expectAwsError(
        env.client.send(new AttachPolicyCommand({ policyName: 'p-a', target: groupArn('ghost') })),
        'ResourceNotFoundException',
      );
      await expectAwsError(env.client.send(new ListAttachedPoliciesCommand({ target: groupArn('ghost') })), 'ResourceNotFoundException');
      await expectAwsError(env.client.send(new ListTargetsForPolicyCommand({ policyName: 'nope' })), 'ResourceNotFoundException');
    });
  });
});

describe('DeletePolicy', () => {
  it('refuses while attached or while non-default versions exist; deletes afterwards', async () => {
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(env.client.send(new DeletePolicyCommand({ policyName: 'claim' })), 'DeleteConflictException', { status: 409 });
      await expectAwsError(env.client.send(new DeletePolicyCommand({ policyName: 'versioned' })), 'DeleteConflictException');
      await expectAwsError(env.client.send(new DeletePolicyCommand({ policyName: 'nope' })), 'ResourceNotFoundException');
    });
    await env.client.send(new DetachPolicyCommand({ policyName: 'claim', target: certArn }));
    await env.client.send(new DeletePolicyCommand({ policyName: 'claim' }));
    await expectAwsError(env.client.send(new GetPolicyCommand({ policyName: 'claim' })), 'ResourceNotFoundException');
  });
});
