import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder of an installed workspace package (`@fleetprov/server`, `@fleetprov/device`), found
 * the way Node finds it: its main entry is `<folder>/dist/src/index.js`.
 */
export function packageRoot(name: string): string {
  return join(dirname(fileURLToPath(import.meta.resolve(name))), '..', '..');
}
