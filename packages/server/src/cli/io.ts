/** Where a CLI command writes; tests pass buffers, the bin passes the process streams. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** The process's own streams. */
export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/**
 * Makes the CLI's standard streams safe to pipe into a reader that stops early
 * (`fleetprov … --help | head`): once standard output's reader is gone (EPIPE) nothing more can be
 * shown, so the process ends quietly with status 0 instead of an unhandled-error stack trace; a
 * closed standard error is ignored (the exit code still tells the outcome). Other stream errors are
 * rethrown. Installed by the bin, once.
 */
export function exitQuietlyOnClosedPipe(
  streams: { stdout: NodeJS.EventEmitter; stderr: NodeJS.EventEmitter } = process,
  exit: (code: number) => void = (code) => process.exit(code),
): void {
  streams.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    exit(0);
  });
  streams.stderr.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

/**
 * An error a command raises to end with a message and an exit code
 * (2: bad usage or unreadable input; 1: the check the command performs failed).
 */
export class CliError extends Error {
  /** Process exit code. */
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
