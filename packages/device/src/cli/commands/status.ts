/** `fleetprov-device status`: show the stored identity (thing, certificate id and validity, files). */

import type { Command } from 'commander';
import { resolveUserPath } from '../../config.js';
import { ConfigError, StorageError } from '../../errors.js';
import { loadIdentity } from '../../identity.js';
import { readRuntimeState } from '../../storage.js';
import type { CommandContext } from '../command.js';
import { defaultOutDir } from '../inputs.js';
import { describeError, ExitCode, identityJson, type CliIo } from '../output.js';

/** Flags of `status`. */
export interface StatusFlags {
  out?: string;
  json?: boolean;
}

/** Runs `status`; resolves to the exit code (1 when nothing is provisioned). */
export async function runStatus(flags: StatusFlags, io: CliIo): Promise<number> {
  const dir = resolveUserPath(flags.out ?? defaultOutDir(), process.cwd());
  const json = flags.json === true;
  try {
    const identity = await loadIdentity(dir);
    if (identity === null) {
      const state = await readRuntimeState(dir);
      const stage = state?.fleetprov?.stage;
      const message =
        stage === undefined
          ? `not provisioned: no completed provisioning in ${dir}`
          : `not provisioned yet: provisioning stopped at stage ${stage} (certificate ${state!.fleetprov!.certificateId}); run "fleetprov-device provision" again to resume`;
      if (json) io.stdout(JSON.stringify({ provisioned: false, storageDir: dir, stage: stage ?? null }) + '\n');
      else io.stdout(message + '\n');
      return ExitCode.Failed;
    }
    if (json) {
      io.stdout(JSON.stringify({ provisioned: true, ...identityJson(identity) }) + '\n');
      return ExitCode.Ok;
    }
    const daysLeft = Math.floor((identity.notAfter.getTime() - Date.now()) / 86_400_000);
    const lines = [
      `thing        ${identity.thingName ?? '(none)'}`,
      `client id    ${identity.clientId}`,
      `certificate  ${identity.certificateId}`,
      `valid        ${identity.notBefore.toISOString()} to ${identity.notAfter.toISOString()} (${daysLeft < 0 ? 'EXPIRED' : `${daysLeft} days left`})`,
      `cert file    ${identity.certificatePath}`,
      `key file     ${identity.privateKeyPath}`,
      `state file   ${identity.statePath}`,
      `verified     ${identity.verifiedAt ?? 'unknown'}`,
    ];
    const config = Object.entries(identity.deviceConfiguration);
    if (config.length > 0) lines.push('device configuration:', ...config.map(([k, v]) => `  ${k} = ${v}`));
    if (identity.previous.length > 0) lines.push(`previous certificates kept: ${identity.previous.map((p) => p.certificateId).join(', ')}`);
    io.stdout(lines.join('\n') + '\n');
    return ExitCode.Ok;
  } catch (err) {
    if (json) io.stdout(JSON.stringify({ provisioned: false, storageDir: dir, error: describeError(err) }) + '\n');
    io.stderr(`error: ${(err as Error).message}\n`);
    return err instanceof StorageError || err instanceof ConfigError ? ExitCode.Usage : ExitCode.Failed;
  }
}

/** Registers `status` with the program. */
export function registerStatusCommand(program: Command, ctx: CommandContext): void {
  program
    .command('status')
    .description('Show the stored identity: thing, certificate id and validity, files.')
    .option('--out <dir>', 'credentials directory (default ~/.fleetprov-device)')
    .option('--json', 'machine output')
    .action(async (flags: StatusFlags) => {
      ctx.setExitCode(await runStatus(flags, ctx.io));
    });
}
