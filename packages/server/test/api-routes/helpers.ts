/**
 * Test environment of the control-plane routes: a real SQLite registry in a temp dir, a real
 * fleetprov CA (EC P-256), a small key pool, the API app over HTTPS on 127.0.0.1 with every
 * route registered, and the real `@aws-sdk/client-iot` as the client.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../support/package-root.js';
import { IoTServiceException, type IoTClient } from '@aws-sdk/client-iot';
import pino from 'pino';
import { buildApiApp, type ApiApp } from '../../src/api/app.js';
import { staticCredentialStore } from '../../src/api/credentials.js';
import { controlPlaneRoutes } from '../../src/api/routes/index.js';
import { consoleExtensionRoutes, fleetprovExtensions } from '../../src/api/extensions/index.js';
import { RotationService } from '../../src/rotation/index.js';
import { sigv4Plugin } from '../../src/api/sigv4-plugin.js';
import { createCertificateAuthority, issueServerCertificate, KeyPool, type CertificateAuthority } from '../../src/pki/index.js';
import { openRegistry, type Registry, type RegistryOptions } from '../../src/registry/index.js';
import type { ServiceContext } from '../../src/service-context.js';
import { consoleRoutes, createSessionAuth, type ConsoleSessions } from '../../src/console/index.js';
import { ADMIN, iotClient } from '../api/helpers.js';
import { PG_URL } from '../support/postgres.js';
import pg from 'pg';
import type { RouteOptions } from 'fastify';
import type { SigV4PluginOptions } from '../../src/api/sigv4-plugin.js';

/** Region and account of the test server (ARNs use them). */
export const REGION = 'eu-central-1';
export const ACCOUNT_ID = '123456789012';

/** One recorded call of `ctx.disconnectCertificate`. */
export interface DisconnectCall {
  certificateId: string;
  reason: string;
}

/** A running control-plane server and its collaborators. */
export interface RoutesEnv {
  app: ApiApp;
  client: IoTClient;
  registry: Registry;
  ca: CertificateAuthority;
  ctx: ServiceContext;
  /** Every call of `ctx.disconnectCertificate`, in order. */
  disconnects: DisconnectCall[];
  baseUrl: string;
  /** The SQLite file of the registry; null on PostgreSQL. */
  sqlitePath: string | null;
  /** Every route registered on the app (method, url, schema), as Fastify's onRoute hook saw it. */
  routes: RouteOptions[];
  close(): Promise<void>;
}

/** Options of {@link startRoutesEnv}. */
export interface RoutesEnvOptions {
  /** Also serve the web console with these sessions (cookie auth on every route). */
  consoleSessions?: ConsoleSessions;
  /** The registry's clock (epoch ms); default the real time. */
  registryClock?: () => number;
  /**
   * The registry's database: `sqlite` (default, a file in a temp dir) or `postgres` (a fresh schema
   * on {@link PG_URL}, dropped by `close()`), or a PostgreSQL URL to open (with `pgSchema`).
   */
  db?: 'sqlite' | 'postgres' | { url: string; schema: string };
  /** Further registry options (busy timeout, connect timeout, pool size). */
  registryOptions?: Pick<RegistryOptions, 'busyTimeoutMs' | 'connectTimeoutMs' | 'poolSize'>;
  /** Also register every `/fleetprov/*` extension (event log, rotation with an idle RotationService). */
  extensions?: boolean;
  /** Options passed to the SigV4 plugin (clock, window); with `now`, the Date header follows that clock too. */
  sigv4?: Pick<SigV4PluginOptions, 'now' | 'maxClockSkewMs'>;
}

/** The dialect of a registry test: a registry factory per dialect, for suites run on both. */
export type RoutesDialect = 'sqlite' | 'postgres';

/** Starts a fresh environment (about 50 ms). */
export async function startRoutesEnv(options: RoutesEnvOptions = {}): Promise<RoutesEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'fleetprov-routes-'));
  const db = options.db ?? 'sqlite';
  const pgSchema = db === 'postgres' ? `fp_routes_${process.pid}_${randomBytes(4).toString('hex')}` : null;
  const sqlitePath = db === 'sqlite' ? join(dir, 'registry.db') : null;
  const base = {
    region: REGION,
    accountId: ACCOUNT_ID,
    ...options.registryOptions,
    ...(options.registryClock === undefined ? {} : { clock: options.registryClock }),
  };
  const registry =
    sqlitePath !== null
      ? await openRegistry(sqlitePath, base)
      : db === 'postgres'
        ? await openRegistry(PG_URL, { ...base, schema: pgSchema ?? '' })
        : await openRegistry((db as { url: string }).url, { ...base, schema: (db as { schema: string }).schema });
  const ca = await createCertificateAuthority({ keyAlgorithm: 'ec-p256' });
  const keyPool = new KeyPool({ targets: { 'ec-p256': 2 }, workers: 1 });
  const server = await issueServerCertificate(ca, ['127.0.0.1']);
  const disconnects: DisconnectCall[] = [];
  const ctx: ServiceContext = {
    registry,
    ca,
    keyPool,
    logger: pino({ level: 'silent' }),
    region: REGION,
    accountId: ACCOUNT_ID,
    certificateValidityDays: 365,
    keyAlgorithm: 'ec-p256',
    endpointAddress: 'localhost',
    disconnectCertificate(certificateId, reason) {
      disconnects.push({ certificateId, reason });
      return 1;
    },
    now: () => new Date(),
  };
  const credentials = staticCredentialStore([ADMIN]);
  const app = buildApiApp({
    https: { key: server.privateKeyPem, cert: server.chainPem },
    region: REGION,
    accountId: ACCOUNT_ID,
    logger: false,
  });
  const sessions = options.consoleSessions;
  const routes: RouteOptions[] = [];
  const serverNow = options.sigv4?.now;
  if (serverNow !== undefined) {
    // The server's clock is the test's: its Date header says so too (the SDKs correct their clocks from it).
    app.addHook('onSend', async (_request, reply) => {
      void reply.header('date', new Date(serverNow()).toUTCString());
    });
  }
  app.addHook('onRoute', (route) => {
    routes.push(route);
  });
  await app.register(async (aws) => {
    await aws.register(sigv4Plugin, {
      credentials,
      ...options.sigv4,
      ...(sessions === undefined ? {} : { sessionAuth: createSessionAuth(sessions) }),
    });
    await aws.register(controlPlaneRoutes, { context: ctx });
    if (options.extensions === true) {
      const rotation = new RotationService(ctx);
      await aws.register(fleetprovExtensions, { context: ctx, rotation, ...(sessions === undefined ? {} : { sessions }) });
    } else if (sessions !== undefined) await aws.register(consoleExtensionRoutes, { context: ctx, sessions });
  });
  if (sessions !== undefined) await app.register(consoleRoutes, { sessions, credentials });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const baseUrl = `https://127.0.0.1:${port}`;
  const client = iotClient(baseUrl, ADMIN, { ca: ca.rootCertificatePem });
  return {
    app,
    client,
    registry,
    ca,
    ctx,
    disconnects,
    baseUrl,
    sqlitePath,
    routes,
    async close() {
      client.destroy();
      await app.close();
      await keyPool.close();
      await registry.close();
      await rm(dir, { recursive: true, force: true });
      if (pgSchema !== null) await dropPgSchema(pgSchema);
    },
  };
}

/** Drops a PostgreSQL schema a test created. */
export async function dropPgSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

/**
 * Awaits `promise`, which must reject with the AWS exception `name` (as the SDK raises it), with
 * `status` when given and a message matching `message` when given. Returns the exception.
 */
export async function expectAwsError(
  promise: Promise<unknown>,
  name: string,
  opts: { status?: number; message?: RegExp } = {},
): Promise<IoTServiceException & Record<string, unknown>> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected ${name}, but the call succeeded`);
  assert.ok(caught instanceof IoTServiceException, `expected an IoTServiceException, got ${String(caught)}`);
  assert.equal(caught.name, name, `expected ${name}, got ${caught.name}: ${caught.message}`);
  if (opts.status !== undefined) assert.equal(caught.$metadata.httpStatusCode, opts.status);
  if (opts.message !== undefined) assert.match(caught.message, opts.message);
  return caught as IoTServiceException & Record<string, unknown>;
}

/** Everything in the registry that the control plane can change, as plain data. */
export async function snapshot(registry: Registry): Promise<unknown> {
  const certificates = await drainMarker((marker) =>
    registry.certificates.list({ includeHidden: true, pageSize: 250, ...(marker ? { marker } : {}) }),
  );
  const policies = await drainMarker((marker) => registry.policies.list({ pageSize: 250, ...(marker ? { marker } : {}) }));
  const policyVersions = await Promise.all(policies.map((p) => registry.policies.listVersions(p.name)));
  const policyTargets = await Promise.all(
    policies.map((p) => drainMarker((marker) => registry.policies.listTargets(p.name, marker ? { marker } : {}))),
  );
  const templates = await drainToken((nextToken) => registry.templates.list({ maxResults: 250, ...(nextToken ? { nextToken } : {}) }));
  const templateVersions = await Promise.all(
    templates.map((t) => drainToken((nextToken) => registry.templates.listVersions(t.name, nextToken ? { nextToken } : {}))),
  );
  const things = await drainToken((nextToken) => registry.things.list({ maxResults: 250, ...(nextToken ? { nextToken } : {}) }));
  const principals = await Promise.all(
    things.map((t) => drainToken((nextToken) => registry.thingPrincipals.listForThing(t.name, nextToken ? { nextToken } : {}))),
  );
  const groups = await drainToken((nextToken) => registry.thingGroups.list({ maxResults: 250, ...(nextToken ? { nextToken } : {}) }));
  const members = await Promise.all(
    groups.map((g) => drainToken((nextToken) => registry.thingGroups.listThings(g.name, nextToken ? { nextToken } : {}))),
  );
  const thingTypes = await drainToken((nextToken) => registry.things.listTypes(nextToken ? { nextToken } : {}));
  const billingGroups = await drainToken((nextToken) =>
    registry.billingGroups.list({ maxResults: 250, ...(nextToken ? { nextToken } : {}) }),
  );
  const billingMembers = await Promise.all(
    billingGroups.map((g) => drainToken((nextToken) => registry.billingGroups.listThings(g.name, nextToken ? { nextToken } : {}))),
  );
  const roleAliases = await drainMarker((marker) => registry.roleAliases.list({ pageSize: 250, ...(marker ? { marker } : {}) }));
  return {
    certificates,
    policies,
    policyVersions,
    policyTargets,
    templates,
    templateVersions,
    things,
    principals,
    groups,
    members,
    thingTypes,
    billingGroups,
    billingMembers,
    roleAliases,
  };
}

async function drainMarker<T>(page: (marker: string | undefined) => Promise<{ items: T[]; nextMarker?: string }>): Promise<T[]> {
  const out: T[] = [];
  let marker: string | undefined;
  do {
    const p = await page(marker);
    out.push(...p.items);
    marker = p.nextMarker;
  } while (marker !== undefined);
  return out;
}

async function drainToken<T>(page: (token: string | undefined) => Promise<{ items: T[]; nextToken?: string }>): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const p = await page(token);
    out.push(...p.items);
    token = p.nextToken;
  } while (token !== undefined);
  return out;
}

/**
 * Runs `failingCall` (which must itself assert its failure) and asserts that the registry holds
 * exactly what it held before.
 */
export async function assertUnchanged(registry: Registry, failingCall: () => Promise<unknown>): Promise<void> {
  const before = await snapshot(registry);
  await failingCall();
  assert.deepEqual(await snapshot(registry), before, 'the failing call changed the registry');
}

/** A fixture file's text (test/fixtures/<path>). */
export function fixture(path: string): Promise<string> {
  return readFile(join(packageRoot(), 'test', 'fixtures', path), 'utf8');
}
