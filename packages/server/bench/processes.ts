/** Server processes and /proc readings shared by the benchmark scripts (Linux figures; NaN elsewhere). */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/fleetprov.js', import.meta.url));

/** A `fleetprov server` child process on free ports with a fresh data directory. */
export interface ServerProcess {
  child: ChildProcess;
  mqttPort: number;
  httpPort: number;
  dataDir: string;
}

/**
 * Starts `fleetprov server` on ports chosen by the system, in a new temporary data directory, with
 * `extraArgs` appended. `FLEETPROV_BENCH_SERVER_NODE_ARGS` adds Node options (e.g. `--cpu-prof`).
 */
export async function startServerProcess(extraArgs: readonly string[]): Promise<ServerProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'fleetprov-bench-'));
  const nodeArgs = (process.env.FLEETPROV_BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(
    process.execPath,
    [...nodeArgs, bin, 'server', '--data-dir', dataDir, '--mqtt-port', '0', '--http-port', '0', '--log-level', 'error', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  const ports = await new Promise<{ mqttPort: number; httpPort: number }>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /mqtts:\/\/[^:]+:(\d+)/.exec(out);
      const h = /https:\/\/[^:\s]+:(\d+)/.exec(out);
      if (m && h) resolve({ mqttPort: Number(m[1]), httpPort: Number(h[1]) });
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
  return { child, dataDir, ...ports };
}

/** CPU time (user + system, all threads) a process has used so far, in ms, from /proc. */
export async function processCpuMs(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

/** A process's resident set now (`VmRSS`) or at its peak (`VmHWM`), in KB. */
export async function processRssKb(pid: number, which: 'VmRSS' | 'VmHWM' = 'VmRSS'): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`${which}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}
