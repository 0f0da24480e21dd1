/** Reading the CLI's inputs: integer flags, PEM files, the default credentials directory. */

import { InvalidArgumentError } from 'commander';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { MAX_PEM_CHARS } from '../keys.js';

/** Default credentials directory. */
export function defaultOutDir(): string {
  return join(homedir(), '.fleetprov-device');
}

/** A commander argument parser for an integer from `min` to `max`. */
export function integerArg(min: number, max: number): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return n;
  };
}

/** Reads a PEM input file, naming the flag when it cannot. */
export async function readPemFile(path: string, flag: string, what: string): Promise<string> {
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.length > MAX_PEM_CHARS) throw new ConfigError(`${flag}: ${path} is ${buf.length} bytes, too large for ${what}`, flag);
    text = buf.toString('utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a directory'
            : (err as Error).message;
    throw new ConfigError(`${flag}: cannot read ${what} from ${path} (${why}); pass the path of ${what}`, flag, err);
  }
  if (!text.includes('-----BEGIN'))
    throw new ConfigError(`${flag}: ${path} is not a PEM file (no "-----BEGIN" line); pass ${what} in PEM format`, flag);
  return text;
}
