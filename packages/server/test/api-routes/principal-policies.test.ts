/**
 * The deprecated principal-policy operations through the real `@aws-sdk/client-iot`
 * (AttachPrincipalPolicy, DetachPrincipalPolicy, ListPrincipalPolicies with the principal in
 * `x-amzn-iot-principal`, ListPolicyPrincipals with the policy in `x-amzn-iot-policy`): the same
 * attachments AttachPolicy / ListTargetsForPolicy see; malformed, unsigned and replayed requests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AttachPolicyCommand,
  AttachPrincipalPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateThingGroupCommand,
  DetachPrincipalPolicyCommand,
  ListAttachedPoliciesCommand,
  ListPolicyPrincipalsCommand,
  ListPrincipalPoliciesCommand,
  ListTargetsForPolicyCommand,
} from '@aws-sdk/client-iot';
import { ADMIN, rawRequest, signForWire, smithySigner } from '../api/helpers.js';
import { ACCOUNT_ID, REGION, assertUnchanged, expectAwsError, startRoutesEnv, type RoutesEnv } from './helpers.js';
import { assertRawError, assertSigV4Refusals, replaySigned } from './wire.js';

let env: RoutesEnv;
let certA: string;
let certB: string;
const DOC = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }] });
const policyArn = (name: string): string => `arn:aws:iot:${REGION}:${ACCOUNT_ID}:policy/${name}`;
const groupArn = `arn:aws:iot:${REGION}:${ACCOUNT_ID}:thinggroup/legacy-group`;

before(async () => {
  env = await startRoutesEnv();
  certA = (await env.client.send(new CreateKeysAndCertificateCommand({ setAsActive: true }))).certificateArn ?? '';
  certB = (await env.client.send(new CreateKeysAndCertificateCommand({ setAsActive: true }))).certificateArn ?? '';
  for (const policyName of ['pol-1', 'pol-2', 'pol-3']) await env.client.send(new CreatePolicyCommand({ policyName, policyDocument: DOC }));
  await env.client.send(new CreateThingGroupCommand({ thingGroupName: 'legacy-group' }));
});
after(() => env.close());

describe('AttachPrincipalPolicy / ListPrincipalPolicies / ListPolicyPrincipals / DetachPrincipalPolicy', () => {
  it('attaches to certificates and thing groups, visible to the current operations too', async () => {
    for (const policyName of ['pol-1', 'pol-2', 'pol-3']) {
      await env.client.send(new AttachPrincipalPolicyCommand({ policyName, principal: certA }));
      await new Promise((resolve) => setTimeout(resolve, 3)); // distinct attachment times
    }
    await env.client.send(new AttachPrincipalPolicyCommand({ policyName: 'pol-1', principal: certA })); // again: no change
    await env.client.send(new AttachPrincipalPolicyCommand({ policyName: 'pol-1', principal: certB }));
    await env.client.send(new AttachPrincipalPolicyCommand({ policyName: 'pol-2', principal: groupArn }));
    const attached = await env.client.send(new ListAttachedPoliciesCommand({ target: certA }));
    assert.deepEqual(
      attached.policies?.map((p) => p.policyName),
      ['pol-1', 'pol-2', 'pol-3'],
    );
    const targets = await env.client.send(new ListTargetsForPolicyCommand({ policyName: 'pol-1' }));
    assert.deepEqual([...(targets.targets ?? [])].sort(), [certA, certB].sort());
  });

  it('ListPrincipalPolicies: newest attachment first, ascending on request, with paging', async () => {
    const desc = await env.client.send(new ListPrincipalPoliciesCommand({ principal: certA }));
    assert.deepEqual(desc.policies, [
      { policyName: 'pol-3', policyArn: policyArn('pol-3') },
      { policyName: 'pol-2', policyArn: policyArn('pol-2') },
      { policyName: 'pol-1', policyArn: policyArn('pol-1') },
    ]);
    assert.equal(desc.nextMarker, undefined);
    const first = await env.client.send(new ListPrincipalPoliciesCommand({ principal: certA, ascendingOrder: true, pageSize: 2 }));
    assert.deepEqual(
      first.policies?.map((p) => p.policyName),
      ['pol-1', 'pol-2'],
    );
    assert.ok(first.nextMarker);
    const rest = await env.client.send(
      new ListPrincipalPoliciesCommand({ principal: certA, ascendingOrder: true, pageSize: 2, marker: first.nextMarker }),
    );
    assert.deepEqual(
      rest.policies?.map((p) => p.policyName),
      ['pol-3'],
    );
    assert.equal(rest.nextMarker, undefined);
    const group = await env.client.send(new ListPrincipalPoliciesCommand({ principal: groupArn }));
    assert.deepEqual(group.policies, [{ policyName: 'pol-2', policyArn: policyArn('pol-2') }]);
  });

  it('ListPolicyPrincipals: the certificate ARNs only (not thing groups), with paging', async () => {
    await env.client.send(new AttachPolicyCommand({ policyName: 'pol-1', target: groupArn }));
    const all = await env.client.send(new ListPolicyPrincipalsCommand({ policyName: 'pol-1', ascendingOrder: true }));
    assert.deepEqual(all.principals, [certA, certB]);
    const page = await env.client.send(new ListPolicyPrincipalsCommand({ policyName: 'pol-1', pageSize: 1 }));
    assert.deepEqual(page.principals, [certB]);
    const rest = await env.client.send(new ListPolicyPrincipalsCommand({ policyName: 'pol-1', pageSize: 1, marker: page.nextMarker }));
    assert.deepEqual(rest.principals, [certA]);
    assert.equal(rest.nextMarker, undefined);
    assert.deepEqual((await env.client.send(new ListPolicyPrincipalsCommand({ policyName: 'pol-3' }))).principals, [certA]);
  });

  it('detaches; detaching what is not attached succeeds, as DetachPolicy', async () => {
    await env.client.send(new DetachPrincipalPolicyCommand({ policyName: 'pol-2', principal: certA }));
    assert.deepEqual(
      (await env.client.send(new ListPrincipalPoliciesCommand({ principal: certA, ascendingOrder: true }))).policies?.map(
        (p) => p.policyName,
      ),
      ['pol-1', 'pol-3'],
    );
    await env.client.send(new DetachPrincipalPolicyCommand({ policyName: 'pol-2', principal: certA }));
    await env.client.send(new DetachPrincipalPolicyCommand({ policyName: 'pol-2', principal: groupArn }));
    assert.deepEqual((await env.client.send(new ListPrincipalPoliciesCommand({ principal: groupArn }))).policies, [
      { policyName: 'pol-1', policyArn: policyArn('pol-1') },
    ]);
  });

  it('unknown policies and principals are not found; other principals and malformed input are invalid', async () => {
    const unknownCert = `arn:aws:iot:${REGION}:${ACCOUNT_ID}:cert/${'e'.repeat(64)}`;
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(new AttachPrincipalPolicyCommand({ policyName: 'ghost', principal: certA })),
        'ResourceNotFoundException',
        {
          status: 404,
        },
      );
      await expectAwsError(
        env.client.send(new AttachPrincipalPolicyCommand({ policyName: 'pol-1', principal: unknownCert })),
        'ResourceNotFoundException',
      );
      await expectAwsError(env.client.send(new ListPrincipalPoliciesCommand({ principal: unknownCert })), 'ResourceNotFoundException');
      await expectAwsError(env.client.send(new ListPolicyPrincipalsCommand({ policyName: 'ghost' })), 'ResourceNotFoundException');
      await expectAwsError(
        env.client.send(
          new AttachPrincipalPolicyCommand({ policyName: 'pol-1', principal: 'us-east-1:0f0e0d0c-0b0a-0908-0706-050403020100' }),
        ),
        'InvalidRequestException',
        { status: 400, message: /principal/ },
      );
      await expectAwsError(
        env.client.send(
          new AttachPrincipalPolicyCommand({ policyName: 'pol-1', principal: `arn:aws:iot:${REGION}:${ACCOUNT_ID}:thing/t` }),
        ),
        'InvalidRequestException',
        { message: /certificate ARN or a thing group ARN/ },
      );
      await expectAwsError(
        env.client.send(
          new AttachPrincipalPolicyCommand({ policyName: 'pol-1', principal: `arn:aws:iot:${REGION}:999999999999:cert/${'a'.repeat(64)}` }),
        ),
        'InvalidRequestException',
        { message: /account 999999999999/ },
      );
      await expectAwsError(
        env.client.send(new AttachPrincipalPolicyCommand({ policyName: 'no spaces', principal: certA })),
        'InvalidRequestException',
        {
          message: /^policyName "no spaces" must match/,
        },
      );
      await expectAwsError(
        env.client.send(new AttachPrincipalPolicyCommand({ policyName: 'pol-1', principal: '' })),
        'InvalidRequestException',
        {
          message: /x-amzn-iot-principal/,
        },
      );
      await expectAwsError(env.client.send(new ListPolicyPrincipalsCommand({ policyName: 'p'.repeat(129) })), 'InvalidRequestException', {
        message: /x-amzn-iot-policy must be at most 128 characters long/,
      });
      await expectAwsError(
        env.client.send(new ListPrincipalPoliciesCommand({ principal: certA, pageSize: 251 })),
        'InvalidRequestException',
        {
          message: /pageSize must be between 1 and 250/,
        },
      );
      await expectAwsError(
        env.client.send(new ListPrincipalPoliciesCommand({ principal: certA, marker: 'bogus' })),
        'InvalidRequestException',
      );
    });
  });

  it('an oversized principal header is refused before the operation runs', async () => {
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(
        env.client.send(new AttachPrincipalPolicyCommand({ policyName: 'pol-1', principal: `${certA}${'x'.repeat(2048)}` })),
        'InvalidRequestException',
        { message: /x-amzn-iot-principal must be at most 2048 characters long/ },
      );
    });
  });

  it('a replayed signed AttachPrincipalPolicy attaches once; a replayed ListPolicyPrincipals answers the same', async () => {
    const [a, b] = await replaySigned(env, {
      method: 'PUT',
      path: '/principal-policies/pol-2',
      headers: { 'x-amzn-iot-principal': certB },
    });
    assert.equal(a?.status, 200, a?.body);
    assert.equal(b?.status, 200, b?.body);
    const [l1, l2] = await replaySigned(env, { method: 'GET', path: '/policy-principals', headers: { 'x-amzn-iot-policy': 'pol-2' } });
    assert.deepEqual(l1?.json(), { principals: [certB] });
    assert.deepEqual(l2?.json(), l1?.json());
    // A header swapped after signing is refused: the signature covers it.
    const signed = await signForWire(
      env.baseUrl,
      { method: 'GET', path: '/principal-policies', headers: { 'x-amzn-iot-principal': certB } },
      smithySigner(ADMIN),
    );
    const tampered = await rawRequest(env.baseUrl, {
      method: 'GET',
      path: signed.path,
      headers: { ...signed.headers, 'x-amzn-iot-principal': certA },
      ca: env.ca.rootCertificatePem,
    });
    assertRawError(tampered, 403, 'InvalidSignatureException');
  });

  it('refuses requests without a valid signature, changing nothing', async () => {
    await assertSigV4Refusals(env, (c) => c.send(new AttachPrincipalPolicyCommand({ policyName: 'pol-3', principal: certB })));
    await assertSigV4Refusals(env, (c) => c.send(new DetachPrincipalPolicyCommand({ policyName: 'pol-1', principal: certA })));
    await assertSigV4Refusals(env, (c) => c.send(new ListPrincipalPoliciesCommand({ principal: certA })));
    await assertSigV4Refusals(env, (c) => c.send(new ListPolicyPrincipalsCommand({ policyName: 'pol-1' })));
  });
});
