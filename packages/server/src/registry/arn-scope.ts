/**
 * The region and account a registry's ARNs were written with. ARNs (and `ownedBy`) are stored with
 * each resource when it is created, so a registry must keep being opened with the same region and
 * account id: {@link checkArnScope} records them on first use and refuses a later mismatch with a
 * message saying what to do, instead of mixing ARNs of two accounts.
 */
import { invalid } from './errors.js';
import { parseIotArn } from './arn.js';
import type { Registry } from './types.js';

/** The setting holding `<region>:<accountId>` of a registry's ARNs. */
export const ARN_SCOPE_SETTING = 'arn-scope';

/** The region and account of the ARN of some resource already stored, or null for an empty registry. */
async function storedScope(registry: Registry): Promise<string | null> {
  const probes: Array<() => Promise<string | undefined>> = [
    async () => (await registry.certificates.list({ pageSize: 1, includeHidden: true })).items[0]?.arn,
    async () => (await registry.policies.list({ pageSize: 1 })).items[0]?.arn,
    async () => (await registry.things.list({ maxResults: 1 })).items[0]?.arn,
    async () => (await registry.thingGroups.list({ maxResults: 1 })).items[0]?.arn,
    async () => (await registry.things.listTypes({ maxResults: 1 })).items[0]?.arn,
    async () => (await registry.templates.list({ maxResults: 1 })).items[0]?.arn,
    async () => (await registry.caCertificates.list({ pageSize: 1 })).items[0]?.arn,
  ];
  for (const probe of probes) {
    const arn = await probe();
    const parsed = arn === undefined ? null : parseIotArn(arn);
    if (parsed !== null) return `${parsed.region}:${parsed.accountId}`;
  }
  return null;
}

/**
 * Records the registry's region and account id on first use and checks them on every later one.
 * A registry created before this check was recorded is judged by the ARN of a resource it holds.
 *
 * @throws {RegistryError} InvalidRequest when the registry holds ARNs of another region or account
 */
export async function checkArnScope(registry: Registry): Promise<void> {
  const wanted = `${registry.region}:${registry.accountId}`;
  let recorded = await registry.settings.get(ARN_SCOPE_SETTING);
  if (recorded === null) recorded = await registry.settings.ensure(ARN_SCOPE_SETTING, (await storedScope(registry)) ?? wanted);
  if (recorded === wanted) return;
  const [region, accountId] = recorded.split(':');
  throw invalid(
    `the registry holds ARNs of region ${region ?? '?'} and account ${accountId ?? '?'}, not ${registry.region} and ${registry.accountId}: ` +
      `start the server with --region ${region ?? '?'} --account-id ${accountId ?? '?'}, or use a new registry (--db) for another account`,
  );
}
