/**
 * A provisioning template's `BillingGroup` (AWS::IoT::Thing property, provision-template.html) and
 * thing-type deprecation, over the real broker, on SQLite and on PostgreSQL: RegisterThing puts the
 * new thing in the named billing group, refuses an unknown billing group or a deprecated thing type
 * with `400 InvalidPayload` and creates nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import pg from 'pg';
import { PG_URL, requirePostgres } from '../support/postgres.js';
import {
  accepted,
  call,
  createKeys,
  rejectedWith,
  ROLE_ARN,
  snapshot,
  startLab,
  type DeviceCredentials,
  type Lab,
  type Reply,
} from './helpers.js';

/** A fleet template whose thing has the given extra properties and overrides. */
function templateWith(props: Record<string, unknown>, overrides?: Record<string, string>): string {
  return JSON.stringify({
    Parameters: { SerialNumber: { Type: 'String' }, 'AWS::IoT::Certificate::Id': { Type: 'String' } },
    Resources: {
      certificate: {
        Type: 'AWS::IoT::Certificate',
        Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' },
      },
      thing: {
        Type: 'AWS::IoT::Thing',
        Properties: { ThingName: { Ref: 'SerialNumber' }, ...props },
        ...(overrides === undefined ? {} : { OverrideSettings: overrides }),
      },
      policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'full_citizen_role' } },
    },
  });
}

function billingGroupCases(name: string, startTheLab: () => Promise<Lab>, cleanup: () => Promise<void> = async () => undefined): void {
  describe(name, () => {
    let lab: Lab;
    let wideClaim: DeviceCredentials;
    let wide: MqttClient;

    before(async () => {
      lab = await startTheLab();
      await lab.registry.policies.create({
        name: 'wide_claim',
        document: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] }),
      });
      wideClaim = await lab.registerCertificate('wide-claim', ['wide_claim']);
      wide = await lab.connect(wideClaim, 'billing-wide');
      const templates: Array<[string, string]> = [
        ['billed', templateWith({ BillingGroup: 'fleet-bill' })],
        ['rebilled', templateWith({ BillingGroup: 'other-bill' }, { BillingGroup: 'REPLACE' })],
        ['typed', templateWith({ ThingTypeName: 'old-type' })],
      ];
      for (const [templateName, templateBody] of templates) {
        await lab.registry.templates.create({ name: templateName, body: templateBody, enabled: true, provisioningRoleArn: ROLE_ARN });
      }
    });
    after(async () => {
      await wide?.endAsync();
      await lab?.close();
      await cleanup();
    });

    async function register(templateName: string, serial: string): Promise<{ reply: Reply; certificateId: string }> {
      const keys = await createKeys(wide);
      const reply = await call(
        wide,
        'RegisterThing',
        'json',
        { certificateOwnershipToken: keys.token, parameters: { SerialNumber: serial } },
        templateName,
      );
      return { reply, certificateId: keys.certificateId };
    }

    test('an unknown billing group is refused with 400 InvalidPayload and nothing is created', async () => {
      const before = await snapshot(lab);
      const keys = await createKeys(wide);
      const afterKeys = await snapshot(lab);
      const reply = await call(
        wide,
        'RegisterThing',
        'json',
        { certificateOwnershipToken: keys.token, parameters: { SerialNumber: 'unbilled' } },
        'billed',
      );
      rejectedWith(
        reply,
        400,
        'InvalidPayload',
        /^billing group fleet-bill named by template billed does not exist; create it with CreateBillingGroup$/,
      );
      assert.deepEqual(await snapshot(lab), afterKeys, 'the refused RegisterThing changed the registry');
      assert.notDeepEqual(afterKeys, before);
      assert.equal(await lab.registry.things.get('unbilled'), null);
      assert.equal((await lab.registry.certificates.get(keys.certificateId))?.status, 'PENDING_ACTIVATION');
    });

    test('the new thing joins the billing group the template names', async () => {
      await lab.registry.billingGroups.create({ name: 'fleet-bill' });
      const { reply, certificateId } = await register('billed', 'billed-1');
      assert.equal(accepted(reply).thingName, 'billed-1');
      const thing = await lab.registry.things.get('billed-1');
      assert.equal(thing?.billingGroupName, 'fleet-bill');
      assert.deepEqual((await lab.registry.billingGroups.listThings('fleet-bill')).items, ['billed-1']);
      assert.equal((await lab.registry.certificates.get(certificateId))?.status, 'ACTIVE');
    });

    test('with OverrideSettings REPLACE, re-provisioning an existing thing moves it to the template billing group', async () => {
      await lab.registry.billingGroups.create({ name: 'other-bill' });
      await lab.registry.things.create({ name: 'moving', billingGroupName: 'fleet-bill' });
      accepted((await register('rebilled', 'moving')).reply);
      assert.equal((await lab.registry.things.get('moving'))?.billingGroupName, 'other-bill');
      assert.deepEqual((await lab.registry.billingGroups.listThings('other-bill')).items, ['moving']);
      assert.ok(!(await lab.registry.billingGroups.listThings('fleet-bill')).items.includes('moving'));
    });

    test('a deprecated thing type takes no new thing: 400 InvalidPayload; after undoDeprecate it does', async () => {
      await lab.registry.things.createType({ name: 'old-type' });
      await lab.registry.things.deprecateType('old-type');
      const keys = await createKeys(wide);
      const afterKeys = await snapshot(lab);
      const reply = await call(
        wide,
        'RegisterThing',
        'json',
        { certificateOwnershipToken: keys.token, parameters: { SerialNumber: 'typed-1' } },
        'typed',
      );
      rejectedWith(reply, 400, 'InvalidPayload', /thing type "old-type" is deprecated/);
      assert.deepEqual(await snapshot(lab), afterKeys);
      await lab.registry.things.deprecateType('old-type', { undo: true });
      const retry = await call(
        wide,
        'RegisterThing',
        'json',
        { certificateOwnershipToken: keys.token, parameters: { SerialNumber: 'typed-1' } },
        'typed',
      );
      assert.equal(accepted(retry).thingName, 'typed-1');
      assert.equal((await lab.registry.things.get('typed-1'))?.thingTypeName, 'old-type');
    });
  });
}

billingGroupCases('template BillingGroup and deprecated thing types (SQLite)', () => startLab());

const SCHEMA = `fp_bill_${process.pid}_${randomBytes(4).toString('hex')}`;
if (await requirePostgres('template BillingGroup and deprecated thing types (PostgreSQL)')) {
  billingGroupCases(
    'template BillingGroup and deprecated thing types (PostgreSQL)',
    () => startLab({ db: PG_URL, registryOptions: { schema: SCHEMA } }),
    async () => {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        await client.query(`drop schema if exists "${SCHEMA}" cascade`);
      } finally {
        await client.end();
      }
    },
  );
}
