import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest ancestor of this file holding `packages/device` and `packages/server` (works from test/ and dist/test/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'packages', 'device')) && existsSync(join(dir, 'packages', 'server'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root (the directory holding packages/) not found');
    dir = up;
  }
}
