/** What every `fleetprov-device` command module receives when it registers with the program. */

import type { CliIo } from './output.js';

/** Where a command writes, and how it hands back its exit code. */
export interface CommandContext {
  io: CliIo;
  /** Records the exit code of the action that ran. */
  setExitCode: (code: number) => void;
}
