/**
 * CA key custody on the command line: where the CA passphrase comes from
 * (`--ca-passphrase-file FILE`, else `FLEETPROV_CA_PASSPHRASE`), the words for key-custody
 * failures, and `fleetprov ca encrypt-keys`.
 */
import type { Command } from 'commander';
import { dataDirPaths } from '../data-dir.js';
import { encryptCaKeyFiles, MIN_PASSPHRASE_LENGTH, PkiError } from '../pki/index.js';
import { readInputFile } from './files.js';
import { CliError, type CliIo } from './io.js';

/** Environment variable holding the CA passphrase when no `--ca-passphrase-file` is given. */
export const CA_PASSPHRASE_ENV = 'FLEETPROV_CA_PASSPHRASE';

/**
 * The CA passphrase: the first line of `file` (one trailing newline removed), else
 * `FLEETPROV_CA_PASSPHRASE`, else undefined.
 * @throws {CliError} unreadable or empty file, or a passphrase shorter than the minimum
 */
export async function readCaPassphrase(file: string | undefined): Promise<string | undefined> {
  let passphrase: string | undefined;
  let source: string;
  if (file !== undefined) {
    passphrase = (await readInputFile(file, 'CA passphrase file')).replace(/\r?\n$/, '');
    source = `--ca-passphrase-file ${file}`;
  } else {
    const env = process.env[CA_PASSPHRASE_ENV];
    if (env === undefined || env === '') return undefined;
    passphrase = env;
    source = CA_PASSPHRASE_ENV;
  }
  if (passphrase.includes('\n')) throw new CliError(`${source}: the passphrase must be a single line`);
  if (passphrase.length < MIN_PASSPHRASE_LENGTH)
    throw new CliError(`${source}: the CA passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters`);
  return passphrase;
}

const CUSTODY_CODES = new Set([
  'PassphraseRequired',
  'WrongPassphrase',
  'InvalidPassphrase',
  'PlaintextCaKey',
  'InvalidKey',
  'CaFilesIncomplete',
]);

/** A key-custody failure at start-up as a CLI error (exit 1), or null for any other error. */
export function caCustodyFailure(err: unknown): CliError | null {
  if (err instanceof PkiError && CUSTODY_CODES.has(err.code)) return new CliError(`CA: ${err.message}`, 1);
  return null;
}

/** Adds `ca encrypt-keys` to the `ca` command. */
export function addCaCustodyCommands(ca: Command, io: CliIo): void {
  ca.command('encrypt-keys')
    .description(
      "encrypt a server data directory's CA private keys in place (PKCS#8, scrypt + AES-256-CBC) with the CA passphrase; run it with the server stopped",
    )
    .option('--data-dir <dir>', 'the server data directory', '.fleetprov')
    .option('--ca-passphrase-file <file>', `file whose first line is the CA passphrase (else ${CA_PASSPHRASE_ENV})`)
    .addHelpText(
      'after',
      '\nEach key file is replaced atomically; an interrupted run leaves every key either plaintext or encrypted, and the' +
        '\nserver loads either. Run the command again to finish. Then start the server with the same passphrase (and --production).',
    )
    .action(async (opts: { dataDir: string; caPassphraseFile?: string }) => {
      const passphrase = await readCaPassphrase(opts.caPassphraseFile);
      if (passphrase === undefined) throw new CliError(`give the CA passphrase: --ca-passphrase-file FILE or ${CA_PASSPHRASE_ENV}`);
      const { caDir } = dataDirPaths(opts.dataDir);
      let result;
      try {
        result = await encryptCaKeyFiles(caDir, passphrase);
      } catch (err) {
        const failure = caCustodyFailure(err);
        if (failure) throw failure;
        throw err;
      }
      for (const path of result.encrypted) io.stdout(`encrypted          ${path}\n`);
      for (const path of result.alreadyEncrypted) io.stdout(`already encrypted  ${path}\n`);
      for (const path of result.removedTemporaryFiles) io.stdout(`removed leftover   ${path}\n`);
      io.stdout(
        `the CA keys in ${caDir} are encrypted; start the server with the same passphrase (--ca-passphrase-file or ${CA_PASSPHRASE_ENV}).\n` +
          'Older backups or copies of the data directory still hold the plaintext keys: destroy them.\n',
      );
    });
}
