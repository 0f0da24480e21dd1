import { main } from '../../src/cli/main.js';
import { fixturePath, packageRoot } from '../support/package-root.js';

export { packageRoot };

/** Path of a file under test/fixtures. */
export const fixture = fixturePath;

/** Runs the CLI in-process and captures its output. */
export async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'fleetprov', ...args], { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  return { code, stdout, stderr };
}
