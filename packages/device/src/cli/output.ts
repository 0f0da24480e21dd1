/**
 * Output of the `fleetprov-device` CLI: where it writes, exit codes, error descriptions (human and
 * JSON), identity JSON, progress lines, and the runner of long operations (Ctrl-C, progress, exit code).
 */

import {
  AbortError,
  ConfigError,
  DeviceError,
  NotAuthorizedError,
  ProvisioningRejectedError,
  ProvisioningTimeoutError,
} from '../errors.js';
import type { ProgressEvent, ProgressListener } from '../events.js';
import type { DeviceIdentity } from '../identity.js';

/** Where the CLI writes. */
export interface CliIo {
  /** Writes to standard output (text includes its newline). */
  stdout: (text: string) => void;
  /** Writes to standard error (text includes its newline). */
  stderr: (text: string) => void;
}

/** The process's standard streams. */
export const processIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

/**
 * Makes the CLI's standard streams safe to pipe into a reader that stops early
 * (`fleetprov-device … --help | head`): once standard output's reader is gone (EPIPE) nothing more
 * can be shown, so the process ends quietly with status 0 instead of an unhandled-error stack trace;
 * a closed standard error is ignored (the exit code still tells the outcome). Other stream errors are
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

/** Exit codes. */
export const ExitCode = { Ok: 0, Failed: 1, Usage: 2, Interrupted: 130 } as const;

/** JSON-safe description of an error, with the typed fields. */
export function describeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  if (err instanceof DeviceError) {
    out.code = err.code;
    out.retryable = err.retryable;
  }
  for (const key of ['step', 'statusCode', 'errorCode', 'errorMessage', 'action', 'topic', 'timeoutMs', 'path', 'causeCode'] as const) {
    const value = (err as unknown as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** A human description of a failed provisioning (or, with `verb`, rotation). */
export function humanError(err: unknown, verb = 'provisioning'): string {
  if (err instanceof ProvisioningRejectedError) {
    return `${verb} failed at ${err.step}: the server rejected the request\n  statusCode:   ${err.statusCode}\n  errorCode:    ${err.errorCode}\n  errorMessage: ${err.errorMessage}`;
  }
  if (err instanceof NotAuthorizedError) {
    return `${verb} failed at ${err.step}: not authorized to ${err.action}${err.topic === undefined ? '' : ` ${err.topic}`}\n  ${err.message}`;
  }
  if (err instanceof ProvisioningTimeoutError) return `${verb} failed at ${err.step}: timed out\n  ${err.message}`;
  if (err instanceof DeviceError) {
    const step = (err as { step?: string }).step;
    return `${step === undefined ? 'error' : `${verb} failed at ${step}`}: ${err.message}`;
  }
  return `error: ${err instanceof Error ? err.message : String(err)}`;
}

/** The exit code of a failed operation. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof AbortError) return ExitCode.Interrupted;
  if (err instanceof ConfigError) return ExitCode.Usage;
  return ExitCode.Failed;
}

/**
 * Reports a failed operation (a JSON result line with `--json`, a human message on stderr) and
 * returns its exit code.
 */
export function reportFailure(io: CliIo, json: boolean, err: unknown, verb = 'provisioning'): number {
  if (json) io.stdout(JSON.stringify({ type: 'result', ok: false, error: describeError(err) }) + '\n');
  io.stderr(humanError(err, verb) + '\n');
  return exitCodeFor(err);
}

/** The JSON form of an identity (`--json` output). */
export function identityJson(identity: DeviceIdentity): Record<string, unknown> {
  return {
    thingName: identity.thingName ?? null,
    clientId: identity.clientId,
    certificateId: identity.certificateId,
    certificatePath: identity.certificatePath,
    privateKeyPath: identity.privateKeyPath,
    notBefore: identity.notBefore.toISOString(),
    notAfter: identity.notAfter.toISOString(),
    deviceConfiguration: identity.deviceConfiguration,
    storageDir: identity.storageDir,
    statePath: identity.statePath,
    verifiedAt: identity.verifiedAt ?? null,
    previous: identity.previous,
  };
}

/** Prints progress events: human lines with timings, or one JSON line each. */
export function progressPrinter(io: CliIo, json: boolean): (e: ProgressEvent) => void {
  const started = new Map<string, number>();
  const t0 = Date.now();
  return (e) => {
    const now = Date.now();
    if (json) {
      io.stdout(JSON.stringify({ type: 'progress', ...e, elapsedMs: now - t0 }) + '\n');
      return;
    }
    if (e.status === 'start') {
      started.set(e.step, now);
      return;
    }
    const since = started.get(e.step);
    const ms = since === undefined ? '' : `${now - since} ms`;
    if (e.status === 'ok') {
      io.stdout(`  ok     ${e.step.padEnd(20)}${ms.padStart(8)}${e.detail === undefined ? '' : `  ${e.detail}`}\n`);
    } else {
      const next = e.delayMs === undefined ? '' : `; next attempt in ${(e.delayMs / 1000).toFixed(1)} s`;
      io.stdout(`  retry  ${e.step.padEnd(20)}${ms.padStart(8)}  ${e.detail ?? ''}${next}\n`);
    }
  };
}

/**
 * Runs a long device operation: Ctrl-C aborts it through `options.signal`, progress goes to the
 * terminal (or as JSON lines), `banner` says what is about to happen; resolves to the exit code
 * (`fail` reports an error and gives its code).
 */
export async function runInterruptible(
  io: CliIo,
  json: boolean,
  fail: (err: unknown) => number,
  options: { signal?: AbortSignal; onProgress?: ProgressListener },
  banner: string,
  work: () => Promise<void>,
): Promise<number> {
  const controller = new AbortController();
  const onSigint = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  options.signal = controller.signal;
  options.onProgress = progressPrinter(io, json);
  if (!json) io.stdout(banner);
  try {
    await work();
    return ExitCode.Ok;
  } catch (err) {
    return fail(err);
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
