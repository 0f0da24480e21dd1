/**
 * A browserless HTTP client: Node's own `fetch` (undici) in a child process that trusts the
 * server's CA through `NODE_EXTRA_CA_CERTS` (read only at process start, so not in the test process
 * itself). Requests go in as JSON lines on its stdin, answers come back on its stdout: real fetch,
 * real TLS verification.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/** One request. */
export interface FetchRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** Its answer. */
export interface FetchResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const WORKER = `
import { createInterface } from 'node:readline';
const rl = createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  const { id, url, method, headers, body } = JSON.parse(line);
  try {
    const res = await fetch(url, { method: method ?? 'GET', headers, body });
    const text = await res.text();
    process.stdout.write(JSON.stringify({ id, status: res.status, headers: Object.fromEntries(res.headers), body: text }) + '\\n');
  } catch (err) {
    process.stdout.write(JSON.stringify({ id, error: String(err && err.cause ? err.cause.message ?? err.cause : err) }) + '\\n');
  }
});
`;

/** A running fetch client. */
export interface FetchClient {
  fetch(request: FetchRequest): Promise<FetchResponse>;
  close(): Promise<void>;
}

/** Starts a fetch client that trusts the CA certificates in the PEM file `caPath`. */
export function startFetchClient(caPath: string): FetchClient {
  const child: ChildProcessByStdio<Writable, Readable, null> = spawn(process.execPath, ['--input-type=module', '-e', WORKER], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caPath },
  });
  const waiting = new Map<number, { resolve: (r: FetchResponse) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  createInterface({ input: child.stdout }).on('line', (line) => {
    const answer = JSON.parse(line) as FetchResponse & { id: number; error?: string };
    const pending = waiting.get(answer.id);
    if (pending === undefined) return;
    waiting.delete(answer.id);
    if (answer.error !== undefined) pending.reject(new Error(`fetch failed: ${answer.error}`));
    else pending.resolve({ status: answer.status, headers: answer.headers, body: answer.body });
  });
  child.on('exit', () => {
    for (const p of waiting.values()) p.reject(new Error('the fetch client exited'));
    waiting.clear();
  });
  return {
    fetch(request) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.stdin.write(JSON.stringify({ id, ...request }) + '\n');
      });
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.stdin.end();
      await exited;
    },
  };
}
