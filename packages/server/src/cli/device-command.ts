import type { Command } from 'commander';
import { main as deviceMain } from '@fleetprov/device/cli';
import { CliError, type CliIo } from './io.js';

/** Adds `fleetprov device ...`, the device CLI (`fleetprov-device`) under the server's bin. */
export function addDeviceCommand(program: Command, io: CliIo): void {
  program
    .command('device')
    .description('the device client (same as fleetprov-device): provision, status, rotate — run `fleetprov device --help`')
    .helpOption(false)
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .argument('[args...]')
    .action(async (args: string[]) => {
      const code = await deviceMain(['node', 'fleetprov-device', ...args], { stdout: io.stdout, stderr: io.stderr });
      if (code !== 0) throw new CliError('', code);
    });
}
