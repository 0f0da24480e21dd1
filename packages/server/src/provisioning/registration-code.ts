/**
 * The account's CA registration code (GetRegistrationCode / DeleteRegistrationCode): 64 hex digits,
 * created on first use and shared by every server process on the database. A verification
 * certificate proves possession of a CA's key by carrying it as its subject CN.
 */
import { randomBytes } from 'node:crypto';
import type { Registry } from '../registry/index.js';

/** Settings key holding the code. */
export const REGISTRATION_CODE_SETTING = 'registration-code';

/** The registration code, created (atomically, first writer wins) when there is none. */
export async function getRegistrationCode(registry: Registry): Promise<string> {
  const existing = await registry.settings.get(REGISTRATION_CODE_SETTING);
  if (existing !== null) return existing;
  return registry.settings.ensure(REGISTRATION_CODE_SETTING, randomBytes(32).toString('hex'));
}

/**
 * DeleteRegistrationCode: forgets the code, so the next GetRegistrationCode makes a new one and
 * verification certificates made for the old one stop working. Registered CAs are not affected.
 */
export async function deleteRegistrationCode(registry: Registry): Promise<void> {
  await registry.settings.delete(REGISTRATION_CODE_SETTING);
}
