/**
 * Load-generator worker of `bench:broker` (bench/broker.ts forks several of these so that the load
 * generator is not the bottleneck). It receives one job at a time over the IPC channel, runs it
 * against the broker it is told about with one reused TLS context, and answers with its figures.
 * Timestamps cross processes as wall-clock milliseconds (`performance.timeOrigin + performance.now()`).
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import mqtt from 'mqtt';

/** Where to connect and with which credentials (one certificate for every connection, as AWS allows). */
export interface Target {
  port: number;
  ca: string;
  cert: string;
  key: string;
}

/** A job of the coordinator; each answers with one {@link WorkerReply} (`subscribe`/`publish` answer twice). */
export type WorkerJob =
  | { kind: 'connects'; target: Target; prefix: string; n: number; concurrency: number }
  | { kind: 'roundtrips'; target: Target; prefix: string; n: number; concurrency: number }
  | { kind: 'hold'; target: Target; prefix: string; n: number; concurrency: number }
  | { kind: 'release' }
  | { kind: 'subscribe'; target: Target; prefix: string; n: number; topic: string; expect: number }
  | { kind: 'publish'; target: Target; prefix: string; publishers: number; messages: number; topic: string }
  | { kind: 'go' }
  | { kind: 'exit' };

/** A worker's answer. */
export type WorkerReply =
  | { kind: 'latencies'; latencies: number[]; failures: number; firstError?: string }
  | { kind: 'ready'; count: number; failures: number; firstError?: string }
  | { kind: 'done'; of: 'subscribe' | 'publish'; at: number; received: number };

const wallNow = (): number => performance.timeOrigin + performance.now();

let contextFor: { key: string; context: SecureContext } | undefined;
function options(target: Target, clientId: string, keepalive = 60): mqtt.IClientOptions {
  const cacheKey = `${target.cert}\n${target.ca}`;
  if (contextFor?.key !== cacheKey) {
    contextFor = { key: cacheKey, context: createSecureContext({ ca: target.ca, cert: target.cert, key: target.key }) };
  }
  return {
    host: '127.0.0.1',
    port: target.port,
    protocol: 'mqtts',
    protocolVersion: 4,
    servername: 'localhost',
    rejectUnauthorized: true,
    secureContext: contextFor.context,
    clientId,
    clean: true,
    keepalive,
    reconnectPeriod: 0,
    connectTimeout: 60_000,
  } as mqtt.IClientOptions; // secureContext reaches tls.connect; mqtt.js's type does not list it
}

/** Runs `fn(i)` for i in [0, n) with at most `concurrency` at once; collects latencies (ms). */
async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<WorkerReply> {
  const latencies: number[] = [];
  let failures = 0;
  let firstError: string | undefined;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, concurrency) }, async () => {
      while (next < n) {
        const i = next++;
        const t0 = performance.now();
        try {
          await fn(i);
          latencies.push(performance.now() - t0);
        } catch (err) {
          failures++;
          firstError ??= (err as Error).message;
        }
      }
    }),
  );
  return { kind: 'latencies', latencies, failures, ...(firstError === undefined ? {} : { firstError }) };
}

let held: mqtt.MqttClient[] = [];
let pending: { go: () => void } | undefined;

function send(reply: WorkerReply): void {
  process.send!(reply);
}

async function run(job: WorkerJob): Promise<void> {
  switch (job.kind) {
    case 'connects':
      send(
        await pool(job.n, job.concurrency, async (i) => {
          const c = await mqtt.connectAsync(options(job.target, `${job.prefix}-${i}`));
          await c.endAsync();
        }),
      );
      return;
    case 'roundtrips':
      send(
        await pool(job.n, job.concurrency, async (i) => {
          const clientId = `${job.prefix}-${i}`;
          const c = await mqtt.connectAsync(options(job.target, clientId));
          const topic = `bench/${clientId}`;
          await c.subscribeAsync(topic, { qos: 1 });
          await new Promise<void>((resolve, reject) => {
            c.once('message', () => resolve());
            c.publishAsync(topic, 'x', { qos: 1 }).catch(reject);
          });
          await c.endAsync();
        }),
      );
      return;
    case 'hold': {
      const reply = await pool(job.n, job.concurrency, async (i) => {
        const c = await mqtt.connectAsync(options(job.target, `${job.prefix}-${i}`, 1200));
        c.on('error', () => undefined);
        held.push(c);
      });
      send({ kind: 'ready', count: held.length, failures: reply.kind === 'latencies' ? reply.failures : 0 });
      return;
    }
    case 'release':
      await Promise.all(held.map((c) => c.endAsync(true).catch(() => undefined)));
      held = [];
      send({ kind: 'ready', count: 0, failures: 0 });
      return;
    case 'subscribe': {
      // n subscribers of one topic; 'done' once every one of them has `expect` messages.
      let complete = 0;
      let received = 0;
      const reply = await pool(job.n, 50, async (i) => {
        const c = await mqtt.connectAsync(options(job.target, `${job.prefix}-${i}`, 1200));
        c.on('error', () => undefined);
        let mine = 0;
        c.on('message', () => {
          received++;
          if (++mine === job.expect && ++complete === job.n) send({ kind: 'done', of: 'subscribe', at: wallNow(), received });
        });
        await c.subscribeAsync(job.topic, { qos: 1 });
        held.push(c);
      });
      send({ kind: 'ready', count: held.length, failures: reply.kind === 'latencies' ? reply.failures : 0 });
      return;
    }
    case 'publish': {
      // `publishers` connections share `messages` QoS 1 publishes; they start together on 'go'.
      const clients: mqtt.MqttClient[] = [];
      const reply = await pool(job.publishers, 50, async (i) => {
        const c = await mqtt.connectAsync(options(job.target, `${job.prefix}-${i}`, 1200));
        c.on('error', () => undefined);
        clients.push(c);
      });
      await new Promise<void>((go) => {
        pending = { go };
        send({ kind: 'ready', count: clients.length, failures: reply.kind === 'latencies' ? reply.failures : 0 });
      });
      await Promise.all(
        clients.map(async (c, k) => {
          const mine = Math.floor(job.messages / clients.length) + (k < job.messages % clients.length ? 1 : 0);
          await Promise.all(Array.from({ length: mine }, (_, m) => c.publishAsync(job.topic, `m${k}-${m}`, { qos: 1 })));
        }),
      );
      send({ kind: 'done', of: 'publish', at: wallNow(), received: job.messages });
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
      return;
    }
    case 'go':
      pending?.go();
      pending = undefined;
      return;
    case 'exit':
      await Promise.all(held.map((c) => c.endAsync(true).catch(() => undefined)));
      process.exit(0);
  }
}

process.on('message', (job: WorkerJob) => {
  run(job).catch((err: unknown) => {
    console.error(`bench worker ${process.pid}: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  });
});
