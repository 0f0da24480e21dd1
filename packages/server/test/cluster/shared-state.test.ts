/**
 * The cluster's shared run-time state on the machine's Redis (a key prefix per run, deleted at the
 * end): signal messages (valid, malformed, oversized, from the node itself), job leases (one holder,
 * hand-over on release and on expiry) and the shared provisioning rate limit (one bucket for two
 * nodes, and the per-node fallback when Redis is gone).
 * Under CI an unreachable Redis fails the test; locally it is skipped with a message.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pino from 'pino';
import { MAX_SIGNAL_BYTES, parseSignalMessage, startClusterSignals, type ClusterSignal } from '../../src/cluster/signals.js';
import { leaseTtl, redisLeases } from '../../src/cluster/lease.js';
import { redisThrottle } from '../../src/cluster/throttle.js';
import { deleteKeys, REDIS_URL, requireRedis, uniqueKeyPrefix } from '../support/redis.js';

const logger = pino({ level: 'silent' });
const CERT = 'a'.repeat(64);

describe('cluster signal messages', () => {
  test('a valid signal parses to itself', () => {
    const signals: ClusterSignal[] = [
      { type: 'disconnect-certificate', certificateId: CERT, reason: 'certificate status set to INACTIVE' },
      { type: 'reauthorize', scope: { policyNames: ['p'] } },
      { type: 'reauthorize', scope: { all: true } },
      { type: 'reauthorize', scope: { certificateIds: [CERT], thingNames: ['t'] } },
      { type: 'event-configurations' },
    ];
    for (const signal of signals) assert.deepEqual(parseSignalMessage(JSON.stringify({ v: 1, from: 'n', signal })), { from: 'n', signal });
  });

  test('malformed, unknown and oversized messages are refused with a reason', () => {
    const bad: Array<[string, RegExp]> = [
      ['not json', /not JSON/],
      ['null', /not an object/],
      [JSON.stringify({ v: 2, from: 'n', signal: { type: 'event-configurations' } }), /version/],
      [JSON.stringify({ v: 1, signal: { type: 'event-configurations' } }), /sending node/],
      [JSON.stringify({ v: 1, from: 'n', signal: { type: 'drop-table' } }), /unknown signal/],
      [JSON.stringify({ v: 1, from: 'n', signal: { type: 'disconnect-certificate', certificateId: 'x', reason: 'r' } }), /64 hex/],
      [JSON.stringify({ v: 1, from: 'n', signal: { type: 'reauthorize' } }), /scope/],
      [JSON.stringify({ v: 1, from: 'n', signal: { type: 'reauthorize', scope: { thingNames: [1] } } }), /thingNames/],
      [JSON.stringify({ v: 1, from: 'n', signal: { type: 'reauthorize', scope: { policyNames: Array(1001).fill('p') } } }), /policyNames/],
      ['x'.repeat(MAX_SIGNAL_BYTES + 1), /longer than/],
    ];
    for (const [message, reason] of bad) {
      const parsed = parseSignalMessage(message);
      assert.ok('error' in parsed, message.slice(0, 80));
      assert.match(parsed.error, reason);
    }
  });
});

if (await requireRedis('cluster shared state on Redis')) {
  describe('cluster shared state on Redis', () => {
    const prefix = uniqueKeyPrefix();
    const conns: Redis[] = [];
    const redis = (): Redis => {
      const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      conns.push(r);
      return r;
    };
    after(async () => {
      for (const c of conns) c.disconnect();
      await deleteKeys(prefix);
    });

    test('a signal sent by one node is applied by the others, not by itself; malformed messages are ignored', async () => {
      const channel = `${prefix}signals`;
      const applied: Record<string, ClusterSignal[]> = { a: [], b: [], c: [] };
      const nodes = await Promise.all(
        (['a', 'b', 'c'] as const).map((nodeId) =>
          startClusterSignals({
            nodeId,
            channel,
            pub: redis(),
            sub: redis(),
            logger,
            apply: (s) => applied[nodeId]!.push(s),
            resync: () => undefined,
          }),
        ),
      );
      const raw = redis();
      await raw.publish(channel, 'garbage');
      await raw.publish(channel, JSON.stringify({ v: 1, from: 'x', signal: { type: 'nope' } }));
      const signal: ClusterSignal = { type: 'disconnect-certificate', certificateId: CERT, reason: 'test' };
      nodes[0]!.send(signal);
      for (let i = 0; i < 100 && (applied.b!.length === 0 || applied.c!.length === 0); i++) await sleep(20);
      assert.deepEqual(applied.b, [signal]);
      assert.deepEqual(applied.c, [signal]);
      assert.deepEqual(applied.a, [], 'the sender applied it itself already');
      assert.equal(nodes[1]!.received, 1);
      for (const n of nodes) await n.stop();
    });

    test('one node holds a job lease; it passes on release and on expiry', async () => {
      const a = redisLeases(redis(), { keyPrefix: prefix, nodeId: 'a', logger });
      const b = redisLeases(redis(), { keyPrefix: prefix, nodeId: 'b', logger });
      assert.equal(await a.acquire('job', 10_000), true);
      assert.equal(await b.acquire('job', 10_000), false);
      assert.equal(await a.acquire('job', 10_000), true, 'the holder renews');
      await a.releaseAll();
      assert.equal(await b.acquire('job', 200), true, 'released: the other node takes it');
      assert.equal(await a.acquire('job', 200), false);
      await sleep(400);
      assert.equal(await a.acquire('job', 10_000), true, 'expired: the other node takes it');
      assert.deepEqual({ a: a.runs.job, b: b.runs.job }, { a: 3, b: 1 });
      assert.equal(leaseTtl(100), 10_000);
      assert.equal(leaseTtl(60_000), 125_000);
    });

    test('two nodes draw from one provisioning bucket; without Redis a node limits on its own', async () => {
      const opts = { ratePerSecond: 1, burst: 3, keyPrefix: prefix, logger };
      const a = redisThrottle(redis(), opts);
      const b = redisThrottle(redis(), opts);
      const waits = [await a.take('p'), await b.take('p'), await a.take('p'), await b.take('p'), await a.take('p')];
      assert.deepEqual(
        waits.map((w) => w === 0),
        [true, true, true, false, false],
      );
      assert.ok(waits[3]! > 0 && waits[3]! <= 1000, `the wait is at most one token's time: ${waits[3]}`);
      assert.equal(await a.take('other'), 0, 'buckets are per principal');

      // A Redis nobody listens on (port 1): every command fails at once.
      const gone = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      gone.on('error', () => undefined);
      conns.push(gone);
      const alone = redisThrottle(gone, opts);
      assert.deepEqual([await alone.take('q'), await alone.take('q'), await alone.take('q')], [0, 0, 0]);
      assert.ok((await alone.take('q')) > 0, 'the fallback bucket still limits');
    });
  });
}
