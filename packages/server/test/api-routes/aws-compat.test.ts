/**
 * Differences from AWS that scripts hit (issue 17 A), through the real `@aws-sdk/client-iot`, on
 * SQLite and PostgreSQL: the error codes and exact messages AWS answers (each test names where its
 * wording comes from: src/api/routes/aws-messages.ts lists the sources), ListThingGroups' recursive
 * semantics, RegisterCertificate of a certificate already held, and searchableAttributes of thing
 * types.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  CreateThingTypeCommand,
  DeleteCertificateCommand,
  DeletePolicyCommand,
  DeleteThingCommand,
  DeleteThingGroupCommand,
  DescribeThingTypeCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  ListThingGroupsCommand,
  type ListThingGroupsCommandInput,
  ListThingPrincipalsCommand,
  ListThingPrincipalsV2Command,
  ListThingTypesCommand,
  ListTargetsForPolicyCommand,
  RegisterCertificateCommand,
  RegisterCertificateWithoutCACommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { requirePostgres } from '../support/postgres.js';
import { ACCOUNT_ID, REGION, assertUnchanged, expectAwsError, startRoutesEnv, type RoutesEnv } from './helpers.js';

const arn = (type: string, name: string) => `arn:aws:iot:${REGION}:${ACCOUNT_ID}:${type}/${name}`;
const DOCUMENT = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }] });
const DOCUMENT_2 = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'iot:Connect', Resource: '*' }] });

/** `text` as a regular expression matching exactly it. */
const exactly = (text: string) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

function suite(dialect: 'sqlite' | 'postgres'): void {
  describe(`AWS compatibility of existing operations (${dialect})`, () => {
    let env: RoutesEnv;
    before(async () => {
      env = await startRoutesEnv({ db: dialect });
    });
    after(() => env.close());

    it('DeleteThing with a principal attached: 400 InvalidRequestException "Cannot delete. Thing <name> is still attached…" (AWS CLI output; moto ThingStillAttached)', async () => {
      const { certificateArn } = await env.client.send(new CreateKeysAndCertificateCommand({}));
      await env.client.send(new CreateThingCommand({ thingName: 'held' }));
      await env.client.send(new AttachThingPrincipalCommand({ thingName: 'held', principal: certificateArn }));
      await assertUnchanged(env.registry, () =>
        expectAwsError(env.client.send(new DeleteThingCommand({ thingName: 'held' })), 'InvalidRequestException', {
          status: 400,
          message: exactly('Cannot delete. Thing held is still attached to one or more principals'),
        }),
      );
      await env.client.send(new DetachThingPrincipalCommand({ thingName: 'held', principal: certificateArn }));
      await env.client.send(new DeleteThingCommand({ thingName: 'held' }));
    });

    it('DeleteThingGroup with child groups: InvalidRequestException "Cannot delete thing group : <name> when there are still child groups attached to it." (AWS IoT Developer Guide)', async () => {
      await env.client.send(new CreateThingGroupCommand({ thingGroupName: 'parent' }));
      await env.client.send(new CreateThingGroupCommand({ thingGroupName: 'kid', parentGroupName: 'parent' }));
      await assertUnchanged(env.registry, () =>
        expectAwsError(env.client.send(new DeleteThingGroupCommand({ thingGroupName: 'parent' })), 'InvalidRequestException', {
          status: 400,
          message: exactly('Cannot delete thing group : parent when there are still child groups attached to it.'),
        }),
      );
      await env.client.send(new DeleteThingGroupCommand({ thingGroupName: 'kid' }));
      await env.client.send(new DeleteThingGroupCommand({ thingGroupName: 'parent' }));
    });

    it('ListThingGroups: recursive=false without parentGroup lists root groups only; namePrefixFilter filters that set (moto from getmoto/moto#2961)', async () => {
      await env.client.send(new CreateThingGroupCommand({ thingGroupName: 'lg-site' }));
      await env.client.send(new CreateThingGroupCommand({ thingGroupName: 'lg-floor', parentGroupName: 'lg-site' }));
      await env.client.send(new CreateThingGroupCommand({ thingGroupName: 'lg-room', parentGroupName: 'lg-floor' }));
      await env.client.send(new CreateThingGroupCommand({ thingGroupName: 'lg-yard' }));
      const names = async (input: ListThingGroupsCommandInput) =>
        ((await env.client.send(new ListThingGroupsCommand(input))).thingGroups ?? [])
          .map((g) => g.groupName)
          .filter((n) => n?.startsWith('lg-'));
      assert.deepEqual(await names({ recursive: false }), ['lg-site', 'lg-yard']);
      assert.deepEqual(await names({ recursive: false, namePrefixFilter: 'lg-' }), ['lg-site', 'lg-yard']);
      assert.deepEqual(await names({ recursive: false, namePrefixFilter: 'lg-r' }), []);
      // The default (and recursive=true) lists child groups as well.
      assert.deepEqual(await names({}), ['lg-floor', 'lg-room', 'lg-site', 'lg-yard']);
      assert.deepEqual(await names({ recursive: true, namePrefixFilter: 'lg-r' }), ['lg-room']);
      assert.deepEqual(await names({ namePrefixFilter: 'lg-r' }), ['lg-room']);
      assert.deepEqual(await names({ parentGroup: 'lg-site', recursive: false }), ['lg-floor']);
      assert.deepEqual(await names({ parentGroup: 'lg-site' }), ['lg-floor', 'lg-room']);
      const page = await env.client.send(new ListThingGroupsCommand({ recursive: false, maxResults: 1, namePrefixFilter: 'lg-' }));
      assert.deepEqual(
        page.thingGroups?.map((g) => g.groupName),
        ['lg-site'],
      );
      const rest = await env.client.send(
        new ListThingGroupsCommand({ recursive: false, maxResults: 1, namePrefixFilter: 'lg-', nextToken: page.nextToken }),
      );
      assert.deepEqual(
        rest.thingGroups?.map((g) => g.groupName),
        ['lg-yard'],
      );
    });

    it('RegisterCertificate(WithoutCA) of a certificate already held: 409 ResourceAlreadyExistsException with resourceId and resourceArn (moto)', async () => {
      const held = await env.client.send(new CreateKeysAndCertificateCommand({ setAsActive: false }));
      const id = held.certificateId ?? '';
      await assertUnchanged(env.registry, async () => {
        for (const command of [
          new RegisterCertificateCommand({ certificatePem: held.certificatePem }),
          new RegisterCertificateCommand({ certificatePem: held.certificatePem, setAsActive: true }),
          new RegisterCertificateWithoutCACommand({ certificatePem: held.certificatePem }),
        ]) {
          const err = await expectAwsError(env.client.send(command), 'ResourceAlreadyExistsException', {
            status: 409,
            message: exactly('The certificate is already provisioned or registered'),
          });
          assert.equal(err.resourceId, id);
          assert.equal(err.resourceArn, arn('cert', id));
        }
      });
    });

    it('DescribeThingType and ListThingTypes return searchableAttributes', async () => {
      await env.client.send(
        new CreateThingTypeCommand({
          thingTypeName: 'meter',
          thingTypeProperties: { thingTypeDescription: 'A meter', searchableAttributes: ['serial', 'site', 'model'] },
        }),
      );
      await env.client.send(new CreateThingTypeCommand({ thingTypeName: 'plain' }));
      const d = await env.client.send(new DescribeThingTypeCommand({ thingTypeName: 'meter' }));
      assert.deepEqual(d.thingTypeProperties, { thingTypeDescription: 'A meter', searchableAttributes: ['serial', 'site', 'model'] });
      const listed = await env.client.send(new ListThingTypesCommand({}));
      const meter = listed.thingTypes?.find((t) => t.thingTypeName === 'meter');
      assert.deepEqual(meter?.thingTypeProperties?.searchableAttributes, ['serial', 'site', 'model']);
      const plain = await env.client.send(new DescribeThingTypeCommand({ thingTypeName: 'plain' }));
      assert.equal(plain.thingTypeProperties?.searchableAttributes, undefined);
      const byName = await env.client.send(new ListThingTypesCommand({ thingTypeName: 'meter' }));
      assert.deepEqual(byName.thingTypes?.[0]?.thingTypeProperties?.searchableAttributes, ['serial', 'site', 'model']);
      await expectAwsError(
        env.client.send(
          new CreateThingTypeCommand({ thingTypeName: 'four', thingTypeProperties: { searchableAttributes: ['a', 'b', 'c', 'd'] } }),
        ),
        'InvalidRequestException',
      );
    });

    it('CreatePolicy of a taken name: ResourceAlreadyExistsException "Policy cannot be created - name already exists (name=…)" with resourceId/resourceArn (moto)', async () => {
      await env.client.send(new CreatePolicyCommand({ policyName: 'taken', policyDocument: DOCUMENT }));
      const err = await expectAwsError(
        env.client.send(new CreatePolicyCommand({ policyName: 'taken', policyDocument: DOCUMENT })),
        'ResourceAlreadyExistsException',
        { status: 409, message: exactly('Policy cannot be created - name already exists (name=taken)') },
      );
      assert.equal(err.resourceId, 'taken');
      assert.equal(err.resourceArn, arn('policy', 'taken'));
    });

    it('DeletePolicy: attached (AWS CLI output; moto) and with non-default versions (moto): DeleteConflictException with AWS wording', async () => {
      await env.client.send(new CreatePolicyCommand({ policyName: 'versioned', policyDocument: DOCUMENT }));
      await env.client.send(new CreatePolicyVersionCommand({ policyName: 'versioned', policyDocument: DOCUMENT_2 }));
      await expectAwsError(env.client.send(new DeletePolicyCommand({ policyName: 'versioned' })), 'DeleteConflictException', {
        status: 409,
        message: exactly('Cannot delete the policy because it has one or more policy versions attached to it (name=versioned)'),
      });
      await env.client.send(new CreatePolicyCommand({ policyName: 'attached', policyDocument: DOCUMENT }));
      const { certificateArn } = await env.client.send(new CreateKeysAndCertificateCommand({}));
      await env.client.send(new AttachPolicyCommand({ policyName: 'attached', target: certificateArn }));
      await expectAwsError(env.client.send(new DeletePolicyCommand({ policyName: 'attached' })), 'DeleteConflictException', {
        status: 409,
        message: exactly('The policy cannot be deleted as the policy is attached to one or more principals (name=attached)'),
      });
      await env.client.send(new DetachPolicyCommand({ policyName: 'attached', target: certificateArn }));
      await env.client.send(new DeletePolicyCommand({ policyName: 'attached' }));
    });

    it('DeleteCertificate: ACTIVE is CertificateStateException, things attached and policies attached are DeleteConflictException, worded as AWS (moto)', async () => {
      const c = await env.client.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      const id = c.certificateId ?? '';
      const certArn = c.certificateArn ?? '';
      await expectAwsError(env.client.send(new DeleteCertificateCommand({ certificateId: id })), 'CertificateStateException', {
        status: 406,
        message: exactly(`Certificate must be deactivated (not ACTIVE) before deletion. Id: ${id}`),
      });
      await env.client.send(new UpdateCertificateCommand({ certificateId: id, newStatus: 'INACTIVE' }));
      await env.client.send(new CreateThingCommand({ thingName: 'uses-cert' }));
      await env.client.send(new AttachThingPrincipalCommand({ thingName: 'uses-cert', principal: certArn }));
      await expectAwsError(env.client.send(new DeleteCertificateCommand({ certificateId: id })), 'DeleteConflictException', {
        status: 409,
        message: exactly(`Things must be detached before deletion (arn: ${certArn})`),
      });
      await env.client.send(new DetachThingPrincipalCommand({ thingName: 'uses-cert', principal: certArn }));
      await env.client.send(new CreatePolicyCommand({ policyName: 'on-cert', policyDocument: DOCUMENT }));
      await env.client.send(new AttachPolicyCommand({ policyName: 'on-cert', target: certArn }));
      await expectAwsError(env.client.send(new DeleteCertificateCommand({ certificateId: id })), 'DeleteConflictException', {
        message: exactly(`Certificate policies must be detached before deletion (arn: ${certArn})`),
      });
      await env.client.send(new DeleteCertificateCommand({ certificateId: id, forceDelete: true }));
    });

    it('ListThingPrincipals(V2) of an unknown thing: ResourceNotFoundException "Failed to list principals for thing …" (moto)', async () => {
      const message = exactly('Failed to list principals for thing nobody because the thing does not exist in your account');
      await expectAwsError(env.client.send(new ListThingPrincipalsCommand({ thingName: 'nobody' })), 'ResourceNotFoundException', {
        status: 404,
        message,
      });
      await expectAwsError(env.client.send(new ListThingPrincipalsV2Command({ thingName: 'nobody' })), 'ResourceNotFoundException', {
        message,
      });
    });

    it('ListTargetsForPolicy of an unknown policy: ResourceNotFoundException "Policy not found" (moto)', async () => {
      await expectAwsError(env.client.send(new ListTargetsForPolicyCommand({ policyName: 'no-such' })), 'ResourceNotFoundException', {
        status: 404,
        message: exactly('Policy not found'),
      });
    });

    it('CreateThingGroup of an existing name: the same request returns the group; other properties are ResourceAlreadyExistsException with the group id (moto)', async () => {
      const first = await env.client.send(
        new CreateThingGroupCommand({ thingGroupName: 'dup-group', thingGroupProperties: { thingGroupDescription: 'one' } }),
      );
      const again = await env.client.send(
        new CreateThingGroupCommand({ thingGroupName: 'dup-group', thingGroupProperties: { thingGroupDescription: 'one' } }),
      );
      assert.equal(again.thingGroupId, first.thingGroupId);
      const err = await expectAwsError(
        env.client.send(
          new CreateThingGroupCommand({ thingGroupName: 'dup-group', thingGroupProperties: { thingGroupDescription: 'two' } }),
        ),
        'ResourceAlreadyExistsException',
        { status: 409, message: exactly('Thing Group dup-group already exists in current account with different properties') },
      );
      assert.equal(err.resourceId, first.thingGroupId);
      assert.equal(err.resourceArn, arn('thinggroup', 'dup-group'));
    });

    it('AttachPolicy to an unknown target ARN: ResourceNotFoundException worded as AWS (moto); an unknown policy stays not found', async () => {
      await env.client.send(new CreatePolicyCommand({ policyName: 'to-attach', policyDocument: DOCUMENT }));
      const ghostCert = arn('cert', 'a'.repeat(64));
      const ghostGroup = arn('thinggroup', 'ghost-group');
      await assertUnchanged(env.registry, async () => {
        await expectAwsError(
          env.client.send(new AttachPolicyCommand({ policyName: 'to-attach', target: ghostCert })),
          'ResourceNotFoundException',
          {
            status: 404,
            message: exactly('The specified resource does not exist'),
          },
        );
        await expectAwsError(
          env.client.send(new AttachPolicyCommand({ policyName: 'to-attach', target: ghostGroup })),
          'ResourceNotFoundException',
          {
            message: exactly(`No thing group with ARN ${ghostGroup} exists`),
          },
        );
        await expectAwsError(
          env.client.send(new AttachPolicyCommand({ policyName: 'no-such-policy', target: ghostGroup })),
          'ResourceNotFoundException',
          {
            message: /no-such-policy/,
          },
        );
      });
    });
  });
}

suite('sqlite');
if (await requirePostgres('AWS compatibility of existing operations on PostgreSQL')) suite('postgres');
