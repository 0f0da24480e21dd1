import { readFile } from 'node:fs/promises';
import { CliError } from './io.js';

/** Largest input file a CLI command reads (templates and policies are a few KB). */
export const MAX_INPUT_FILE_BYTES = 1024 * 1024;

/** Reads a UTF-8 text file given on the command line, with an error that names the file. */
export async function readInputFile(path: string, what: string): Promise<string> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : String((err as Error).message);
    throw new CliError(`cannot read ${what} ${path}: ${why}`);
  }
  if (buf.length > MAX_INPUT_FILE_BYTES) throw new CliError(`${what} ${path} is ${buf.length} bytes; the limit is ${MAX_INPUT_FILE_BYTES}`);
  return buf.toString('utf8');
}

/** Reads and parses a JSON file, with an error naming the file and the JSON problem. */
export async function readJsonFile(path: string, what: string): Promise<unknown> {
  const text = await readInputFile(path, what);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(`${what} ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Parses repeated `K=V` options into a record; the value may contain `=`. */
export function parseKeyValues(pairs: readonly string[], option: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`${option} expects KEY=VALUE, got "${pair}"`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** Commander collector for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
