/**
 * Broker benchmark: fleetprov's broker and Mosquitto side by side, same certificates, same load
 * generator, one run. Mosquitto (Debian's `mosquitto`) is started by the benchmark on a free port with
 * fleetprov's CA, fleetprov's server certificate and `require_certificate true`; its rows are marked
 * absent when it is not installed. The load generator is several worker processes
 * (bench/broker-worker.ts), each reusing one TLS context.
 *
 *   npm run bench:broker
 *   npm run bench:broker -- --connects 2000 --idle 10000 --burst 10000 --fanout 1000 --workers 2
 *   FLEETPROV_BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench:broker -- --only fleetprov
 *
 * Figures per broker: mTLS connects/s (connect, CONNACK, DISCONNECT) and server CPU per connect; server
 * CPU per connect + subscribe + QoS 1 round trip; RSS per idle mTLS connection (VmRSS growth with
 * --idle connections held, divided by their number); QoS 1 messages/s of a fan-in burst (many publishers,
 * one subscriber) and of a 1→N fan-out. Then the ratio fleetprov/Mosquitto of each.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AttachPolicyCommand, CreateKeysAndCertificateCommand, CreatePolicyCommand } from '@aws-sdk/client-iot';
import { createAdminClient } from '../src/cli/admin-client.js';
import { percentile } from './measure.js';
import { processCpuMs, processRssKb, startServerProcess } from './processes.js';
import type { Target, WorkerJob, WorkerReply } from './broker-worker.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`Usage: npm run bench:broker -- [options]

fleetprov's broker against Mosquitto (started from the Debian package when installed), same certificates,
same load generator (worker processes), one run; prints each figure and the ratio fleetprov/Mosquitto.

  --connects N        mTLS connect + CONNACK + DISCONNECT, and connect + subscribe + QoS 1 round trips (2000)
  --idle N            idle mTLS connections held for the RSS figure (10000)
  --burst N           QoS 1 messages of the fan-in burst (10000), from --publishers connections (100)
  --fanout N          subscribers of the fan-out (1000), each receiving --fanout-messages messages (10)
  --workers N         load-generator processes (2)
  --concurrency N     connections being opened at once, over all workers (50)
  --only NAME         fleetprov or mosquitto`);
  process.exit(0);
}
const CONNECTS = arg('connects', 2000);
const IDLE = arg('idle', 10_000);
const BURST = arg('burst', 10_000);
const PUBLISHERS = arg('publishers', 100);
const FANOUT = arg('fanout', 1000);
const FANOUT_MESSAGES = arg('fanout-messages', 10);
const WORKERS = arg('workers', 2);
const CONCURRENCY = arg('concurrency', 50);
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;

/** One broker under test. */
interface Broker {
  name: 'fleetprov' | 'mosquitto';
  pid: number;
  target: Target;
  stop(): Promise<void>;
}

/** Figures of one broker; NaN where a part failed. */
interface Figures {
  connectsPerSec: number;
  connectP99Ms: number;
  cpuPerConnectMs: number;
  cpuPerRoundTripMs: number;
  rssPerIdleKb: number;
  idleHeld: number;
  fanInPerSec: number;
  fanOutPerSec: number;
  cpuPerMessageUs: number;
}

// ---------------------------------------------------------------- load-generator workers

class Worker {
  readonly child: ChildProcess;
  #waiting: ((reply: WorkerReply) => void)[] = [];
  readonly #done = new Map<'subscribe' | 'publish', (reply: Extract<WorkerReply, { kind: 'done' }>) => void>();

  constructor() {
    this.child = fork(fileURLToPath(new URL('./broker-worker.js', import.meta.url)), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (reply: WorkerReply) => {
      if (reply.kind === 'done') {
        const done = this.#done.get(reply.of);
        this.#done.delete(reply.of);
        done?.(reply);
      } else this.#waiting.shift()?.(reply);
    });
    this.child.on('exit', (code) => {
      if (code !== 0 && code !== null) {
        console.error(`bench:broker: a load-generator worker exited with ${code}`);
        process.exit(1);
      }
    });
  }

  /** Sends a job; resolves with its first answer. */
  ask(job: WorkerJob): Promise<WorkerReply> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.child.send(job);
    });
  }

  /** Resolves with the next 'done' answer of a subscribe or publish job. */
  nextDone(of: 'subscribe' | 'publish'): Promise<Extract<WorkerReply, { kind: 'done' }>> {
    return new Promise((resolve) => this.#done.set(of, resolve));
  }

  tell(job: WorkerJob): void {
    this.child.send(job);
  }
}

/** Splits n over the workers: the share of worker w. */
const share = (n: number, w: number): number => Math.floor(n / WORKERS) + (w < n % WORKERS ? 1 : 0);

async function latencyJob(
  workers: Worker[],
  broker: Broker,
  kind: 'connects' | 'roundtrips',
  n: number,
): Promise<{ rate: number; p99: number; cpuPerOpMs: number; failures: number }> {
  const cpu0 = await processCpuMs(broker.pid);
  const t0 = performance.now();
  const replies = await Promise.all(
    workers.map((w, i) =>
      w.ask({
        kind,
        target: broker.target,
        prefix: `${kind}-${i}`,
        n: share(n, i),
        concurrency: Math.max(1, Math.round(CONCURRENCY / WORKERS)),
      }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = (await processCpuMs(broker.pid)) - cpu0;
  const latencies: number[] = [];
  let failures = 0;
  for (const r of replies) {
    if (r.kind !== 'latencies') continue;
    latencies.push(...r.latencies);
    failures += r.failures;
    if (r.firstError) console.error(`  ${broker.name} ${kind}: ${r.failures} failed, first: ${r.firstError}`);
  }
  latencies.sort((a, b) => a - b);
  return { rate: latencies.length / seconds, p99: percentile(latencies, 0.99), cpuPerOpMs: cpu / Math.max(1, latencies.length), failures };
}

async function measureBroker(workers: Worker[], broker: Broker): Promise<Figures> {
  const log = (s: string) => console.log(`  ${broker.name}: ${s}`);
  await latencyJob(workers, broker, 'connects', 100); // warm-up: JIT, session caches, allocator

  const connects = await latencyJob(workers, broker, 'connects', CONNECTS);
  log(
    `${CONNECTS} connects: ${connects.rate.toFixed(0)}/s, p99 ${connects.p99.toFixed(1)} ms, CPU ${connects.cpuPerOpMs.toFixed(2)} ms each`,
  );
  const rt = await latencyJob(workers, broker, 'roundtrips', CONNECTS);
  log(`${CONNECTS} connect + subscribe + QoS 1 round trips: ${rt.rate.toFixed(0)}/s, CPU ${rt.cpuPerOpMs.toFixed(2)} ms each`);

  // Idle connections: VmRSS growth while IDLE connections are held.
  await new Promise((r) => setTimeout(r, 1000));
  const rss0 = await processRssKb(broker.pid);
  const held = await Promise.all(
    workers.map((w, i) =>
      w.ask({
        kind: 'hold',
        target: broker.target,
        prefix: `idle-${i}`,
        n: share(IDLE, i),
        concurrency: Math.max(1, Math.round(CONCURRENCY / WORKERS)),
      }),
    ),
  );
  const heldCount = held.reduce((sum, r) => sum + (r.kind === 'ready' ? r.count : 0), 0);
  await new Promise((r) => setTimeout(r, 3000));
  const rss1 = await processRssKb(broker.pid);
  const rssPerIdleKb = (rss1 - rss0) / Math.max(1, heldCount);
  log(
    `${heldCount}/${IDLE} idle connections held: RSS ${(rss0 / 1024).toFixed(0)} → ${(rss1 / 1024).toFixed(0)} MB, ${rssPerIdleKb.toFixed(1)} KB each`,
  );
  await Promise.all(workers.map((w) => w.ask({ kind: 'release' })));
  await new Promise((r) => setTimeout(r, 1000));

  // Fan-in: PUBLISHERS connections publish BURST QoS 1 messages to one subscriber.
  const fanIn = await burst(workers, broker, {
    subscribers: 1,
    expect: BURST,
    publishers: PUBLISHERS,
    messages: BURST,
    topic: 'bench/fanin',
  });
  log(
    `fan-in: ${BURST} QoS 1 messages from ${PUBLISHERS} publishers to 1 subscriber: ${fanIn.rate.toFixed(0)} msg/s, CPU ${fanIn.cpuPerMessageUs.toFixed(1)} µs each`,
  );
  const fanOut = await burst(workers, broker, {
    subscribers: FANOUT,
    expect: FANOUT_MESSAGES,
    publishers: 1,
    messages: FANOUT_MESSAGES,
    topic: 'bench/fanout',
  });
  log(`fan-out: ${FANOUT_MESSAGES} QoS 1 messages to ${FANOUT} subscribers: ${fanOut.rate.toFixed(0)} deliveries/s`);
  return {
    connectsPerSec: connects.failures > 0 ? NaN : connects.rate,
    connectP99Ms: connects.p99,
    cpuPerConnectMs: connects.cpuPerOpMs,
    cpuPerRoundTripMs: rt.failures > 0 ? NaN : rt.cpuPerOpMs,
    rssPerIdleKb: heldCount < IDLE ? NaN : rssPerIdleKb,
    idleHeld: heldCount,
    fanInPerSec: fanIn.rate,
    fanOutPerSec: fanOut.rate,
    cpuPerMessageUs: fanIn.cpuPerMessageUs,
  };
}

/**
 * Subscribers spread over the workers, publishers in worker 0; timed from the 'go' until every
 * subscriber has its messages. Rate = deliveries per second.
 */
async function burst(
  workers: Worker[],
  broker: Broker,
  plan: { subscribers: number; expect: number; publishers: number; messages: number; topic: string },
): Promise<{ rate: number; cpuPerMessageUs: number }> {
  const subscribing = workers
    .map((w, i) => ({ w, n: plan.subscribers === 1 ? (i === 0 ? 1 : 0) : share(plan.subscribers, i) }))
    .filter((s) => s.n > 0);
  const doneAll = subscribing.map((s) => s.w.nextDone('subscribe'));
  await Promise.all(
    subscribing.map((s, i) =>
      s.w.ask({
        kind: 'subscribe',
        target: broker.target,
        prefix: `sub-${plan.topic}-${i}`,
        n: s.n,
        topic: plan.topic,
        expect: plan.expect,
      }),
    ),
  );
  const publisher = workers[workers.length - 1]!;
  await publisher.ask({
    kind: 'publish',
    target: broker.target,
    prefix: `pub-${plan.topic}`,
    publishers: plan.publishers,
    messages: plan.messages,
    topic: plan.topic,
  });
  const cpu0 = await processCpuMs(broker.pid);
  const t0 = performance.timeOrigin + performance.now();
  const published = publisher.nextDone('publish');
  publisher.tell({ kind: 'go' });
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 120_000).unref());
  const finished = await Promise.race([Promise.all(doneAll), timeout]);
  await published;
  const cpu = (await processCpuMs(broker.pid)) - cpu0;
  await Promise.all(workers.map((w) => w.ask({ kind: 'release' })));
  if (finished === 'timeout') {
    console.error(`  ${broker.name}: ${plan.topic} did not complete within 120 s`);
    return { rate: NaN, cpuPerMessageUs: NaN };
  }
  const end = Math.max(...finished.map((d) => d.at));
  const deliveries = plan.subscribers * plan.expect;
  return { rate: deliveries / ((end - t0) / 1000), cpuPerMessageUs: (cpu * 1000) / deliveries };
}

// ---------------------------------------------------------------- brokers

async function startFleetprov(): Promise<Broker & { dataDir: string; httpPort: number }> {
  const server = await startServerProcess([
    '--max-connections',
    String(IDLE + PUBLISHERS + FANOUT + 1000),
    '--max-connections-per-address',
    String(IDLE + PUBLISHERS + FANOUT + 1000),
  ]);
  const caPath = join(server.dataDir, 'ca', 'root-ca.pem');
  const iot = await createAdminClient({
    endpoint: `https://127.0.0.1:${server.httpPort}`,
    credentialsPath: join(server.dataDir, 'credentials'),
    caPath,
  });
  await iot.send(
    new CreatePolicyCommand({
      policyName: 'bench_all',
      policyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['iot:Connect', 'iot:Publish', 'iot:Subscribe', 'iot:Receive'], Resource: '*' }],
      }),
    }),
  );
  const keys = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  await iot.send(new AttachPolicyCommand({ policyName: 'bench_all', target: keys.certificateArn! }));
  iot.destroy();
  const ca = await readFile(caPath, 'utf8');
  return {
    name: 'fleetprov',
    pid: server.child.pid!,
    dataDir: server.dataDir,
    httpPort: server.httpPort,
    target: { port: server.mqttPort, ca, cert: keys.certificatePem!, key: keys.keyPair!.PrivateKey! },
    async stop() {
      server.child.kill('SIGTERM');
      await new Promise((r) => server.child.once('exit', r));
    },
  };
}

function findMosquitto(): string | undefined {
  for (const p of ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/usr/bin/mosquitto']) if (existsSync(p)) return p;
  const which = spawnSync('sh', ['-c', 'command -v mosquitto'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : undefined;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = netConnect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port} within 10 s: ${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Mosquitto with fleetprov's trust anchor and issuing CA (client certificates), fleetprov's server
 * certificate chain and key, `require_certificate true`, no persistence, unlimited queue (so a burst to a
 * slow subscriber is delivered, not dropped), other settings at their defaults.
 */
async function startMosquitto(bin: string, fleetprov: { dataDir: string; target: Target }): Promise<Broker> {
  const dir = await mkdtemp(join(tmpdir(), 'fleetprov-bench-mosquitto-'));
  const serverPem = await readFile(join(fleetprov.dataDir, 'tls', 'server.pem'), 'utf8');
  const chain = serverPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  await writeFile(join(dir, 'ca.pem'), [fleetprov.target.ca.trim(), ...chain.slice(1)].join('\n') + '\n');
  const port = await freePort();
  const conf = [
    'per_listener_settings false',
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'max_queued_messages 0',
    'max_connections -1',
    'allow_anonymous true',
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    `listener ${port} 127.0.0.1`,
    `cafile ${join(dir, 'ca.pem')}`,
    `certfile ${join(fleetprov.dataDir, 'tls', 'server.pem')}`,
    `keyfile ${join(fleetprov.dataDir, 'tls', 'server.key')}`,
    'require_certificate true',
    'use_identity_as_username true',
  ];
  await writeFile(join(dir, 'mosquitto.conf'), conf.join('\n') + '\n');
  const child = spawn(bin, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await waitForPort(port, child, () => err);
  const version = spawnSync(bin, ['-h'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? 'mosquitto';
  console.log(`${version.trim()} on port ${port} (require_certificate true, fleetprov's CA and server certificate)`);
  return {
    name: 'mosquitto',
    pid: child.pid!,
    target: { ...fleetprov.target, port },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- report

function printComparison(f: Figures | undefined, m: Figures | undefined): void {
  const rows: [string, (x: Figures) => number, number, 'lower' | 'higher', string][] = [
    ['mTLS connects/s', (x) => x.connectsPerSec, 0, 'higher', ''],
    ['connect p99 (ms)', (x) => x.connectP99Ms, 1, 'lower', ''],
    ['server CPU per connect (ms)', (x) => x.cpuPerConnectMs, 2, 'lower', ''],
    ['server CPU per connect + subscribe + QoS 1 round trip (ms)', (x) => x.cpuPerRoundTripMs, 2, 'lower', 'goal ≤ 1.5'],
    [`RSS per idle mTLS connection (KB, ${IDLE} held)`, (x) => x.rssPerIdleKb, 1, 'lower', 'goal ≤ 1.5'],
    [`QoS 1 fan-in burst (msg/s, ${BURST} from ${PUBLISHERS})`, (x) => x.fanInPerSec, 0, 'higher', 'goal ≥ 0.5'],
    ['server CPU per fan-in message (µs)', (x) => x.cpuPerMessageUs, 1, 'lower', ''],
    [`QoS 1 fan-out 1→${FANOUT} (deliveries/s)`, (x) => x.fanOutPerSec, 0, 'higher', ''],
  ];
  const fmt = (v: number | undefined, d: number) => (v === undefined ? 'absent' : Number.isFinite(v) ? v.toFixed(d) : 'failed');
  const table = rows.map(([name, get, d, better, goal]) => {
    const fv = f ? get(f) : undefined;
    const mv = m ? get(m) : undefined;
    const ratio =
      fv !== undefined && mv !== undefined && Number.isFinite(fv) && Number.isFinite(mv) && mv !== 0 ? (fv / mv).toFixed(2) : '—';
    return [name, fmt(fv, d), fmt(mv, d), ratio, `${better} is better${goal ? `; ${goal}` : ''}`];
  });
  const head = ['figure', 'fleetprov', 'mosquitto', 'fleetprov/mosquitto', ''];
  const widths = head.map((h, c) => Math.max(h.length, ...table.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (c === 0 || c === 4 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  console.log('\n' + line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of table) console.log(line(r));
}

async function main(): Promise<void> {
  console.log(
    `bench:broker: ${WORKERS} load-generator processes, ${CONCURRENCY} connections opening at once; node ${process.version}; ${CONNECTS} connects, ${IDLE} idle, burst ${BURST}, fan-out ${FANOUT}×${FANOUT_MESSAGES}`,
  );
  const fleetprov = await startFleetprov();
  const mosquittoBin = findMosquitto();
  const workers = Array.from({ length: WORKERS }, () => new Worker());
  let f: Figures | undefined;
  let m: Figures | undefined;
  try {
    if (ONLY !== 'mosquitto') {
      console.log(`fleetprov broker on port ${fleetprov.target.port}`);
      f = await measureBroker(workers, fleetprov);
    }
    if (ONLY !== 'fleetprov') {
      if (mosquittoBin === undefined) console.log('mosquitto: not installed (apt-get install mosquitto): its rows are marked absent');
      else {
        const mosquitto = await startMosquitto(mosquittoBin, fleetprov);
        try {
          m = await measureBroker(workers, mosquitto);
        } finally {
          await mosquitto.stop();
        }
      }
    }
  } finally {
    for (const w of workers) w.tell({ kind: 'exit' });
    await fleetprov.stop();
    await rm(fleetprov.dataDir, { recursive: true, force: true });
  }
  printComparison(f, m);
  const failed = [f, m].some((x) => x !== undefined && Object.values(x).some((v) => Number.isNaN(v)));
  if (failed) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
