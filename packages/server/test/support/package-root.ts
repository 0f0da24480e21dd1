/**
 * Finds the `@fleetprov/server` package root by walking up from this file, so test helpers read
 * fixtures the same way under tsx (test/) and from compiled output (dist/test/).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** Absolute path of packages/server. */
export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === '@fleetprov/server')
      return (cached = dir);
    const parent = dirname(dir);
    if (parent === dir) throw new Error('could not find the @fleetprov/server package root');
    dir = parent;
  }
}

/** Path of a file under test/fixtures. */
export function fixturePath(...parts: string[]): string {
  return join(packageRoot(), 'test', 'fixtures', ...parts);
}
