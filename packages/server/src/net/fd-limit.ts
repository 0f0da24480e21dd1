/**
 * How many connections the server's listeners may hold, derived from the process's open-file limit
 * (every TCP connection is a file descriptor; past the limit `accept()` fails with EMFILE and every
 * new connection, health checks included, is reset). Node has no `getrlimit`: on Linux the soft limit
 * is read from `/proc/self/limits` (Node raises its soft limit to the hard one at startup, so this is
 * the limit in force); elsewhere, or when it cannot be read, {@link DEFAULT_FD_LIMIT} is assumed. An
 * explicit limit overrides both.
 *
 * The budget: a share is kept for the process itself, the database, log and data files
 * ({@link reservedDescriptors}); the control plane gets its own share so an MQTT flood cannot starve
 * it; the broker gets the rest, capped at {@link MAX_MQTT_CONNECTIONS}.
 */
import { readFileSync } from 'node:fs';

/** Open-file limit assumed where `/proc/self/limits` cannot be read (macOS's `OPEN_MAX` is 10240). */
export const DEFAULT_FD_LIMIT = 10_240;
/** Most MQTT connections the broker takes whatever the limit (the broker's fixed cap before this budget). */
export const MAX_MQTT_CONNECTIONS = 50_000;
/** Most control-plane connections whatever the limit. */
export const MAX_HTTPS_CONNECTIONS = 4096;
/** Descriptors always kept for the process, the database pool, logs and data files. */
export const MIN_RESERVED_DESCRIPTORS = 64;
/** An open-file limit below this leaves too little room: the server warns at start. */
export const LOW_FD_LIMIT = 512;

/** Where the open-file limit came from. */
export type FdLimitSource = 'option' | '/proc/self/limits' | 'default';

/** The connection budget of one server process. */
export interface ConnectionBudget {
  /** The open-file limit the budget is cut from. */
  fdLimit: number;
  fdLimitSource: FdLimitSource;
  /** Descriptors left for the process, the database and files. */
  reserved: number;
  /** Simultaneous MQTT (TLS) connections. */
  mqtt: number;
  /** Simultaneous control-plane (HTTPS) connections. */
  https: number;
}

/**
 * The soft "Max open files" limit in the text of `/proc/<pid>/limits`, or null when the line is
 * missing or says `unlimited`.
 */
export function parseOpenFileLimit(limitsText: string): number | null {
  const line = limitsText.split('\n').find((l) => l.startsWith('Max open files'));
  if (line === undefined) return null;
  const soft = line.slice('Max open files'.length).trim().split(/\s+/)[0];
  if (soft === undefined || !/^\d+$/.test(soft)) return null;
  const value = Number(soft);
  return Number.isSafeInteger(value) && value > 0 ? value : null;
}

/** The process's soft open-file limit from `/proc/self/limits`, or null where it cannot be read. */
export function readOpenFileLimit(path = '/proc/self/limits'): number | null {
  try {
    return parseOpenFileLimit(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

/** Descriptors kept for everything but connections: a tenth of the limit, at least {@link MIN_RESERVED_DESCRIPTORS}. */
export function reservedDescriptors(fdLimit: number): number {
  return Math.max(MIN_RESERVED_DESCRIPTORS, Math.ceil(fdLimit / 10));
}

/**
 * Cuts the connection budget from an open-file limit: `fdLimit` when given, else the one read
 * (`readLimit`, default {@link readOpenFileLimit}), else {@link DEFAULT_FD_LIMIT}.
 *
 * @throws {RangeError} when `fdLimit` is not a positive integer
 */
export function connectionBudget(options: { fdLimit?: number; readLimit?: () => number | null } = {}): ConnectionBudget {
  let fdLimit: number;
  let fdLimitSource: FdLimitSource;
  if (options.fdLimit !== undefined) {
    if (!Number.isSafeInteger(options.fdLimit) || options.fdLimit < 1) throw new RangeError('fdLimit must be a positive integer');
    fdLimit = options.fdLimit;
    fdLimitSource = 'option';
  } else {
    const read = (options.readLimit ?? readOpenFileLimit)();
    fdLimit = read ?? DEFAULT_FD_LIMIT;
    fdLimitSource = read === null ? 'default' : '/proc/self/limits';
  }
  const reserved = reservedDescriptors(fdLimit);
  const https = Math.min(MAX_HTTPS_CONNECTIONS, Math.max(16, Math.floor(fdLimit / 10)));
  const mqtt = Math.min(MAX_MQTT_CONNECTIONS, Math.max(1, fdLimit - reserved - https));
  return { fdLimit, fdLimitSource, reserved, mqtt, https };
}
