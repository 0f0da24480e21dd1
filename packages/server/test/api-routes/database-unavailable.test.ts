/**
 * While the registry database is unreachable the control plane answers 503
 * ServiceUnavailableException, as AWS does while it cannot serve, and the AWS SDK retries it
 * (issue 17 D); it serves again as soon as the database is back.
 *
 * PostgreSQL is reached through a TCP proxy the test owns (the machine's PostgreSQL server is never
 * stopped): the proxy refuses connections, resets them, or swallows them (a connect timeout), and
 * backends are terminated with pg_terminate_backend. SQLite is held by another connection's write
 * lock past the busy timeout.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { CreateThingCommand, DescribeThingCommand, IoTClient, ListThingsCommand } from '@aws-sdk/client-iot';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import pg from 'pg';
import { isDatabaseUnavailable, RegistryError } from '../../src/registry/index.js';
import { ADMIN } from '../api/helpers.js';
import { PG_URL, requirePostgres } from '../support/postgres.js';
import { dropPgSchema, expectAwsError, startRoutesEnv, type RoutesEnv } from './helpers.js';

/** An IoTClient against the env with `maxAttempts` attempts (the SDK's default is 3). */
function sdkClient(env: RoutesEnv, maxAttempts: number): IoTClient {
  return new IoTClient({
    endpoint: env.baseUrl,
    region: 'eu-west-1',
    credentials: { ...ADMIN },
    maxAttempts,
    requestHandler: new NodeHttpHandler({
      httpAgent: new http.Agent({ keepAlive: false }),
      httpsAgent: new https.Agent({ keepAlive: false, ca: env.ca.rootCertificatePem }),
    }),
  });
}

describe('isDatabaseUnavailable: driver errors of an unreachable database', () => {
  const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });
  it('classifies PostgreSQL, socket and SQLite outages as unavailable', () => {
    for (const err of [
      withCode('ECONNREFUSED'),
      withCode('ECONNRESET'),
      withCode('ETIMEDOUT'),
      withCode('57P01', 'terminating connection due to administrator command'),
      withCode('57P03', 'the database system is starting up'),
      withCode('08006'),
      withCode('53300', 'sorry, too many clients already'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      withCode('SQLITE_BUSY', 'database is locked'),
      withCode('SQLITE_BUSY_SNAPSHOT'),
      withCode('SQLITE_IOERR_WRITE', 'disk I/O error'),
      withCode('SQLITE_CANTOPEN'),
      withCode('SQLITE_FULL'),
      new Error('wrapped', { cause: withCode('ECONNREFUSED') }),
    ]) {
      assert.equal(isDatabaseUnavailable(err), true, String((err as { code?: string }).code ?? err.message));
    }
  });
  it('leaves refusals and bugs alone', () => {
    for (const err of [
      withCode('23505', 'duplicate key'),
      withCode('22P05', 'unsupported Unicode escape sequence'),
      withCode('22021', 'invalid byte sequence for encoding "UTF8": 0x00'),
      withCode('SQLITE_CONSTRAINT_UNIQUE'),
      withCode('SQLITE_ERROR'),
      new TypeError('x is undefined'),
      new RegistryError('ResourceNotFound', 'thing "a" does not exist'),
      withCode('XX000', 'Connection terminated (an internal error with a code)'),
      null,
      'ECONNREFUSED',
    ]) {
      assert.equal(isDatabaseUnavailable(err), false, String(err));
    }
  });
});

describe('SQLite locked past the busy timeout: 503, then served again', () => {
  let env: RoutesEnv;
  before(async () => {
    env = await startRoutesEnv({ registryOptions: { busyTimeoutMs: 50 } });
  });
  after(() => env.close());

  it('a write while another connection holds the write lock is ServiceUnavailableException; reads go on', async () => {
    const client = sdkClient(env, 1);
    const other = new Database(env.sqlitePath ?? '');
    try {
      await client.send(new CreateThingCommand({ thingName: 'before-lock' }));
      other.exec('BEGIN IMMEDIATE');
      await expectAwsError(client.send(new CreateThingCommand({ thingName: 'while-locked' })), 'ServiceUnavailableException', {
        status: 503,
        message: /temporarily unavailable/,
      });
      const listed = await client.send(new ListThingsCommand({}));
      assert.deepEqual(
        listed.things?.map((t) => t.thingName),
        ['before-lock'],
      );
      other.exec('ROLLBACK');
      await client.send(new CreateThingCommand({ thingName: 'after-lock' }));
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      client.destroy();
    }
  });
});

/** A TCP proxy to PostgreSQL whose behaviour the test switches. */
class PgProxy {
  mode: 'forward' | 'reset' | 'blackhole' = 'forward';
  port = 0;
  readonly #sockets = new Set<net.Socket>();
  #server: net.Server | null = null;
  readonly #target: { host: string; port: number };

  constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  /** Starts listening (again, on the same port once it has one). */
  async open(): Promise<void> {
    const server = net.createServer((client) => this.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Stops listening (new connections are refused) and cuts every open connection. */
  async close(): Promise<void> {
    this.cutAll();
    const server = this.#server;
    this.#server = null;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Cuts every connection through the proxy. */
  cutAll(): void {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  #accept(client: net.Socket): void {
    this.#sockets.add(client);
    client.on('close', () => this.#sockets.delete(client));
    client.on('error', () => undefined);
    if (this.mode === 'reset') {
      client.destroy();
      return;
    }
    if (this.mode === 'blackhole') return; // accepted, never answered
    const upstream = net.connect(this.#target.port, this.#target.host);
    this.#sockets.add(upstream);
    upstream.on('close', () => {
      this.#sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

/** Waits (at most 5 s) until no backend of `applicationName` is left, then lets the socket closes reach the pool. */
async function backendsGone(admin: pg.Client, applicationName: string): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const left = await admin.query<{ n: string }>('select count(*)::text as n from pg_stat_activity where application_name = $1', [
      applicationName,
    ]);
    if (Number(left.rows[0]?.n) === 0) break;
    assert.ok(Date.now() < deadline, `backends of ${applicationName} still there 5 s after pg_terminate_backend`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
}

if (await requirePostgres('PostgreSQL unreachable: 503 ServiceUnavailableException')) {
  describe('PostgreSQL unreachable: 503 ServiceUnavailableException, retried by the SDK, then served again', () => {
    const target = new URL(PG_URL);
    const proxy = new PgProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const schema = `fp_unavail_${process.pid}_${randomBytes(4).toString('hex')}`;
    let env: RoutesEnv;
    let client: IoTClient;

    before(async () => {
      await proxy.open();
      const url = new URL(PG_URL);
      url.hostname = '127.0.0.1';
      url.port = String(proxy.port);
      url.searchParams.set('application_name', schema);
      env = await startRoutesEnv({ db: { url: url.toString(), schema }, registryOptions: { connectTimeoutMs: 1000, poolSize: 4 } });
      client = sdkClient(env, 1);
      await client.send(new CreateThingCommand({ thingName: 'kept' }));
    });
    after(async () => {
      client?.destroy();
      proxy.mode = 'forward';
      await proxy.close().catch(() => undefined);
      await proxy.open().catch(() => undefined);
      await env?.close().catch(() => undefined);
      await proxy.close();
      await dropPgSchema(schema);
    });

    const served = async () => {
      const d = await client.send(new DescribeThingCommand({ thingName: 'kept' }));
      assert.equal(d.thingName, 'kept');
    };
    const unavailable = (message = /temporarily unavailable/) =>
      expectAwsError(client.send(new ListThingsCommand({})), 'ServiceUnavailableException', { status: 503, message });

    it('connections cut and new ones reset: 503; forwarding again: served', async () => {
      await served();
      proxy.mode = 'reset';
      proxy.cutAll();
      await unavailable();
      await expectAwsError(client.send(new CreateThingCommand({ thingName: 'lost' })), 'ServiceUnavailableException', { status: 503 });
      proxy.mode = 'forward';
      await served();
      await expectAwsError(client.send(new DescribeThingCommand({ thingName: 'lost' })), 'ResourceNotFoundException');
    });

    it('connection refused (nothing listens): 503, and the SDK retries it (3 attempts) before giving up', async () => {
      await proxy.close();
      try {
        await unavailable();
        const retrying = sdkClient(env, 3);
        try {
          const err = await expectAwsError(retrying.send(new ListThingsCommand({})), 'ServiceUnavailableException', { status: 503 });
          assert.equal(err.$metadata.attempts, 3, 'ServiceUnavailableException is retryable');
        } finally {
          retrying.destroy();
        }
      } finally {
        await proxy.open();
      }
      await served();
    });

    it('a database that accepts but never answers: 503 after the connect timeout', async () => {
      proxy.mode = 'blackhole';
      proxy.cutAll();
      const started = Date.now();
      await unavailable();
      assert.ok(Date.now() - started < 5000, 'answered within the connect timeout, not hung');
      proxy.mode = 'forward';
      proxy.cutAll();
      await served();
    });

    it('backends terminated with pg_terminate_backend: 503 while they cannot come back, served once they can', async () => {
      await served();
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      try {
        proxy.mode = 'reset';
        const terminated = await admin.query<{ n: string }>(
          'select count(pg_terminate_backend(pid))::text as n from pg_stat_activity where application_name = $1',
          [schema],
        );
        assert.ok(Number(terminated.rows[0]?.n) >= 1, 'the registry had connections to terminate');
        // pg_terminate_backend only signals the backends: wait until they are gone and their sockets
        // closed through the proxy, so that every pooled connection is known dead (otherwise the
        // first request after forwarding resumes may still draw one whose FATAL is in flight).
        await backendsGone(admin, schema);
        await unavailable();
        proxy.mode = 'forward';
        await served();
        // Terminated again while new connections are possible: the pool reconnects, nothing fails.
        await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1', [schema]);
        await backendsGone(admin, schema);
        await served();
      } finally {
        proxy.mode = 'forward';
        await admin.end();
      }
    });
  });
}
