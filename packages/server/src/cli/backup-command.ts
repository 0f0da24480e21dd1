/**
 * `fleetprov backup` and `fleetprov restore`: encrypted, authenticated snapshots of a data directory
 * (CA material, credentials, the SQLite registry through SQLite's online backup API) — see
 * backup/archive.ts for the format and docs/ca.md, "Backup and restore".
 *
 * Each run is recorded in the registry's event log (type `ca`, operation `backup` / `restore`) with
 * the OS user and host that asked.
 */
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { BackupError, checkPassphrase, REGISTRY_FILE, requester, restoreBackup, writeBackup } from '../backup/archive.js';
import { openRegistry } from '../registry/index.js';
import { readInputFile } from './files.js';
import { CliError, type CliIo } from './io.js';

/** Environment variable holding the backup passphrase (when no --passphrase-file is given). */
export const BACKUP_PASSPHRASE_ENV = 'FLEETPROV_BACKUP_PASSPHRASE';

/** The passphrase from `--passphrase-file` (first line) or {@link BACKUP_PASSPHRASE_ENV}. */
async function passphrase(file: string | undefined): Promise<string> {
  const value =
    file !== undefined ? (await readInputFile(file, '--passphrase-file')).split(/\r?\n/)[0]! : process.env[BACKUP_PASSPHRASE_ENV];
  if (value === undefined || value === '') throw new CliError(`no passphrase: pass --passphrase-file FILE or set ${BACKUP_PASSPHRASE_ENV}`);
  try {
    return checkPassphrase(value);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** Appends an audit event to a registry; a failure is reported, not fatal (the backup itself is done). */
async function audit(
  location: string,
  operation: 'backup' | 'restore',
  message: string,
  details: Record<string, unknown>,
  io: CliIo,
): Promise<void> {
  try {
    // Never create a registry that is not there (a mistyped --data-dir): only an existing SQLite file is opened.
    if (!/^postgres(ql)?:\/\//i.test(location)) await access(location);
    const registry = await openRegistry(location);
    try {
      await registry.events.append({ type: 'ca', operation, outcome: 'info', message, details: { requestedBy: requester(), ...details } });
    } finally {
      await registry.close();
    }
  } catch (err) {
    io.stderr(`fleetprov: warning: could not record the ${operation} in the event log: ${(err as Error).message}\n`);
  }
}

function backupFailure(err: unknown): unknown {
  return err instanceof BackupError ? new CliError(err.message, 1) : err;
}

/** Adds `fleetprov backup` and `fleetprov restore`. */
export function addBackupCommands(program: Command, io: CliIo): void {
  program
    .command('backup')
    .description(
      'write an encrypted, authenticated backup of a data directory (CA, credentials, SQLite registry); safe while the server runs',
    )
    .requiredOption('--out <file>', 'backup file to write (mode 0600)')
    .option('--data-dir <dir>', 'data directory of the server', '.fleetprov')
    .option(
      '--db <url>',
      "the server's registry if not DATA_DIR/registry.db: a SQLite path, or postgres://… (then back the database up with pg_dump)",
    )
    .option('--passphrase-file <file>', `file whose first line is the passphrase (at least 12 characters); else ${BACKUP_PASSPHRASE_ENV}`)
    .addHelpText(
      'after',
      '\nRestore with: fleetprov restore FILE --data-dir NEW_DIR (same passphrase). See docs/ca.md, "Backup and restore".',
    )
    .action(async (opts: { out: string; dataDir: string; db?: string; passphraseFile?: string }) => {
      const secret = await passphrase(opts.passphraseFile);
      const registry = opts.db ?? join(resolve(opts.dataDir), REGISTRY_FILE);
      // Recorded first, so the backup carries its own audit event.
      await audit(registry, 'backup', `backup to ${resolve(opts.out)}`, { file: resolve(opts.out) }, io);
      const manifest = await writeBackup({
        dataDir: opts.dataDir,
        ...(opts.db !== undefined ? { db: opts.db } : {}),
        passphrase: secret,
        out: opts.out,
      }).catch((err: unknown) => {
        throw backupFailure(err);
      });
      io.stdout(`backup written: ${resolve(opts.out)} (${manifest.files.length} files, registry: ${manifest.registry})\n`);
      if (manifest.registry === 'postgres')
        io.stdout('the PostgreSQL registry is not in this file: back it up with pg_dump (docs/ca.md, "Backup and restore")\n');
    });

  program
    .command('restore <file>')
    .description(
      'restore a backup written by `fleetprov backup` into a new data directory (a tampered file or wrong passphrase is refused)',
    )
    .requiredOption('--data-dir <dir>', 'data directory to create (must not exist or be empty)')
    .option('--passphrase-file <file>', `file whose first line is the passphrase; else ${BACKUP_PASSPHRASE_ENV}`)
    .addHelpText('after', '\nThen start the server on it: fleetprov server --data-dir DIR')
    .action(async (file: string, opts: { dataDir: string; passphraseFile?: string }) => {
      const secret = await passphrase(opts.passphraseFile);
      const manifest = await restoreBackup(file, secret, opts.dataDir).catch((err: unknown) => {
        throw backupFailure(err);
      });
      const dir = resolve(opts.dataDir);
      if (manifest.registry === 'sqlite')
        await audit(
          join(dir, REGISTRY_FILE),
          'restore',
          `restored from ${resolve(file)} (written ${manifest.createdAt})`,
          { file: resolve(file), backupCreatedAt: manifest.createdAt, backupCreatedBy: manifest.createdBy },
          io,
        );
      io.stdout(`restored ${manifest.files.length} files into ${dir} (backup of ${manifest.createdAt})\n`);
      if (manifest.registry === 'postgres') io.stdout('restore the PostgreSQL registry from its pg_dump before starting the server\n');
      io.stdout(`start the server with: fleetprov server --data-dir ${dir}\n`);
    });
}
