/**
 * Child process of the crash test in `provision-e2e.test.ts`: runs `provision()`
 * and reports on stdout, one JSON object per line:
 *
 * - `{"type":"progress", ...ProgressEvent}` for every progress event;
 * - `{"type":"key-written","path":...}` the moment the private key file has been
 *   renamed into place — and then this process stops making progress (the
 *   rename never returns), so the parent can SIGKILL it exactly between the key
 *   write and the certificate/state writes, without a race;
 * - `{"type":"result", ...}` if provisioning ends (it should not).
 *
 * Usage: provision-child.(ts|js) CONFIG.json, where CONFIG holds `ProvisionOptions`
 * without callbacks.
 */

import { readFileSync } from 'node:fs';
import type * as FsPromisesModule from 'node:fs/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';

type FsPromises = typeof FsPromisesModule;

const require = createRequire(import.meta.url);
const fsp = require('node:fs/promises') as FsPromises;
const realRename = fsp.rename;

function report(value: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

// Every ESM `import { rename } from 'node:fs/promises'` sees this after syncBuiltinESMExports().
fsp.rename = async (from, to) => {
  await realRename(from, to);
  if (String(to).endsWith('-private.pem.key')) {
    report({ type: 'key-written', path: String(to) });
    await new Promise<never>(() => {
      setInterval(() => {}, 60_000); // keeps the process alive until the parent kills it
    });
  }
};
syncBuiltinESMExports();

// Loaded only now, so that the device modules see the patched rename.
const { provision } = await import('@fleetprov/device');
const options = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Parameters<typeof provision>[0];
try {
  const identity = await provision({ ...options, onProgress: (e) => report({ type: 'progress', ...e }) });
  report({ type: 'result', ok: true, certificateId: identity.certificateId });
} catch (err) {
  report({ type: 'result', ok: false, error: String(err) });
  process.exitCode = 1;
}
