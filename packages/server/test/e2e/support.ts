/**
 * Helpers of the end-to-end tests: the `fleetprov` binary as a child process
 * (it runs the compiled `dist/`; the build runs before the tests).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { packageRoot } from '../cli/support.js';

// The SDK warns about Node 20 once per process; the project supports Node >= 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Path of `packages/server/bin/fleetprov.js`. */
export function fleetprovBin(): string {
  return join(packageRoot(), 'bin', 'fleetprov.js');
}

/** A finished child process. */
export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node args…` to completion (SIGKILL after `timeoutMs`). */
export function runNode(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: options.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => void (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => void (stderr += t));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** What the `fleetprov server` banner announces. */
export interface Banner {
  mqttUrl: string;
  controlPlaneUrl: string;
  caPath: string;
  credentialsPath: string;
}

/** A `fleetprov server` child process. */
export interface ServerProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  banner: Banner;
  /** Everything written so far. */
  output(): { stdout: string; stderr: string };
  /** Sends SIGTERM and waits for the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function bannerLine(stdout: string, label: string): string | undefined {
  const m = new RegExp(`^ +${label.replace(/[()]/g, '\\$&')} +(\\S+)`, 'm').exec(stdout);
  return m?.[1];
}

/**
 * Starts `fleetprov server …args` and resolves once its banner is printed. `env` is added to the
 * environment; `prefix` runs it under another command, e.g. `['prlimit', '--nofile=1024']`; with `umask`
 * (octal text, e.g. `'0000'`) it runs under that umask (through `sh -c 'umask …; exec node …'`).
 */
export async function startServerProcess(
  args: readonly string[],
  timeoutMs = 60_000,
  options: { env?: NodeJS.ProcessEnv; prefix?: readonly string[]; umask?: string } = {},
): Promise<ServerProcess> {
  const argv = [process.execPath, fleetprovBin(), 'server', ...args];
  if (options.umask !== undefined && !/^[0-7]{3,4}$/.test(options.umask)) throw new Error(`bad umask ${options.umask}`);
  const command =
    options.umask === undefined
      ? [...(options.prefix ?? []), ...argv]
      : [...(options.prefix ?? []), 'sh', '-c', `umask ${options.umask}; exec "$0" "$@"`, ...argv];
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (t: string) => void (stderr += t));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const banner = await new Promise<Banner>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no banner within ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (t: string) => {
      stdout += t;
      const credentialsPath = bannerLine(stdout, 'admin credentials');
      if (credentialsPath === undefined) return;
      clearTimeout(timer);
      resolve({
        mqttUrl: bannerLine(stdout, 'MQTT (mTLS) endpoint') ?? '',
        controlPlaneUrl: bannerLine(stdout, 'control plane (AWS)') ?? '',
        caPath: bannerLine(stdout, 'CA file (trust anchor)') ?? '',
        credentialsPath,
      });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`fleetprov server exited with ${code} before its banner:\n${stdout}\n${stderr}`));
    });
  });
  return {
    child,
    banner,
    output: () => ({ stdout, stderr }),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const [code, signal] = await exited;
      return { code, signal };
    },
  };
}

/** A TCP port nobody listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
