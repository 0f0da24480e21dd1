/**
 * Trusted-user provisioning (AWS: provision-wo-cert.html#trusted-user): CreateProvisioningClaim issues a temporary claim certificate
 * for one template. It is ACTIVE for {@link TEMPORARY_CLAIM_LIFETIME_MS} (5 minutes; the X.509
 * `notAfter` is the same instant), hidden from ListCertificates, and authorized by an implicit
 * policy that allows only the certificate topics and that template's RegisterThing topics — no
 * policy is attached or stored. The sweeper deletes it once expired (unless a thing uses it).
 */
import { randomBytes } from 'node:crypto';
import { TEMPORARY_CLAIM_LIFETIME_MS } from '@fleetprov/protocol';
import { certificateRecord } from '../certificate-record.js';
import { createKeysAndCertificate } from '../pki/index.js';
import type { NamedPolicy } from '../policy/index.js';
import type { ServiceContext } from '../service-context.js';

export { TEMPORARY_CLAIM_LIFETIME_MS };

/** What CreateProvisioningClaim returns. */
export interface TemporaryClaim {
  certificateId: string;
  certificateArn: string;
  certificatePem: string;
  publicKeyPem: string;
  privateKeyPem: string;
  /** Expiry, epoch ms (= the certificate's notAfter). */
  expiresAt: number;
}

/** Name under which the implicit policy appears in authorization decisions. */
export const TEMPORARY_CLAIM_POLICY_NAME = 'fleetprov-temporary-claim';

/** The implicit policy of a temporary claim for `templateName` (the shape of AWS's example claim policy). */
export function temporaryClaimPolicy(templateName: string): NamedPolicy {
  const topics = [
    '$aws/certificates/create/*',
    '$aws/certificates/create-from-csr/*',
    `$aws/provisioning-templates/${templateName}/provision/*`,
  ];
  const document = {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['iot:Connect'], Resource: '*' },
      { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: topics.map((t) => `arn:aws:iot:*:*:topic/${t}`) },
      { Effect: 'Allow', Action: ['iot:Subscribe'], Resource: topics.map((t) => `arn:aws:iot:*:*:topicfilter/${t}`) },
    ],
  };
  return { policyName: `${TEMPORARY_CLAIM_POLICY_NAME}-${templateName}`, version: '1', document: JSON.stringify(document) };
}

/**
 * Issues and stores a temporary claim certificate for `templateName` (which the caller checked exists).
 * @param lifetimeMs validity from now; default 5 minutes (tests may shorten it)
 */
export async function createTemporaryClaim(
  ctx: ServiceContext,
  templateName: string,
  lifetimeMs: number = TEMPORARY_CLAIM_LIFETIME_MS,
): Promise<TemporaryClaim> {
  const now = ctx.now();
  // AWS's temporary claims: subject CN of 64 random hex digits, backdated 2 minutes, RSA-2048 (our configured algorithm).
  const issued = await createKeysAndCertificate(ctx.ca, {
    keyAlgorithm: ctx.keyAlgorithm,
    keyPool: ctx.keyPool,
    subject: { CN: randomBytes(32).toString('hex') },
    now,
    notAfter: new Date(now.getTime() + lifetimeMs),
  });
  const facts = issued.facts;
  const row = await ctx.registry.certificates.create(
    certificateRecord(issued.certificatePem, facts, 'ACTIVE', {
      hidden: true,
      expiresAt: facts.notAfter.getTime(),
      claimTemplateName: templateName,
    }),
  );
  ctx.certificateFacts?.remember(facts);
  return {
    certificateId: row.id,
    certificateArn: row.arn,
    certificatePem: row.pem,
    publicKeyPem: issued.publicKeyPem,
    privateKeyPem: issued.privateKeyPem,
    expiresAt: row.expiresAt ?? row.notAfter,
  };
}
