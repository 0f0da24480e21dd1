import { Command, CommanderError } from 'commander';
import { addTemplateCommands } from './template-commands.js';
import { addPolicyCommands } from './policy-commands.js';
import { addServerCommand } from './server-command.js';
import { addDemoCommand } from './demo-command.js';
import { addAdminCommands } from './admin-commands.js';
import { addDeviceCommand } from './device-command.js';
import { addRotationCommands } from './rotation-commands.js';
import { addTemplateProtectionCommands } from './template-protection-commands.js';
import { addCaCommands } from './ca-commands.js';
import { addEventsCommand } from './events-command.js';
import { addConsoleCommand } from './console-command.js';
import { addBackupCommands } from './backup-command.js';
import { CliError, processIo, type CliIo } from './io.js';

export { exitQuietlyOnClosedPipe } from './io.js';

/** Builds the `fleetprov` command tree. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('fleetprov')
    .description('fleetprov: self-hosted AWS IoT Fleet Provisioning (server, CA, registry, engines)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  addTemplateCommands(program, io);
  addPolicyCommands(program, io);
  addServerCommand(program, io);
  addDemoCommand(program, io);
  addAdminCommands(program, io);
  addDeviceCommand(program, io);
  addRotationCommands(program, io);
  addTemplateProtectionCommands(program, io);
  addCaCommands(program, io);
  addEventsCommand(program, io);
  addConsoleCommand(program, io);
  addBackupCommands(program, io);
  const configure = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
      configure(sub);
    }
  };
  configure(program);
  return program;
}

/**
 * Runs the CLI and resolves to the process exit code:
 * 0 success, 1 the check failed (invalid template/policy, DENY), 2 bad usage or unreadable input.
 */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv as string[]);
    return 0;
  } catch (err) {
    if (err instanceof CliError) {
      if (err.message) io.stderr(`fleetprov: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof CommanderError) {
      // help and version exit 0; usage errors were already printed by commander
      return err.exitCode === 0 ? 0 : 2;
    }
    io.stderr(`fleetprov: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return 70;
  }
}
