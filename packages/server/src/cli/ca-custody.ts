/**
 * CA key custody on the command line: where the CA passphrase comes from
 * (`--ca-passphrase-file FILE`, else `FLEETPROV_CA_PASSPHRASE`), the words for key-custody
 * failures, and `fleetprov ca encrypt-keys`.
 */
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { writeFileAtomic } from '@fleetprov/device/atomic-write';
import { dataDirPaths } from '../data-dir.js';
import {
  CA_FILES,
  decryptPrivateKey,
  encryptCaKeyFiles,
  encryptPrivateKey,
  initCaDirectory,
  isEncryptedKeyPem,
  issueIssuingCa,
  MIN_PASSPHRASE_LENGTH,
  parseCertificateFacts,
  parsePrivateKeyPem,
  PkiError,
  ROOT_OFFLINE_MARKER,
  type KeyAlgorithm,
} from '../pki/index.js';
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
  'InvalidOption',
  'InvalidCertificate',
  'KeyMismatch',
  'CaMismatch',
  'InvalidValidity',
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

function rethrowCustody(err: unknown): never {
  const failure = caCustodyFailure(err);
  if (failure) throw failure;
  throw err;
}

function daysOption(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 36_600) throw new CliError(`--days must be a number of days from 1 to 36600, got "${value}"`);
  return n;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Adds `ca init`, `ca encrypt-keys` and `ca issue-intermediate` to the `ca` command. */
export function addCaCustodyCommands(ca: Command, io: CliIo): void {
  const caKeyAlgorithm = () =>
    new Option('--key-algorithm <alg>', 'CA key algorithm').choices(['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072']).default('ec-p256');

  ca.command('init')
    .description(
      "create the server's own CA (root + issuing) in DATA_DIR/ca/ before the first start; with --root-offline the root key goes to a file you move away",
    )
    .option('--data-dir <dir>', 'the server data directory', '.fleetprov')
    .option('--root-offline', 'write the root key to --root-key-out instead of DATA_DIR/ca/; the server then runs without it')
    .option('--root-key-out <file>', 'where the offline root key is written (0600; encrypted with the CA passphrase when given)')
    .option(
      '--ca-passphrase-file <file>',
      `file whose first line is the CA passphrase (else ${CA_PASSPHRASE_ENV}); keys are written encrypted`,
    )
    .addOption(caKeyAlgorithm())
    .action(
      async (opts: {
        dataDir: string;
        rootOffline?: boolean;
        rootKeyOut?: string;
        caPassphraseFile?: string;
        keyAlgorithm: KeyAlgorithm;
      }) => {
        if (opts.rootOffline && opts.rootKeyOut === undefined)
          throw new CliError('--root-offline needs --root-key-out FILE (outside the data directory)');
        if (!opts.rootOffline && opts.rootKeyOut !== undefined) throw new CliError('--root-key-out only applies with --root-offline');
        const passphrase = await readCaPassphrase(opts.caPassphraseFile);
        const { caDir } = dataDirPaths(opts.dataDir);
        await mkdir(dataDirPaths(opts.dataDir).dir, { recursive: true, mode: 0o700 });
        let loaded;
        try {
          loaded = await initCaDirectory(caDir, {
            keyAlgorithm: opts.keyAlgorithm,
            ...(passphrase === undefined ? {} : { passphrase }),
            ...(opts.rootKeyOut === undefined ? {} : { rootKeyOut: opts.rootKeyOut }),
          });
        } catch (err) {
          rethrowCustody(err);
        }
        io.stdout(`CA created in ${caDir}\n  root     ${loaded.ca.rootCertificateId}  ${loaded.paths.rootCert} (give it to devices)\n`);
        io.stdout(`  issuing  ${loaded.ca.issuingCertificateId}  key ${loaded.keyStorage.issuing}\n`);
        if (opts.rootKeyOut !== undefined) {
          io.stdout(
            `  root key ${opts.rootKeyOut} (${passphrase === undefined ? 'PLAINTEXT' : 'encrypted'}): move it to offline storage now; the server never needs it.\n` +
              '  A new issuing CA later: fleetprov ca issue-intermediate on the offline machine.\n',
          );
        }
        if (passphrase === undefined) io.stdout('  keys are plaintext (development); give a CA passphrase to encrypt them (docs/ca.md)\n');
      },
    );

  ca.command('issue-intermediate')
    .description(
      `on the offline machine: sign a new issuing CA with the root key; writes a CA directory (${CA_FILES.rootCert}, ${CA_FILES.issuingCert}, ${CA_FILES.issuingKey}, ${ROOT_OFFLINE_MARKER}) to install as DATA_DIR/ca/`,
    )
    .requiredOption('--root-cert <file>', `the root CA certificate (${CA_FILES.rootCert})`)
    .requiredOption('--root-key <file>', 'the offline root CA key (encrypted ones need the CA passphrase)')
    .requiredOption('--out <dir>', 'directory to write the new CA directory to (created 0700; must not hold CA files)')
    .option(
      '--ca-passphrase-file <file>',
      `file whose first line is the CA passphrase (else ${CA_PASSPHRASE_ENV}): decrypts the root key, encrypts the new issuing key`,
    )
    .option('--days <n>', "validity of the issuing CA in days (cut to the root's expiry)", daysOption, 30 * 365 + 7)
    .option('--cn <name>', 'subject common name', 'fleetprov Issuing CA')
    .addOption(caKeyAlgorithm())
    .action(
      async (opts: {
        rootCert: string;
        rootKey: string;
        out: string;
        caPassphraseFile?: string;
        days: number;
        cn: string;
        keyAlgorithm: KeyAlgorithm;
      }) => {
        const passphrase = await readCaPassphrase(opts.caPassphraseFile);
        const rootCertPem = await readInputFile(opts.rootCert, 'root CA certificate');
        const rootKeyText = await readInputFile(opts.rootKey, 'root CA key');
        const outFiles = [CA_FILES.rootCert, CA_FILES.issuingCert, CA_FILES.issuingKey, ROOT_OFFLINE_MARKER].map((n) => join(opts.out, n));
        for (const path of outFiles) if (await exists(path)) throw new CliError(`${path} already exists; choose another --out directory`);
        let issued;
        try {
          if (!parseCertificateFacts(rootCertPem).isCa) throw new CliError(`${opts.rootCert} is not a CA certificate`);
          let rootKey;
          if (isEncryptedKeyPem(rootKeyText)) {
            if (passphrase === undefined)
              throw new CliError(`${opts.rootKey} is encrypted: give the CA passphrase (--ca-passphrase-file or ${CA_PASSPHRASE_ENV})`);
            rootKey = decryptPrivateKey(rootKeyText, passphrase, `the root CA key ${opts.rootKey}`);
          } else rootKey = parsePrivateKeyPem(rootKeyText);
          issued = await issueIssuingCa(
            { certificatePem: rootCertPem, privateKey: rootKey },
            { keyAlgorithm: opts.keyAlgorithm, validityDays: opts.days, subject: { O: 'fleetprov', CN: opts.cn } },
          );
        } catch (err) {
          if (err instanceof CliError) throw err;
          rethrowCustody(err);
        }
        const keyText = passphrase === undefined ? issued.issuingKeyPem : await encryptPrivateKey(issued.issuingKey, passphrase);
        await mkdir(opts.out, { recursive: true, mode: 0o700 });
        const [rootOut, certOut, keyOut, markerOut] = outFiles as [string, string, string, string];
        await writeFileAtomic(keyOut, keyText, { mode: 0o600 });
        await writeFileAtomic(certOut, issued.issuingCertPem, { mode: 0o600 });
        await writeFileAtomic(
          markerOut,
          'The root CA key of this CA is kept offline; the server never loads it (docs/ca.md, "Offline root").\n',
          { mode: 0o600 },
        );
        await writeFileAtomic(rootOut, rootCertPem, { mode: 0o600 });
        io.stdout(`issuing CA ${parseCertificateFacts(issued.issuingCertPem).certificateId} signed by the root\n`);
        for (const path of outFiles) io.stdout(`  ${path}\n`);
        io.stdout(
          `install: copy these files into a new server's DATA_DIR/ca/ (issuing key ${passphrase === undefined ? 'PLAINTEXT' : 'encrypted'}).\n` +
            'Replacing the issuing CA of a running fleet is not supported yet: devices certified by the old one would be refused.\n',
        );
      },
    );

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
        rethrowCustody(err);
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
