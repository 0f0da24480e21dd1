/**
 * The pieces of the connection limits on their own: the open-file limit and the budget cut from it,
 * the admission gate (per-address pending and open limits, the listener cap, shedding) on a
 * controlled clock, and the rate-limited log.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { ConnectionGate, type ConnectionRefusedEvent } from '../../src/net/connection-gate.js';
import { connectionBudget, DEFAULT_FD_LIMIT, MAX_MQTT_CONNECTIONS, parseOpenFileLimit, readOpenFileLimit } from '../../src/net/fd-limit.js';
import { RateLimitedLog } from '../../src/net/rate-limited-log.js';
import { checkTrustedProxies } from '../../src/net/trusted-proxies.js';
import { connectionLimits } from '../../src/server.js';
import { captureLogger } from '../broker/helpers.js';

const PROC_LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 4096                 files
Max locked memory         8388608              8388608              bytes
`;

describe('the open-file limit and the connection budget', () => {
  test('the soft limit is read from /proc/self/limits; unlimited or missing is null', () => {
    assert.equal(parseOpenFileLimit(PROC_LIMITS), 1024);
    assert.equal(parseOpenFileLimit(PROC_LIMITS.replace('1024                 4096', 'unlimited            unlimited')), null);
    assert.equal(parseOpenFileLimit('Max cpu time  unlimited unlimited seconds\n'), null);
    assert.equal(readOpenFileLimit('/nonexistent/limits'), null);
    if (process.platform === 'linux') assert.ok((readOpenFileLimit() ?? 0) > 0, 'this process has a limit');
  });

  test('1024 open files: 103 kept, 102 for the control plane, 819 for the broker', () => {
    assert.deepEqual(connectionBudget({ readLimit: () => 1024 }), {
      fdLimit: 1024,
      fdLimitSource: '/proc/self/limits',
      reserved: 103,
      mqtt: 819,
      https: 102,
    });
  });

  test('an explicit limit wins; an unreadable one falls back to the default; large limits are capped', () => {
    assert.equal(connectionBudget({ fdLimit: 2048, readLimit: () => 1024 }).fdLimitSource, 'option');
    assert.equal(connectionBudget({ fdLimit: 2048 }).mqtt, 2048 - 205 - 204);
    const fallback = connectionBudget({ readLimit: () => null });
    assert.equal(fallback.fdLimitSource, 'default');
    assert.equal(fallback.fdLimit, DEFAULT_FD_LIMIT);
    const huge = connectionBudget({ fdLimit: 1_048_576 });
    assert.equal(huge.mqtt, MAX_MQTT_CONNECTIONS);
    assert.equal(huge.https, 4096);
    const tiny = connectionBudget({ fdLimit: 64 });
    assert.ok(tiny.mqtt >= 1 && tiny.https >= 16);
    assert.throws(() => connectionBudget({ fdLimit: 0 }), RangeError);
  });

  test("the server's limits: explicit broker limits and HTTPS cap override the budget", () => {
    const derived = connectionLimits({}, () => 1024);
    assert.equal(derived.broker.maxConnections, 819);
    assert.deepEqual(derived.https, {
      maxConnections: 102,
      maxPendingPerAddress: 32,
      maxConnectionsPerAddress: 51,
      shedPendingAfterMs: 2000,
    });
    const explicit = connectionLimits(
      { brokerLimits: { maxConnections: 5000, maxPendingPerAddress: 7 }, httpsMaxConnections: 20 },
      () => 1024,
    );
    assert.equal(explicit.broker.maxConnections, 5000);
    assert.equal(explicit.broker.maxPendingPerAddress, 7);
    assert.equal(explicit.https.maxConnections, 20);
    assert.equal(explicit.https.maxPendingPerAddress, 20);
    assert.throws(() => connectionLimits({ httpsMaxConnections: 0 }, () => 1024), RangeError);
  });
});

/** A stand-in for an accepted TCP socket. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  constructor(
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {
    super();
  }
  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      this.emit('close');
    }
    return this;
  }
}

function gateLab(limits: { maxConnections?: number; maxPendingPerAddress?: number; maxConnectionsPerAddress?: number } = {}) {
  let now = 0;
  let port = 40000;
  const refused: ConnectionRefusedEvent[] = [];
  const { logger, lines } = captureLogger();
  const gate = new ConnectionGate({
    listener: 'mqtt',
    maxConnections: limits.maxConnections ?? 10,
    maxPendingPerAddress: limits.maxPendingPerAddress ?? 3,
    maxConnectionsPerAddress: limits.maxConnectionsPerAddress ?? 5,
    shedPendingAfterMs: 2000,
    logger,
    onRefused: (e) => refused.push(e),
    now: () => now,
  });
  const open = (address: string): { socket: FakeSocket; admitted: boolean } => {
    const socket = new FakeSocket(address, port++);
    return { socket, admitted: gate.admit(socket as unknown as Socket) };
  };
  return {
    gate,
    refused,
    lines,
    open,
    tick: (ms: number) => void (now += ms),
  };
}

describe('the connection gate', () => {
  test('pending connections per address are capped; established ones no longer count; closing frees the slot', () => {
    const lab = gateLab();
    const first = [lab.open('10.0.0.1'), lab.open('10.0.0.1'), lab.open('10.0.0.1')];
    assert.ok(first.every((c) => c.admitted));
    const fourth = lab.open('10.0.0.1');
    assert.equal(fourth.admitted, false);
    assert.equal(fourth.socket.destroyed, true);
    assert.deepEqual(lab.refused, [{ listener: 'mqtt', reason: 'address_pending_limit', sourceIp: '10.0.0.1' }]);
    assert.equal(lab.open('10.0.0.2').admitted, true, 'another address is not affected');
    lab.gate.established(first[0]!.socket);
    assert.equal(lab.gate.pending, 3);
    assert.equal(lab.open('10.0.0.1').admitted, true, 'an established connection frees a pending slot');
    first[1]!.socket.destroy();
    assert.equal(lab.open('10.0.0.1').admitted, true, 'a closed one too');
    assert.equal(lab.gate.open, 5);
  });

  test('open connections per address are capped, established or not', () => {
    const lab = gateLab({ maxPendingPerAddress: 10, maxConnectionsPerAddress: 2 });
    const a = lab.open('::ffff:10.0.0.9');
    const b = lab.open('10.0.0.9');
    lab.gate.established(a.socket);
    lab.gate.established(b.socket);
    assert.equal(lab.open('10.0.0.9').admitted, false, 'IPv4-mapped and plain IPv4 are one address');
    assert.equal(lab.refused[0]?.reason, 'address_connection_limit');
  });

  test('a full listener sheds its oldest connection pending for 2 s, never an established or younger one', () => {
    const lab = gateLab({ maxConnections: 3, maxPendingPerAddress: 10, maxConnectionsPerAddress: 10 });
    const old = lab.open('10.0.0.1');
    lab.tick(500);
    const established = lab.open('10.0.0.2');
    lab.gate.established(established.socket);
    const young = lab.open('10.0.0.3');
    assert.equal(lab.open('10.0.0.4').admitted, false, 'nothing pending for 2 s yet');
    assert.equal(lab.refused.at(-1)?.reason, 'max_connections');
    lab.tick(1600); // old: 2100 ms, young: 1600 ms
    const newcomer = lab.open('10.0.0.4');
    assert.equal(newcomer.admitted, true);
    assert.equal(old.socket.destroyed, true);
    assert.equal(lab.gate.wasShed(old.socket), true);
    assert.equal(young.socket.destroyed, false);
    assert.equal(established.socket.destroyed, false);
    assert.deepEqual(lab.refused.at(-1), { listener: 'mqtt', reason: 'shed_pending', sourceIp: '10.0.0.1' });
    assert.equal(lab.open('10.0.0.5').admitted, false, 'the young one is not shed');
    assert.equal(lab.gate.refusedCount('max_connections'), 2);
    assert.equal(lab.gate.refusedCount(), 3);
    assert.ok(
      lab.lines.some((l) =>
        /MQTT connection from 10\.0\.0\.1 closed after 2100 ms without finishing TLS\/CONNECT, to make room/.test(l.msg),
      ),
    );
  });

  test('limits must be positive integers', () => {
    const { logger } = captureLogger();
    assert.throws(
      () =>
        new ConnectionGate({
          listener: 'x',
          maxConnections: 0,
          maxPendingPerAddress: 1,
          maxConnectionsPerAddress: 1,
          shedPendingAfterMs: 1,
          logger,
        }),
      /maxConnections must be a positive integer/,
    );
  });
});

describe('the rate-limited log', () => {
  test('the first event of each reason is logged, the rest summarised with counts and top sources on flush', () => {
    const { logger, lines } = captureLogger();
    const log = new RateLimitedLog({ logger, subject: 'MQTT connections refused', intervalMs: 60_000 });
    for (let i = 0; i < 50; i++) log.note({ reason: 'a', sourceIp: i < 40 ? '10.0.0.1' : '10.0.0.2', message: `refused ${i}` });
    log.note({ reason: 'b', sourceIp: '10.0.0.3', message: 'other reason' });
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['refused 0; further ones within 60 s are summarised', 'other reason; further ones within 60 s are summarised'],
    );
    log.flush();
    assert.equal(lines.length, 3);
    assert.equal(lines[2]!.msg, 'MQTT connections refused: 49 more not logged one by one (a 49); top sources: 10.0.0.1 39, 10.0.0.2 10');
    log.flush();
    assert.equal(lines.length, 3, 'nothing more to say');
    log.note({ reason: 'a', sourceIp: '10.0.0.1', message: 'next period' });
    assert.equal(lines.at(-1)!.msg, 'next period; further ones within 60 s are summarised');
    log.flush();
  });

  test('at most maxLines lines one by one per period, whatever the number of reasons', () => {
    const { logger, lines } = captureLogger();
    const log = new RateLimitedLog({ logger, subject: 'TLS handshakes failed', burst: 1, maxLines: 3, intervalMs: 60_000 });
    for (let i = 0; i < 10; i++) log.note({ reason: `r${i}`, sourceIp: '10.0.0.1', message: `m${i}` });
    assert.equal(lines.length, 3);
    log.flush();
    assert.match(lines[3]!.msg, /^TLS handshakes failed: 7 more not logged one by one/);
  });
});

describe('trusted proxies', () => {
  test('addresses, CIDR ranges and proxy-addr names are accepted; anything else is named', () => {
    assert.deepEqual(checkTrustedProxies([' 10.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', 'loopback']), [
      '10.0.0.1',
      '10.0.0.0/8',
      '::1',
      'fd00::/8',
      'loopback',
    ]);
    assert.equal(checkTrustedProxies([]), undefined);
    for (const bad of ['10.0.0.0/33', 'proxy.example', '10.0.0.1/8/1', '::1/129', '']) {
      assert.throws(() => checkTrustedProxies([bad]), RangeError, bad);
    }
  });
});

describe('fleetprov server: connection-limit flags', () => {
  test('malformed limits and proxies are usage errors (exit 2) naming the flag', async () => {
    const { run } = await import('../cli/support.js');
    for (const [flag, value, message] of [
      ['--fd-limit', '0', /--fd-limit must be an integer from 1/],
      ['--max-connections', 'lots', /--max-connections must be an integer from 1/],
      ['--max-pending-per-address', '-5', /--max-pending-per-address must be an integer from 1/],
      ['--max-connections-per-address', '1.5', /--max-connections-per-address must be an integer from 1/],
      ['--http-max-connections', '0', /--http-max-connections must be an integer from 1/],
      ['--trust-proxy', '10.0.0.0/33', /--trust-proxy: "10\.0\.0\.0\/33" is not an IP address, a CIDR range/],
    ] as const) {
      const r = await run('server', '--data-dir', '/nonexistent/never-created', flag, value);
      assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});
