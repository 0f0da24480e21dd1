/**
 * The HMAC key webhook calls are signed with. By default it is generated on first start in
 * `DATA_DIR/hook-secret` (owner-only, 64 hex characters) and kept across restarts; a webhook reads
 * the same file (or is given its content) to verify calls. `startServer({ hookSecret })` or
 * `FLEETPROV_HOOK_SECRET` sets it explicitly instead (several servers sharing one database need the same key).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@fleetprov/device/atomic-write';
import { join } from 'node:path';
import { ProvisioningError } from './errors.js';

/** File name of the generated secret in the data directory. */
export const HOOK_SECRET_FILE = 'hook-secret';
/** Shortest secret accepted, characters. */
export const MIN_HOOK_SECRET_LENGTH = 16;

/** Checks an explicitly configured secret. @throws {ProvisioningError} `InvalidArgument` */
export function checkHookSecret(secret: string): string {
  if (typeof secret !== 'string' || secret.length < MIN_HOOK_SECRET_LENGTH || secret.length > 1024 || /[\s]/.test(secret)) {
    throw new ProvisioningError('InvalidArgument', `the hook secret must be ${MIN_HOOK_SECRET_LENGTH}-1024 characters without whitespace`);
  }
  return secret;
}

/**
 * Reads `DATA_DIR/hook-secret`, creating it (write temp, fsync, rename; mode 0600) when absent.
 * @returns the secret and the file it is in
 * @throws {ProvisioningError} `InvalidArgument` when the file exists but holds no usable secret
 */
export async function loadOrCreateHookSecret(dataDir: string): Promise<{ secret: string; path: string }> {
  const path = join(dataDir, HOOK_SECRET_FILE);
  try {
    const text = (await readFile(path, 'utf8')).trim();
    try {
      return { secret: checkHookSecret(text), path };
    } catch {
      throw new ProvisioningError(
        'InvalidArgument',
        `${path} does not hold a usable hook secret (${MIN_HOOK_SECRET_LENGTH}+ characters); delete it to generate a new one`,
      );
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(32).toString('hex');
  await writeFileAtomic(path, secret + '\n', { mode: 0o600 });
  // Another process may have renamed its own secret into place at the same moment: use what is on disk.
  return { secret: checkHookSecret((await readFile(path, 'utf8')).trim()), path };
}
