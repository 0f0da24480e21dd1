/**
 * Provisioning-template operations through the real AWS SDK.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateProvisioningTemplateCommand,
  CreateProvisioningTemplateVersionCommand,
  DeleteProvisioningTemplateCommand,
  DeleteProvisioningTemplateVersionCommand,
  DescribeProvisioningTemplateCommand,
  DescribeProvisioningTemplateVersionCommand,
  ListProvisioningTemplatesCommand,
  ListProvisioningTemplateVersionsCommand,
  UpdateProvisioningTemplateCommand,
} from '@aws-sdk/client-iot';
import { ACCOUNT_ID, REGION, assertUnchanged, expectAwsError, fixture, startRoutesEnv, type RoutesEnv } from './helpers.js';

const ROLE = 'arn:aws:iam::123456789012:role/ProvisioningRole';

let env: RoutesEnv;
let body: string;
let jitpBody: string;

before(async () => {
  env = await startRoutesEnv();
  body = await fixture('templates/birthing-template.json');
  jitpBody = await fixture('templates/jitp-template.json');
});
after(() => env.close());

/** The birthing template with another thing-name prefix, so versions differ. */
function variant(n: number): string {
  return body.replace('"born_"', `"born${n}_"`);
}

describe('CreateProvisioningTemplate / DescribeProvisioningTemplate', () => {
  it('creates a disabled FLEET_PROVISIONING template by default and describes it', async () => {
    const started = Date.now();
    const created = await env.client.send(
      new CreateProvisioningTemplateCommand({
        templateName: 'birthing',
        templateBody: body,
        provisioningRoleArn: ROLE,
        description: 'first',
      }),
    );
    assert.equal(created.templateName, 'birthing');
    assert.equal(created.templateArn, `arn:aws:iot:${REGION}:${ACCOUNT_ID}:provisioningtemplate/birthing`);
    assert.equal(created.defaultVersionId, 1);

    const d = await env.client.send(new DescribeProvisioningTemplateCommand({ templateName: 'birthing' }));
    assert.equal(d.templateName, 'birthing');
    assert.equal(d.templateArn, created.templateArn);
    assert.equal(d.description, 'first');
    assert.equal(d.templateBody, body);
    assert.equal(d.enabled, false);
    assert.equal(d.type, 'FLEET_PROVISIONING');
    assert.equal(d.provisioningRoleArn, ROLE);
    assert.equal(d.defaultVersionId, 1);
    assert.equal(d.preProvisioningHook, undefined);
    assert.ok(d.creationDate instanceof Date && d.lastModifiedDate instanceof Date);
    assert.ok(Math.abs(d.creationDate.getTime() - started) < 60_000, 'creationDate is an epoch-seconds timestamp of now');
  });

  it('stores enabled, type JITP and a pre-provisioning hook', async () => {
    await env.client.send(
      new CreateProvisioningTemplateCommand({
        templateName: 'hooked',
        templateBody: body,
        provisioningRoleArn: ROLE,
        enabled: true,
        preProvisioningHook: { targetArn: 'arn:aws:lambda:eu-central-1:123456789012:function:check', payloadVersion: '2020-04-01' },
      }),
    );
    const hooked = await env.client.send(new DescribeProvisioningTemplateCommand({ templateName: 'hooked' }));
    assert.equal(hooked.enabled, true);
    assert.deepEqual(hooked.preProvisioningHook, {
      targetArn: 'arn:aws:lambda:eu-central-1:123456789012:function:check',
      payloadVersion: '2020-04-01',
    });

    await env.client.send(
      new CreateProvisioningTemplateCommand({ templateName: 'jitp', templateBody: jitpBody, provisioningRoleArn: ROLE, type: 'JITP' }),
    );
    const jitp = await env.client.send(new DescribeProvisioningTemplateCommand({ templateName: 'jitp' }));
    assert.equal(jitp.type, 'JITP');
  });

  it('refuses a template body with an error, naming its JSON path, and stores nothing', async () => {
    const bad = JSON.parse(body) as { Resources: { thing: { Properties: Record<string, unknown> } } };
    bad.Resources.thing.Properties.ThingName = { 'Fn::Bogus': 'x' };
    await assertUnchanged(env.registry, () =>
      expectAwsError(
        env.client.send(
          new CreateProvisioningTemplateCommand({ templateName: 'broken', templateBody: JSON.stringify(bad), provisioningRoleArn: ROLE }),
        ),
        'InvalidRequestException',
        { status: 400, message: /Resources\.thing\.Properties\.ThingName/ },
      ),
    );
    await expectAwsError(
      env.client.send(
        new CreateProvisioningTemplateCommand({ templateName: 'broken', templateBody: '{not json', provisioningRoleArn: ROLE }),
      ),
      'InvalidRequestException',
      { message: /templateBody/ },
    );
    await expectAwsError(env.client.send(new DescribeProvisioningTemplateCommand({ templateName: 'broken' })), 'ResourceNotFoundException');
  });

  it('refuses a duplicate name with ResourceAlreadyExistsException carrying resourceId and resourceArn', async () => {
    const err = await assertUnchangedError(
      () =>
        env.client.send(
          new CreateProvisioningTemplateCommand({ templateName: 'birthing', templateBody: variant(9), provisioningRoleArn: ROLE }),
        ),
      'ResourceAlreadyExistsException',
    );
    assert.equal(err.resourceId, 'birthing');
    assert.equal(err.resourceArn, `arn:aws:iot:${REGION}:${ACCOUNT_ID}:provisioningtemplate/birthing`);
  });

  it('validates names, required fields, type and hook', async () => {
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(
          new CreateProvisioningTemplateCommand({ templateName: 'bad name!', templateBody: body, provisioningRoleArn: ROLE }),
        ),
        'InvalidRequestException',
        { message: /templateName/ },
      );
      await expectAwsError(
        env.client.send(
          new CreateProvisioningTemplateCommand({ templateName: 'x'.repeat(37), templateBody: body, provisioningRoleArn: ROLE }),
        ),
        'InvalidRequestException',
        { message: /templateName.*36/ },
      );
      await expectAwsError(
        env.client.send(new CreateProvisioningTemplateCommand({ templateName: 'norole', templateBody: body } as never)),
        'InvalidRequestException',
        { message: /provisioningRoleArn is required/ },
      );
      await expectAwsError(
        env.client.send(
          new CreateProvisioningTemplateCommand({
            templateName: 'badtype',
            templateBody: body,
            provisioningRoleArn: ROLE,
            type: 'OTHER' as never,
          }),
        ),
        'InvalidRequestException',
        { message: /type must be one of FLEET_PROVISIONING, JITP/ },
      );
      await expectAwsError(
        env.client.send(
          new CreateProvisioningTemplateCommand({
            templateName: 'jitphook',
            templateBody: jitpBody,
            provisioningRoleArn: ROLE,
            type: 'JITP',
            preProvisioningHook: { targetArn: 'arn:aws:lambda:x' },
          }),
        ),
        'InvalidRequestException',
        { message: /only allowed for FLEET_PROVISIONING/ },
      );
      await expectAwsError(
        env.client.send(
          new CreateProvisioningTemplateCommand({
            templateName: 'badhook',
            templateBody: body,
            provisioningRoleArn: ROLE,
            preProvisioningHook: { targetArn: 'arn:aws:lambda:x', payloadVersion: 'v1' },
          }),
        ),
        'InvalidRequestException',
        { message: /preProvisioningHook\.payloadVersion/ },
      );
    });
  });

  it('answers ResourceNotFoundException for an unknown template', async () => {
    await expectAwsError(env.client.send(new DescribeProvisioningTemplateCommand({ templateName: 'nope' })), 'ResourceNotFoundException', {
      status: 404,
      message: /nope/,
    });
  });
});

describe('ListProvisioningTemplates', () => {
  it('lists summaries by name and pages with maxResults/nextToken', async () => {
    const all = await env.client.send(new ListProvisioningTemplatesCommand({}));
    const names = (all.templates ?? []).map((t) => t.templateName);
    assert.deepEqual(names, [...names].sort());
    assert.ok(names.includes('birthing') && names.includes('hooked') && names.includes('jitp'));
    const birthing = all.templates?.find((t) => t.templateName === 'birthing');
    assert.equal(birthing?.type, 'FLEET_PROVISIONING');
    assert.equal(birthing?.enabled, false);
    assert.equal(birthing?.description, 'first');
    assert.ok(birthing?.creationDate instanceof Date);

    const seen: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await env.client.send(new ListProvisioningTemplatesCommand({ maxResults: 2, ...(nextToken ? { nextToken } : {}) }));
      assert.ok((page.templates ?? []).length <= 2);
      seen.push(...(page.templates ?? []).map((t) => t.templateName ?? ''));
      nextToken = page.nextToken;
      pages++;
    } while (nextToken !== undefined);
    assert.ok(pages >= 2);
    assert.deepEqual(seen, names);

    await expectAwsError(env.client.send(new ListProvisioningTemplatesCommand({ maxResults: 0 })), 'InvalidRequestException', {
      message: /maxResults/,
    });
    await expectAwsError(env.client.send(new ListProvisioningTemplatesCommand({ nextToken: 'garbage' })), 'InvalidRequestException');
  });
});

describe('UpdateProvisioningTemplate', () => {
  it('updates description, enabled, role, hook; removes the hook', async () => {
    await env.client.send(
      new UpdateProvisioningTemplateCommand({
        templateName: 'birthing',
        description: 'second',
        enabled: true,
        provisioningRoleArn: `${ROLE}2`,
        preProvisioningHook: { targetArn: 'arn:aws:lambda:eu-central-1:123456789012:function:gate' },
      }),
    );
    let d = await env.client.send(new DescribeProvisioningTemplateCommand({ templateName: 'birthing' }));
    assert.equal(d.description, 'second');
    assert.equal(d.enabled, true);
    assert.equal(d.provisioningRoleArn, `${ROLE}2`);
    assert.deepEqual(d.preProvisioningHook, { targetArn: 'arn:aws:lambda:eu-central-1:123456789012:function:gate' });

    await env.client.send(new UpdateProvisioningTemplateCommand({ templateName: 'birthing', removePreProvisioningHook: true }));
    d = await env.client.send(new DescribeProvisioningTemplateCommand({ templateName: 'birthing' }));
    assert.equal(d.preProvisioningHook, undefined);
    assert.equal(d.enabled, true, 'fields not given stay as they were');
  });

  it('fails without changing anything for bad input, unknown templates and unknown versions', async () => {
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(
          new UpdateProvisioningTemplateCommand({
            templateName: 'birthing',
            removePreProvisioningHook: true,
            preProvisioningHook: { targetArn: 'arn:x' },
          }),
        ),
        'InvalidRequestException',
        { message: /removePreProvisioningHook/ },
      );
      await expectAwsError(
        env.client.send(new UpdateProvisioningTemplateCommand({ templateName: 'jitp', preProvisioningHook: { targetArn: 'arn:x' } })),
        'InvalidRequestException',
        { message: /FLEET_PROVISIONING/ },
      );
      await expectAwsError(
        env.client.send(new UpdateProvisioningTemplateCommand({ templateName: 'nope', enabled: true })),
        'ResourceNotFoundException',
      );
      await expectAwsError(
        env.client.send(new UpdateProvisioningTemplateCommand({ templateName: 'birthing', defaultVersionId: 42 })),
        'ResourceNotFoundException',
      );
    });
  });
});

describe('provisioning template versions', () => {
  it('creates, lists, describes and switches versions; the 6th is refused', async () => {
    const v2 = await env.client.send(new CreateProvisioningTemplateVersionCommand({ templateName: 'birthing', templateBody: variant(2) }));
    assert.equal(v2.versionId, 2);
    assert.equal(v2.isDefaultVersion, false);
    assert.equal(v2.templateName, 'birthing');
    assert.equal(v2.templateArn, `arn:aws:iot:${REGION}:${ACCOUNT_ID}:provisioningtemplate/birthing`);

    const v3 = await env.client.send(
      new CreateProvisioningTemplateVersionCommand({ templateName: 'birthing', templateBody: variant(3), setAsDefault: true }),
    );
    assert.equal(v3.versionId, 3);
    assert.equal(v3.isDefaultVersion, true);
    let d = await env.client.send(new DescribeProvisioningTemplateCommand({ templateName: 'birthing' }));
    assert.equal(d.defaultVersionId, 3);
    assert.equal(d.templateBody, variant(3));

    const dv2 = await env.client.send(new DescribeProvisioningTemplateVersionCommand({ templateName: 'birthing', versionId: 2 }));
    assert.equal(dv2.versionId, 2);
    assert.equal(dv2.templateBody, variant(2));
    assert.equal(dv2.isDefaultVersion, false);
    assert.ok(dv2.creationDate instanceof Date);

    await env.client.send(new UpdateProvisioningTemplateCommand({ templateName: 'birthing', defaultVersionId: 2 }));
    d = await env.client.send(new DescribeProvisioningTemplateCommand({ templateName: 'birthing' }));
    assert.equal(d.defaultVersionId, 2);
    assert.equal(d.templateBody, variant(2));

    await env.client.send(new CreateProvisioningTemplateVersionCommand({ templateName: 'birthing', templateBody: variant(4) }));
    await env.client.send(new CreateProvisioningTemplateVersionCommand({ templateName: 'birthing', templateBody: variant(5) }));
    await assertUnchanged(env.registry, () =>
      expectAwsError(
        env.client.send(new CreateProvisioningTemplateVersionCommand({ templateName: 'birthing', templateBody: variant(6) })),
        'VersionsLimitExceededException',
        { status: 409 },
      ),
    );

    const listed = await env.client.send(new ListProvisioningTemplateVersionsCommand({ templateName: 'birthing' }));
    assert.deepEqual(
      listed.versions?.map((v) => [v.versionId, v.isDefaultVersion]),
      [
        [1, false],
        [2, true],
        [3, false],
        [4, false],
        [5, false],
      ],
    );
    const page1 = await env.client.send(new ListProvisioningTemplateVersionsCommand({ templateName: 'birthing', maxResults: 3 }));
    assert.equal(page1.versions?.length, 3);
    assert.ok(page1.nextToken);
    const page2 = await env.client.send(
      new ListProvisioningTemplateVersionsCommand({ templateName: 'birthing', maxResults: 3, nextToken: page1.nextToken }),
    );
    assert.deepEqual(
      page2.versions?.map((v) => v.versionId),
      [4, 5],
    );
    assert.equal(page2.nextToken, undefined);
  });

  it('validates a new version body against the template type', async () => {
    await assertUnchanged(env.registry, () =>
      expectAwsError(
        env.client.send(
          new CreateProvisioningTemplateVersionCommand({
            templateName: 'hooked',
            templateBody: '{"Resources": {"x": {"Type": "AWS::IoT::Nope"}}}',
          }),
        ),
        'InvalidRequestException',
        { message: /Resources\.x/ },
      ),
    );
    await expectAwsError(
      env.client.send(new CreateProvisioningTemplateVersionCommand({ templateName: 'nope', templateBody: body })),
      'ResourceNotFoundException',
    );
  });

  it('deletes a non-default version; refuses the default one and unknown ones', async () => {
    await env.client.send(new DeleteProvisioningTemplateVersionCommand({ templateName: 'birthing', versionId: 1 }));
    await expectAwsError(
      env.client.send(new DescribeProvisioningTemplateVersionCommand({ templateName: 'birthing', versionId: 1 })),
      'ResourceNotFoundException',
      {
        message: /Version 1/,
      },
    );
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(new DeleteProvisioningTemplateVersionCommand({ templateName: 'birthing', versionId: 2 })),
        'DeleteConflictException',
        {
          status: 409,
        },
      );
      await expectAwsError(
        env.client.send(new DeleteProvisioningTemplateVersionCommand({ templateName: 'birthing', versionId: 99 })),
        'ResourceNotFoundException',
      );
      await expectAwsError(
        env.client.send(new DescribeProvisioningTemplateVersionCommand({ templateName: 'nope', versionId: 1 })),
        'ResourceNotFoundException',
        {
          message: /provisioning template "nope"/,
        },
      );
    });
  });
});

describe('DeleteProvisioningTemplate', () => {
  it('deletes the template with its versions', async () => {
    await env.client.send(new DeleteProvisioningTemplateCommand({ templateName: 'birthing' }));
    await expectAwsError(
      env.client.send(new DescribeProvisioningTemplateCommand({ templateName: 'birthing' })),
      'ResourceNotFoundException',
    );
    assert.equal(await env.registry.templates.getVersion('birthing', 2), null);
    await expectAwsError(env.client.send(new DeleteProvisioningTemplateCommand({ templateName: 'birthing' })), 'ResourceNotFoundException');
  });
});

/** Runs a failing call inside {@link assertUnchanged} and returns its exception. */
async function assertUnchangedError(call: () => Promise<unknown>, name: string): Promise<Record<string, unknown>> {
  let err: Record<string, unknown> = {};
  await assertUnchanged(env.registry, async () => {
    err = await expectAwsError(call(), name);
  });
  return err;
}
