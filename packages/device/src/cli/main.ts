/**
 * `fleetprov-device`: provision a device by claim (or just in time), rotate its certificate, and
 * show its stored identity. One module per command in ./commands; output helpers in ./output.ts.
 *
 * Exit codes: 0 success, 1 provisioning failed (or nothing provisioned for
 * `status`), 2 bad usage or unreadable input, 130 interrupted.
 */

import { Command, CommanderError } from 'commander';
import type { CommandContext } from './command.js';
import { registerProvisionCommand } from './commands/provision.js';
import { registerRotateCommand } from './commands/rotate.js';
import { registerStatusCommand } from './commands/status.js';
import { ExitCode, processIo, type CliIo } from './output.js';

export { ExitCode, describeError, exitQuietlyOnClosedPipe, type CliIo } from './output.js';
export { defaultOutDir } from './inputs.js';
export { buildProvisionOptions } from './commands/provision.js';
export { settingsFromFlags } from './commands/provision-flags.js';

/** Builds the commander program; `result.code` receives the exit code of the action that ran. */
function buildProgram(io: CliIo, result: { code: number }): Command {
  const program = new Command('fleetprov-device')
    .description('Provision this device with AWS IoT Fleet Provisioning (by claim), against fleetprov or AWS IoT Core.')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)');
  const ctx: CommandContext = { io, setExitCode: (code) => void (result.code = code) };
  registerProvisionCommand(program, ctx);
  registerRotateCommand(program, ctx);
  registerStatusCommand(program, ctx);
  return program;
}

/**
 * Runs the CLI.
 *
 * @param argv full argument vector as in `process.argv` (`[node, script, ...args]`).
 * @param io where to write; the process streams by default.
 * @returns the exit code.
 */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const result = { code: ExitCode.Ok as number };
  const program = buildProgram(io, result);
  if (argv.length <= 2) {
    io.stdout(program.helpInformation());
    return ExitCode.Usage;
  }
  try {
    await program.parseAsync(argv, { from: 'node' });
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return ExitCode.Ok;
      return ExitCode.Usage;
    }
    io.stderr(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCode.Failed;
  }
}
