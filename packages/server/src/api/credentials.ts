/**
 * Admin access keys for the control plane, and the AWS shared-credentials file that makes any
 * AWS SDK or the AWS CLI use them (`AWS_SHARED_CREDENTIALS_FILE=<path>`).
 *
 * The file is the INI format the SDKs read: `[profile]` sections holding `aws_access_key_id`,
 * `aws_secret_access_key` and optionally `aws_session_token`. Writing replaces one profile and
 * keeps every other line of an existing file; the write is atomic (temporary file, fsync,
 * rename) and leaves the file with mode 0600.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '@fleetprov/device/atomic-write';
import type { CredentialStore } from './sigv4.js';

/** An access key id and its secret. */
export interface AccessKeyPair {
  accessKeyId: string;
  secretAccessKey: string;
}

/** One profile of a shared-credentials file. */
export interface SharedCredentialsProfile extends AccessKeyPair {
  sessionToken?: string;
}

/** Codes of {@link CredentialsFileError}. */
export type CredentialsFileErrorCode = 'INVALID_PROFILE_NAME' | 'INVALID_CREDENTIALS' | 'FILE_TOO_LARGE' | 'INCOMPLETE_PROFILE';

/** A problem with a shared-credentials file or with the values to write to it. */
export class CredentialsFileError extends Error {
  /** What went wrong. */
  readonly code: CredentialsFileErrorCode;
  /** The file concerned, when there is one. */
  readonly path: string | undefined;

  constructor(code: CredentialsFileErrorCode, message: string, path?: string) {
    super(message);
    this.name = 'CredentialsFileError';
    this.code = code;
    this.path = path;
  }
}

/** Largest shared-credentials file read, in bytes. */
export const MAX_CREDENTIALS_FILE_BYTES = 1024 * 1024;

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const PROFILE_NAME_RE = /^[A-Za-z0-9_.@+=,-]{1,128}$/;
const ACCESS_KEY_ID_RE = /^[A-Za-z0-9]{16,128}$/;
const SECRET_RE = /^[\x21-\x7e]{16,256}$/;
const TOKEN_RE = /^[\x21-\x7e]{1,4096}$/;
const KEY_ID = 'aws_access_key_id';
const KEY_SECRET = 'aws_secret_access_key';
const KEY_TOKEN = 'aws_session_token';

/**
 * Generates an access key pair shaped like AWS's: an id of `AKIA` plus 16 characters of the
 * base32 alphabet (`A-Z2-7`), and a 40-character secret of the base64 alphabet; both from the
 * system CSPRNG, uniformly distributed.
 */
export function generateAccessKeyPair(): AccessKeyPair {
  return {
    accessKeyId: `AKIA${randomString(BASE32_ALPHABET, 16)}`,
    secretAccessKey: randomString(BASE64_ALPHABET, 40),
  };
}

/**
 * A {@link CredentialStore} over a fixed set of long-term keys. Requests that present a session
 * token are refused: long-term keys have no sessions.
 */
export function staticCredentialStore(pairs: Iterable<AccessKeyPair>): CredentialStore {
  const secrets = new Map<string, string>();
  for (const { accessKeyId, secretAccessKey } of pairs) secrets.set(accessKeyId, secretAccessKey);
  return (accessKeyId, sessionToken) => (sessionToken === undefined ? secrets.get(accessKeyId) : undefined);
}

/**
 * Parses shared-credentials text into its profiles (keys compared case-insensitively, `#` and
 * `;` comment lines ignored). A profile appears only when it has both an access key id and a
 * secret.
 */
export function parseSharedCredentials(text: string): Map<string, SharedCredentialsProfile> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
    const header = sectionName(trimmed);
    if (header !== undefined) {
      current = sections.get(header) ?? new Map<string, string>();
      sections.set(header, current);
      continue;
    }
    if (current === undefined || /^\s/.test(line)) continue;
    const eq = trimmed.indexOf('=');
    if (eq === -1) continue;
    current.set(trimmed.slice(0, eq).trim().toLowerCase(), trimmed.slice(eq + 1).trim());
  }
  const profiles = new Map<string, SharedCredentialsProfile>();
  for (const [name, values] of sections) {
    const accessKeyId = values.get(KEY_ID);
    const secretAccessKey = values.get(KEY_SECRET);
    if (!accessKeyId || !secretAccessKey) continue;
    const sessionToken = values.get(KEY_TOKEN);
    profiles.set(name, sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey });
  }
  return profiles;
}

/**
 * Returns `text` with `profile` set to `credentials`: inside an existing section the three
 * credential keys are replaced (a stale session token is removed) and other lines kept; a
 * missing section is appended. Every other section is left byte for byte.
 *
 * @throws {CredentialsFileError} `INVALID_PROFILE_NAME` or `INVALID_CREDENTIALS`
 */
export function setSharedCredentialsProfile(text: string, credentials: SharedCredentialsProfile, profile = 'default'): string {
  validateProfile(profile);
  validateCredentials(credentials);
  const wanted: [string, string][] = [
    [KEY_ID, credentials.accessKeyId],
    [KEY_SECRET, credentials.secretAccessKey],
  ];
  if (credentials.sessionToken !== undefined) wanted.push([KEY_TOKEN, credentials.sessionToken]);
  const newLines = wanted.map(([key, value]) => `${key} = ${value}`);

  const lines = text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/);
  const out: string[] = [];
  let inTarget = false;
  let found = false;
  for (const line of lines) {
    const header = sectionName(line.trim());
    if (header !== undefined) {
      inTarget = header === profile && !found;
      out.push(line);
      if (inTarget) {
        found = true;
        out.push(...newLines);
      }
      continue;
    }
    if (inTarget) {
      const eq = line.indexOf('=');
      const key = eq === -1 ? '' : line.slice(0, eq).trim().toLowerCase();
      if (key === KEY_ID || key === KEY_SECRET || key === KEY_TOKEN) continue;
    }
    out.push(line);
  }
  if (!found) {
    if (out.length > 0 && out[out.length - 1]?.trim() !== '') out.push('');
    out.push(`[${profile}]`, ...newLines);
  }
  return `${out.join('\n')}\n`;
}

/**
 * Writes (or updates) `profile` of the shared-credentials file at `path`, keeping its other
 * profiles. Creates the parent directory (mode 0700) if needed. Atomic: the new content goes to
 * a temporary file in the same directory with mode 0600, is fsynced, then renamed over `path`
 * (`@fleetprov/device/atomic-write`, the one helper every file fleetprov writes goes through).
 *
 * @throws {CredentialsFileError} for an invalid profile name or key values, or an existing file
 *   larger than {@link MAX_CREDENTIALS_FILE_BYTES}; `StorageError` (of `@fleetprov/device`) when writing fails
 */
export async function writeSharedCredentialsFile(path: string, credentials: SharedCredentialsProfile, profile = 'default'): Promise<void> {
  validateProfile(profile);
  validateCredentials(credentials);
  const existing = (await readBounded(path)) ?? '';
  const content = setSharedCredentialsProfile(existing, credentials, profile);
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, content, { mode: 0o600 });
}

/**
 * Reads `profile` from the shared-credentials file at `path`.
 *
 * @returns the profile, or `undefined` when the file or the profile does not exist
 * @throws {CredentialsFileError} `INCOMPLETE_PROFILE` when the profile lacks the key id or the
 *   secret, `FILE_TOO_LARGE` beyond {@link MAX_CREDENTIALS_FILE_BYTES}
 */
export async function readSharedCredentialsFile(path: string, profile = 'default'): Promise<SharedCredentialsProfile | undefined> {
  const text = await readBounded(path);
  if (text === undefined) return undefined;
  const found = parseSharedCredentials(text).get(profile);
  if (found !== undefined) return found;
  const hasSection = text.split(/\r?\n/).some((line) => sectionName(line.trim()) === profile);
  if (hasSection) {
    throw new CredentialsFileError('INCOMPLETE_PROFILE', `Profile '${profile}' in ${path} needs both ${KEY_ID} and ${KEY_SECRET}.`, path);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------

function randomString(alphabet: string, length: number): string {
  // 256 is a multiple of both alphabet sizes (32 and 64), so masking keeps the draw uniform.
  const mask = alphabet.length - 1;
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += alphabet[byte & mask];
  return out;
}

function sectionName(trimmedLine: string): string | undefined {
  const m = /^\[\s*([^\]]*?)\s*\]$/.exec(trimmedLine);
  return m === null ? undefined : m[1];
}

function validateProfile(profile: string): void {
  if (!PROFILE_NAME_RE.test(profile)) {
    throw new CredentialsFileError(
      'INVALID_PROFILE_NAME',
      `Profile name '${profile.slice(0, 64)}' must be 1-128 characters of letters, digits and _.@+=,-`,
    );
  }
}

function validateCredentials(credentials: SharedCredentialsProfile): void {
  if (!ACCESS_KEY_ID_RE.test(credentials.accessKeyId)) {
    throw new CredentialsFileError('INVALID_CREDENTIALS', 'Access key id must be 16-128 letters and digits.');
  }
  if (!SECRET_RE.test(credentials.secretAccessKey)) {
    throw new CredentialsFileError('INVALID_CREDENTIALS', 'Secret access key must be 16-256 printable characters without spaces.');
  }
  if (credentials.sessionToken !== undefined && !TOKEN_RE.test(credentials.sessionToken)) {
    throw new CredentialsFileError('INVALID_CREDENTIALS', 'Session token must be 1-4096 printable characters without spaces.');
  }
}

async function readBounded(path: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const { size } = await handle.stat();
    if (size > MAX_CREDENTIALS_FILE_BYTES) {
      throw new CredentialsFileError('FILE_TOO_LARGE', `${path} is larger than ${MAX_CREDENTIALS_FILE_BYTES} bytes.`, path);
    }
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}
