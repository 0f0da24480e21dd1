import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { DEFAULT_BROKER_LIMITS, resolveLimits, BrokerError } from '../../src/broker/index.js';
import { MqttFrameGuard } from '../../src/broker/frame-guard.js';
import { JobTimeoutError, OrderedRunner, type JobOutcome } from '../../src/broker/ordered-runner.js';

// ------------------------------------------------------------------ limits

test('resolveLimits fills defaults from AWS limits and validates overrides', () => {
  const limits = resolveLimits();
  assert.equal(limits.maxPayloadBytes, 131072);
  assert.equal(limits.maxPacketBytes, 131072 + 1024);
  assert.equal(limits.maxFiltersPerSubscribe, 8);
  assert.equal(limits.maxSubscriptionsPerConnection, 50);
  assert.deepEqual(resolveLimits({}), { ...DEFAULT_BROKER_LIMITS });
  assert.equal(resolveLimits({ maxPayloadBytes: 1000 }).maxPacketBytes, 2024, 'packet limit follows the payload limit');
  assert.equal(resolveLimits({ maxPayloadBytes: 1000, maxPacketBytes: 5000 }).maxPacketBytes, 5000);
  for (const bad of [
    { connectTimeoutMs: 0 },
    { connectTimeoutMs: 1.5 },
    { connectTimeoutMs: -1 },
    { connectTimeoutMs: '10' },
    { bogus: 1 },
    { ['__proto__']: 1 },
  ]) {
    assert.throws(
      () => resolveLimits(bad as never),
      (err: unknown) => err instanceof BrokerError && err.code === 'InvalidOption',
      JSON.stringify(bad),
    );
  }
});

// ------------------------------------------------------------------ frame guard

/** A guard over a PassThrough "socket"; collects what it lets through and its violation. */
function guarded(maxPacketBytes: number) {
  const socket = new PassThrough();
  const violations: BrokerError[] = [];
  const guard = new MqttFrameGuard(socket, { maxPacketBytes, onViolation: (e) => violations.push(e) });
  const passed: Buffer[] = [];
  guard.on('data', (chunk: Buffer) => passed.push(chunk));
  guard.on('error', () => undefined);
  return { socket, guard, violations, passed };
}

const tick = () => new Promise((r) => setImmediate(r));

test('MqttFrameGuard passes packets within the limit, split at any byte boundary', async () => {
  const { socket, violations, passed } = guarded(10);
  // PUBLISH with 10-byte body, PINGREQ (length 0), PUBLISH with 3-byte body: fed one byte at a time.
  const bytes = Buffer.from([0x30, 10, ...Array(10).fill(1), 0xc0, 0x00, 0x30, 3, 7, 7, 7]);
  for (const b of bytes) socket.write(Buffer.from([b]));
  await tick();
  assert.deepEqual(violations, []);
  assert.deepEqual(Buffer.concat(passed), bytes);
});

test('MqttFrameGuard cuts a packet announcing more than the limit before its body arrives', async () => {
  const { socket, guard, violations, passed } = guarded(100);
  socket.write(Buffer.from([0xc0, 0x00])); // fine
  socket.write(Buffer.from([0x30, 0xe5])); // length continues...
  await tick();
  assert.equal(violations.length, 0);
  socket.write(Buffer.from([0x00])); // 0x65 = 101 > 100
  await tick();
  assert.equal(violations.length, 1);
  assert.equal(violations[0]?.code, 'PacketTooLarge');
  assert.match(violations[0]?.message ?? '', /MQTT packet of 101 bytes exceeds the limit of 100 bytes/);
  assert.equal(guard.destroyed, true);
  assert.equal(socket.destroyed, true, 'the socket is closed too');
  socket.write(Buffer.alloc(200, 1)); // the body: ignored
  await tick();
  assert.deepEqual(
    Buffer.concat(passed),
    Buffer.from([0xc0, 0x00, 0x30, 0xe5]),
    'only the header bytes before the violation passed, never a body',
  );
});

test('MqttFrameGuard rejects a remaining-length field longer than 4 bytes', async () => {
  const { socket, violations } = guarded(1 << 30);
  socket.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
  await tick();
  assert.equal(violations[0]?.code, 'MalformedPacket');
});

test('MqttFrameGuard forwards writes to the socket and ends with it', async () => {
  const { socket, guard } = guarded(10);
  const written: Buffer[] = [];
  socket.on('data', () => undefined);
  const original = socket.write.bind(socket);
  socket.write = ((chunk: Buffer, ...rest: never[]) => {
    written.push(Buffer.from(chunk));
    return original(chunk, ...rest);
  }) as typeof socket.write;
  await new Promise<void>((resolve, reject) => guard.write(Buffer.from([0x20, 0x02, 0, 0]), (err) => (err ? reject(err) : resolve())));
  assert.deepEqual(Buffer.concat(written), Buffer.from([0x20, 0x02, 0, 0]));
  const ended = new Promise((r) => guard.once('end', r));
  guard.resume();
  socket.end();
  await ended;
});

// ------------------------------------------------------------------ ordered runner

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test('OrderedRunner bounds concurrency and delivers in submission order', async () => {
  const runner = new OrderedRunner<string>({ maxInFlight: 2, maxQueued: 1, timeoutMs: 5000 });
  const jobs = [deferred<string>(), deferred<string>(), deferred<string>()];
  const started: number[] = [];
  const delivered: string[] = [];
  jobs.forEach((job, i) => {
    assert.equal(
      runner.submit(
        () => {
          started.push(i);
          return job.promise;
        },
        (o) => delivered.push(o.ok ? o.value : 'error'),
      ),
      true,
    );
  });
  assert.equal(
    runner.submit(
      async () => 'x',
      () => delivered.push('overflow'),
    ),
    false,
    'maxInFlight + maxQueued reached',
  );
  assert.deepEqual(started, [0, 1]);
  jobs[1]?.resolve('b');
  await tick();
  assert.deepEqual(delivered, [], 'b waits for a');
  assert.deepEqual(started, [0, 1, 2], 'b finishing freed a slot');
  jobs[2]?.resolve('c');
  await tick();
  assert.deepEqual(delivered, []);
  jobs[0]?.resolve('a');
  await tick();
  assert.deepEqual(delivered, ['a', 'b', 'c']);
  assert.equal(runner.pending, 0);
});

test('OrderedRunner reports failures and timeouts, and stops delivering after close', async () => {
  const runner = new OrderedRunner<string>({ maxInFlight: 4, maxQueued: 4, timeoutMs: 30 });
  const outcomes: JobOutcome<string>[] = [];
  runner.submit(
    async () => {
      throw new Error('boom');
    },
    (o) => outcomes.push(o),
  );
  runner.submit(
    () => {
      throw new Error('sync boom');
    },
    (o) => outcomes.push(o),
  );
  runner.submit(
    () => new Promise<string>(() => undefined),
    (o) => outcomes.push(o),
  );
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(outcomes.length, 3);
  assert.equal(outcomes[0]?.ok === false && (outcomes[0].error as Error).message, 'boom');
  assert.equal(outcomes[1]?.ok === false && (outcomes[1].error as Error).message, 'sync boom');
  assert.equal(outcomes[2]?.ok === false && outcomes[2].timedOut, true);
  assert.ok(outcomes[2]?.ok === false && outcomes[2].error instanceof JobTimeoutError);

  const late = deferred<string>();
  let deliveredAfterClose = false;
  runner.submit(
    () => late.promise,
    () => {
      deliveredAfterClose = true;
    },
  );
  runner.close();
  late.resolve('too late');
  await tick();
  assert.equal(deliveredAfterClose, false);
  assert.equal(
    runner.submit(
      async () => 'x',
      () => undefined,
    ),
    false,
    'closed runners refuse jobs',
  );
});
