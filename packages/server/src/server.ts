/**
 * `startServer`: one process that behaves like AWS IoT Core for provisioning — the MQTT broker over
 * mutual TLS with the Fleet Provisioning API, and the AWS-compatible control plane over HTTPS —
 * on a data directory (CA, credentials) and a registry (SQLite by default, PostgreSQL by URL).
 */
import pino, { type Logger } from 'pino';
import { prepareDataDir, type DataDirPaths } from './data-dir.js';
import { sqliteToDataDirError, toDataDirError } from './data-dir-check.js';
import {
  ACCOUNT_ID_RULE,
  checkArnScope,
  DEFAULT_ACCOUNT_ID,
  DEFAULT_REGION,
  isValidAccountId,
  isValidRegion,
  openRegistry,
  REGION_RULE,
  type ExistingThingPolicy,
  type Registry,
} from './registry/index.js';
import { CertificateFactsCache, KeyPool, type CaKeyStorage, type CaKeyStorageReport } from './pki/index.js';
import { BrokerBus, startBroker, TopicRouter, type Broker, type BrokerLimits } from './broker/index.js';
import { connectionBudget, LOW_FD_LIMIT, type ConnectionBudget } from './net/fd-limit.js';
import { ConnectionGate, gateTlsServer } from './net/connection-gate.js';
import { buildApiApp, staticCredentialStore, type ApiApp } from './api/index.js';
import { DEFAULT_SIGNATURE_WINDOW_MS, MAX_SIGNATURE_WINDOW_MS } from './api/sigv4.js';
import { registerControlPlane } from './api/control-plane.js';
import {
  createProvisioningHandler,
  createRegistryAuthority,
  fleetProvisioningRequests,
  startTokenSweeper,
  type PreProvisioningHook,
  type ProvisioningHandlerOptions,
} from './provisioning/index.js';
import { createRotationAckHandler, rotationAcknowledgements, RotationService, type RotationOptions } from './rotation/index.js';
import { createJustInTimeRegistration } from './provisioning/jitp.js';
import { checkHookSecret, loadOrCreateHookSecret } from './provisioning/hook-secret.js';
import { checkMetricsToken, createMetrics, createReadinessProbe, type FleetprovMetrics } from './metrics/index.js';
import type { GeneratedKeyAlgorithm, ServiceContext } from './service-context.js';
import { cachedEventConfigurations, createEventPublisher, observeRegistry, type EventPublisher } from './events/index.js';
import { ConsoleSessions } from './console/index.js';
import { ClusterError, createRedisScaleOut, resolveClusterOptions, type RedisScaleOut } from './cluster/index.js';
import { startClusterSignals, type ClusterSignal, type ClusterSignals } from './cluster/signals.js';
import { leaseTtl, redisLeases, soloLeases, type JobLeases } from './cluster/lease.js';
import { redisThrottle } from './cluster/throttle.js';
import { dialectOf } from './registry/open.js';
import { normalizePublicUrl, withRevocationUrls } from './pki/revocation-urls.js';
import { revocationSignerFor } from './pki/revocation-signer.js';
import { RevocationService } from './revocation/service.js';
import { certificateFactsOf } from './service-context.js';
import { DRAIN_REPLY_SETTLE_MS, DRAINING_REASON, InFlight, type DrainResult } from './cluster/drain.js';

/** Options of {@link startServer}; every one has a default. */
export interface ServerOptions {
  /** Data directory. Default `./.fleetprov`. */
  dataDir?: string;
  /** Listen address. Default `127.0.0.1`. */
  host?: string;
  /** MQTT over TLS port; 0 picks a free one. Default 8883. */
  mqttPort?: number;
  /** Control-plane HTTPS port; 0 picks a free one. Default 8443. */
  httpPort?: number;
  /** Extra names for the server certificate (localhost and 127.0.0.1 are always included). */
  hostnames?: readonly string[];
  /** `postgres://…` for PostgreSQL; a file path for SQLite. Default `DATA_DIR/registry.db`. */
  db?: string;
  /** Log level (pino). Default `info`. */
  logLevel?: string;
  /** A logger to use instead of creating one. */
  logger?: Logger;
  /**
   * Region in every ARN (an AWS region code). Default `us-east-1`. Requests signed for any region
   * are accepted. A registry keeps the region and account it was first used with (see
   * registry/arn-scope.ts).
   */
  region?: string;
  /** Account id (12 digits) in every ARN and `ownedBy`. Default `000000000000`. */
  accountId?: string;
  /**
   * How far a signed request's time stamp (`X-Amz-Date`) may be from the server clock, either way,
   * ms. Default 5 minutes, AWS's rule ({@link DEFAULT_SIGNATURE_WINDOW_MS}).
   */
  signatureWindowMs?: number;
  /** Validity of issued device certificates in days. Default 365. */
  certificateValidityDays?: number;
  /** Fixed expiry of every issued device certificate instead of the validity in days, e.g. AWS's `2049-12-31T23:59:59Z`. */
  certificateNotAfter?: Date;
  /** Key algorithm of CreateKeysAndCertificate. Default `rsa-2048` (as AWS). */
  keyAlgorithm?: GeneratedKeyAlgorithm;
  /** Ready RSA keys kept in the pool. Default 8. */
  keyPoolSize?: number;
  /**
   * Provisioning requests per second allowed per connecting certificate (burst: twice that); beyond it
   * requests are rejected with 429 Throttling. Every device of a batch shares its claim certificate, so the
   * default is high: 1000.
   */
  provisioningRatePerSecond?: number;
  /**
   * Most certificates one requesting certificate (a claim certificate, shared by a batch of devices)
   * may have created with CreateKeysAndCertificate / CreateCertificateFromCsr and not registered yet
   * (PENDING_ACTIVATION), counted in the registry; beyond it `429 Throttling`. Default 500; 0 = no cap.
   */
  maxPendingCertificates?: number;
  /**
   * Certificates one requesting certificate may create per second, sustained, counted in the registry
   * (every server on a shared database sees the same count); beyond it `429 Throttling`. Default 10
   * (AWS's whole-account RegisterThing quota); 0 = no limit.
   */
  certificateRatePerSecond?: number;
  /** Certificates one requesting certificate may create at once. Default 5 × `certificateRatePerSecond` (50). */
  certificateBurst?: number;
  /**
   * What RegisterThing does with a thing that exists already, on templates without their own setting
   * (`PUT /fleetprov/template-protections/<template>`, `fleetprov template existing-thing`): `allow`
   * (default, as AWS: any claim may provision it) or `owner` (only a certificate attached to the thing,
   * or the claim certificate that first provisioned it; others get 403 AccessDenied).
   */
  existingThingPolicy?: ExistingThingPolicy;
  /**
   * An in-process pre-provisioning hook, called before every RegisterThing on a template without a
   * `preProvisioningHook` of its own, with AWS's Lambda event
   * (`claimCertificateId`, `certificateId`, `certificatePem`, `templateArn`, `clientId`, `parameters`);
   * a denial, error or timeout rejects with 403 AccessDenied and creates nothing.
   */
  preProvisioningHook?: PreProvisioningHook;
  /**
   * In-process hooks by name or ARN. A template whose `preProvisioningHook.targetArn` is one of these
   * names (or a Lambda ARN ending in `function:<name>`) runs that function; a targetArn that is an
   * `https://` / `http://` URL calls that webhook; any other targetArn denies.
   */
  preProvisioningHooks?: Readonly<Record<string, PreProvisioningHook>>;
  /** Time a pre-provisioning hook may take, ms (1-600000). Default 5000, AWS's limit. */
  preProvisioningHookTimeoutMs?: number;
  /**
   * HMAC key webhook calls are signed with (16+ characters). Default: generated once in
   * `DATA_DIR/hook-secret` (see `RunningServer.hookSecretPath`).
   */
  hookSecret?: string;
  /** CA certificates (PEM) to trust for `https://` webhooks in addition to Node's store (e.g. a private CA). */
  hookCa?: string;
  /** How often expired pending certificates are swept, ms. Default 60000. */
  sweepIntervalMs?: number;
  /**
   * Enables Prometheus metrics at `GET /metrics` on the control plane, readable with
   * `Authorization: Bearer <metricsToken>` (1-1024 visible ASCII characters). Without it metrics are
   * not collected and `/metrics` answers 404 "metrics disabled".
   */
  metricsToken?: string;
  /**
   * Certificate rotation (docs/rotation.md): grace period before an old certificate is retired after
   * its replacement connected (`graceMs`, default 1 hour), what it becomes (`retireStatus`, INACTIVE
   * or REVOKED), and how often the monitor runs (`intervalMs`, default 60 s).
   */
  rotation?: Omit<RotationOptions, 'publish'>;
  /**
   * Cluster mode (docs/cluster.md): `redis://HOST:6379` of the Redis every node shares. Requires a
   * PostgreSQL `db`; the broker then uses aedes' Redis emitter and persistence, so messages, retained
   * messages and persistent sessions are shared by every node, and a CONNECT on one node takes over
   * the same client id's connection on another.
   */
  redis?: string;
  /** This node's id in a cluster (default: host name, process id and random bytes). Only with `redis`. */
  nodeId?: string;
  /** Prefix of this cluster's Redis keys and channels. Default `fleetprov:`. Only with `redis`. */
  redisKeyPrefix?: string;
  /**
   * CA passphrase (docs/ca.md): a new CA's keys are written as encrypted PKCS#8 with it, and
   * encrypted CA keys are decrypted with it. Without it, a new CA's keys are plaintext (development).
   */
  caPassphrase?: string;
  /**
   * Production mode: refuse to start with a plaintext private key anywhere under `DATA_DIR/ca/`, and
   * never write one (a first start needs `caPassphrase`).
   */
  production?: boolean;
  /**
   * The open-file limit the connection budget is cut from (net/fd-limit.ts). Default: read from
   * `/proc/self/limits` on Linux, else 10240. The broker gets what is left after a tenth for the
   * process, the database and files and a tenth for the control plane, at most 50000.
   */
  fdLimit?: number;
  /**
   * Overrides of the broker's limits (`broker/limits.ts`): `maxConnections` (default from the
   * budget above), `maxPendingPerAddress` (100), `maxConnectionsPerAddress` (10000),
   * `shedPendingAfterMs` (2000), the timeouts…
   */
  brokerLimits?: Partial<BrokerLimits>;
  /** Simultaneous control-plane (HTTPS) connections. Default from the budget (a tenth of the open-file limit, 16–4096). */
  httpsMaxConnections?: number;
  /**
   * Reverse proxies in front of the control plane whose `X-Forwarded-For` is believed (addresses,
   * CIDR ranges, `loopback`…): the console's failed-login limit then keys on the forwarded client
   * address. Default none.
   */
  trustProxy?: readonly string[];
  /**
   * The URL relying parties reach this server's control plane at, e.g. `https://fleet.example.com:8443`:
   * device certificates issued then carry the CRL distribution point `<publicUrl>/crl/<caId>.crl` and
   * the OCSP URL `<publicUrl>/ocsp` (docs/ca.md, "Revocation"). Default none (no URLs in certificates;
   * the CRL and OCSP endpoints are served either way).
   */
  publicUrl?: string;
  /** How often each CRL is rebuilt without a revocation, ms. Default 24 hours (nextUpdate: twice that). */
  crlRefreshMs?: number;
}

/** Control-plane connections from one address that have not finished TLS. */
export const HTTPS_MAX_PENDING_PER_ADDRESS = 32;

/** The connection limits of a server: its budget and the broker limits derived from it. */
export interface ConnectionLimits {
  budget: ConnectionBudget;
  broker: Partial<BrokerLimits>;
  https: { maxConnections: number; maxPendingPerAddress: number; maxConnectionsPerAddress: number; shedPendingAfterMs: number };
}

/**
 * The connection limits of {@link startServer}: the budget from the open-file limit, with the
 * explicit options on top.
 * @throws {RangeError} for an `fdLimit` or `httpsMaxConnections` that is not a positive integer
 */
export function connectionLimits(
  options: Pick<ServerOptions, 'fdLimit' | 'brokerLimits' | 'httpsMaxConnections'>,
  readLimit?: () => number | null,
): ConnectionLimits {
  const budget = connectionBudget({
    ...(options.fdLimit !== undefined ? { fdLimit: options.fdLimit } : {}),
    ...(readLimit !== undefined ? { readLimit } : {}),
  });
  const httpsMax = options.httpsMaxConnections ?? budget.https;
  if (!Number.isSafeInteger(httpsMax) || httpsMax < 1) throw new RangeError('httpsMaxConnections must be a positive integer');
  return {
    budget,
    broker: { maxConnections: budget.mqtt, ...options.brokerLimits },
    https: {
      maxConnections: httpsMax,
      maxPendingPerAddress: Math.min(httpsMax, HTTPS_MAX_PENDING_PER_ADDRESS),
      // One address (an admin script, a proxy) may take half, so probes from elsewhere still get in.
      maxConnectionsPerAddress: Math.max(1, Math.min(httpsMax, Math.max(16, Math.floor(httpsMax / 2)))),
      shedPendingAfterMs: 2000,
    },
  };
}

/** Logs the connection limits in force, and warns when the open-file limit leaves little room. */
function logConnectionLimits(logger: Logger, limits: ConnectionLimits, brokerLimits: Readonly<BrokerLimits>): void {
  const { budget } = limits;
  const fields = {
    fdLimit: budget.fdLimit,
    fdLimitSource: budget.fdLimitSource,
    mqttMaxConnections: brokerLimits.maxConnections,
    httpsMaxConnections: limits.https.maxConnections,
    reservedDescriptors: budget.reserved,
    maxPendingPerAddress: brokerLimits.maxPendingPerAddress,
    maxConnectionsPerAddress: brokerLimits.maxConnectionsPerAddress,
  };
  logger.info(
    fields,
    `connection limits: open files ${budget.fdLimit} (${budget.fdLimitSource}); MQTT ${brokerLimits.maxConnections}, HTTPS ${limits.https.maxConnections}; per address ${brokerLimits.maxPendingPerAddress} pending, ${brokerLimits.maxConnectionsPerAddress} open`,
  );
  const total = brokerLimits.maxConnections + limits.https.maxConnections + budget.reserved;
  if (total > budget.fdLimit) {
    logger.warn(
      fields,
      `MQTT ${brokerLimits.maxConnections} + HTTPS ${limits.https.maxConnections} connections + ${budget.reserved} kept for files exceed the open-file limit ${budget.fdLimit}: a full broker will make accept() fail (EMFILE); raise the limit (ulimit -n) or lower the connection limits`,
    );
  } else if (budget.fdLimit < LOW_FD_LIMIT) {
    logger.warn(
      fields,
      `the open-file limit ${budget.fdLimit} leaves room for only ${brokerLimits.maxConnections} MQTT connections; raise it (ulimit -n)`,
    );
  }
}

/** A running server. */
export interface RunningServer {
  /** Actual ports (useful with port 0). */
  mqttPort: number;
  httpPort: number;
  host: string;
  /** `mqtts://host:port` and `https://host:port`. */
  mqttUrl: string;
  controlPlaneUrl: string;
  /** Files in the data directory (`paths.rootCa`, `paths.credentials`, …). */
  paths: DataDirPaths;
  /** The trust anchor devices and admin clients use. */
  caPath: string;
  registry: Registry;
  broker: Broker;
  api: ApiApp;
  context: ServiceContext;
  /** Publishes registry events; `events.idle()` resolves once every committed change was published. */
  events: EventPublisher;
  /** The Prometheus metrics, when `metricsToken` enabled them. */
  metrics: FleetprovMetrics | null;
  /** The certificate-rotation service (requests, due certificates, the monitor). */
  rotation: RotationService;
  /** The CRLs and OCSP answers of the issuing CA (docs/ca.md, "Revocation"). */
  revocation: RevocationService;
  /** `publicUrl`, normalised, or null when not set. */
  publicUrl: string | null;
  /** The file holding the webhook HMAC key, or null when `hookSecret` was given. */
  hookSecretPath: string | null;
  /** Admin access key id (the secret is in `paths.credentials`). */
  accessKeyId: string;
  /** This node's id in a cluster, or null when not in cluster mode (no `redis`). */
  nodeId: string | null;
  /** How the CA keys are kept (also in `/readyz` as `ca`). */
  caCustody: CaCustodyReport;
  /**
   * Periodic passes this node ran, by job (`token-sweeper`, `rotation-monitor`): in a cluster only
   * the node holding a job's lease runs it.
   */
  periodicJobRuns: Readonly<Record<string, number>>;
  /** Stops listeners, background work and the registry. */
  close(): Promise<void>;
  /**
   * Drains the node, then closes it: `/readyz` answers 503 (draining), the MQTT listener stops
   * accepting, provisioning requests in flight finish (at most `timeoutMs`), then every MQTT
   * connection is closed (devices reconnect to another node) and the server closes.
   */
  drain(timeoutMs: number): Promise<DrainResult>;
  /** True once {@link RunningServer.drain} started. */
  readonly draining: boolean;
}

/** Starts the broker, the provisioning API and the control plane on a data directory. */
export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? pino({ level: options.logLevel ?? 'info', base: { service: 'fleetprov' } });
  const region = options.region ?? DEFAULT_REGION;
  const accountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
  if (!isValidRegion(region)) throw new RangeError(`region must be ${REGION_RULE}, got ${JSON.stringify(region)}`);
  if (!isValidAccountId(accountId)) throw new RangeError(`accountId must be ${ACCOUNT_ID_RULE}, got ${JSON.stringify(accountId)}`);
  const signatureWindowMs = options.signatureWindowMs ?? DEFAULT_SIGNATURE_WINDOW_MS;
  if (!Number.isSafeInteger(signatureWindowMs) || signatureWindowMs < 1000 || signatureWindowMs > MAX_SIGNATURE_WINDOW_MS) {
    throw new RangeError(`signatureWindowMs must be an integer from 1000 to ${MAX_SIGNATURE_WINDOW_MS}, got ${signatureWindowMs}`);
  }
  const hostnames = [...(options.hostnames ?? [])];
  if (host !== '0.0.0.0' && host !== '::' && !hostnames.includes(host)) hostnames.push(host);
  const metricsToken = options.metricsToken === undefined ? undefined : checkMetricsToken(options.metricsToken);
  const metrics = metricsToken === undefined ? null : createMetrics();
  if (options.redis === undefined && (options.nodeId !== undefined || options.redisKeyPrefix !== undefined))
    throw new ClusterError('InvalidNodeId', 'a node id and a Redis key prefix only apply in cluster mode: add --redis redis://HOST:6379');
  const registryLocation = options.db ?? '(DATA_DIR/registry.db)';
  const cluster =
    options.redis === undefined
      ? null
      : resolveClusterOptions(
          {
            redis: options.redis,
            ...(options.nodeId !== undefined ? { nodeId: options.nodeId } : {}),
            ...(options.redisKeyPrefix !== undefined ? { keyPrefix: options.redisKeyPrefix } : {}),
          },
          registryLocation,
          options.db !== undefined && dialectOf(options.db) === 'postgres',
        );
  const limits = connectionLimits(options);
  const publicUrl = options.publicUrl === undefined ? undefined : normalizePublicUrl(options.publicUrl);

  const data = await prepareDataDir(options.dataDir ?? '.fleetprov', hostnames, {
    ...(options.caPassphrase !== undefined ? { passphrase: options.caPassphrase } : {}),
    ...(options.production === true ? { requireEncrypted: true } : {}),
  });
  const caCustody = caCustodyReport(data.caKeyStorage, options.production === true);
  if (caCustody.plaintextKeys)
    logger.warn(
      { ca: caCustody },
      'CA private keys are stored in plaintext (development default); use a CA passphrase and --production for a deployment (docs/ca.md)',
    );
  const hookSecret =
    options.hookSecret !== undefined
      ? { secret: checkHookSecret(options.hookSecret), path: null }
      : await loadOrCreateHookSecret(data.paths.dir).catch((error: unknown) => {
          throw toDataDirError(error, data.paths.dir, 'write the hook secret');
        });
  // The services the broker needs (its authority, its routes) are built before it; they reach it
  // through this bus, which the broker binds to itself when it starts listening.
  const bus = new BrokerBus();
  const rawRegistry = await openRegistry(options.db ?? data.paths.sqlite, { region, accountId }).catch((error: unknown) => {
    if (options.db !== undefined) throw error;
    throw sqliteToDataDirError(toDataDirError(error, data.paths.dir, 'open the registry'), data.paths.dir, data.paths.sqlite);
  });
  try {
    await checkArnScope(rawRegistry);
  } catch (err) {
    await rawRegistry.close();
    throw err;
  }
  // Registry changes are logged with the change and published on $aws/events/... after commit.
  const eventConfigurations = cachedEventConfigurations(rawRegistry);
  const eventPublisher = createEventPublisher({ bus, configurations: eventConfigurations, logger });
  let revocation: RevocationService | null = null;
  const registry = observeRegistry(rawRegistry, {
    onCommit: (changes) => {
      eventPublisher.publish(changes);
      void revocation?.onChanges(changes);
    },
    logger,
  });
  const keyAlgorithm = options.keyAlgorithm ?? 'rsa-2048';
  // In a cluster, changes that affect live connections or caches are also sent to the other nodes
  // (cluster/signals.ts); `signals` is set once Redis is connected.
  let signals: ClusterSignals | null = null;
  const applySignal = (signal: ClusterSignal): void => {
    if (signal.type === 'disconnect-certificate') {
      const dropped = bus.disconnectCertificate(signal.certificateId, signal.reason);
      if (dropped > 0)
        logger.info({ certificateId: signal.certificateId, dropped, reason: signal.reason }, 'disconnected clients of a certificate');
    } else if (signal.type === 'reauthorize') bus.reauthorize(signal.scope);
    else eventConfigurations.invalidate();
  };
  const sendSignal = (signal: ClusterSignal): void => {
    applySignal(signal);
    signals?.send(signal);
  };
  const keyPool = new KeyPool({ targets: keyAlgorithm === 'rsa-2048' ? { 'rsa-2048': options.keyPoolSize ?? 8 } : {} });

  const context: ServiceContext = {
    registry,
    ca: publicUrl === undefined ? data.ca : withRevocationUrls(data.ca, publicUrl),
    keyPool,
    logger,
    region,
    accountId,
    certificateValidityDays: options.certificateValidityDays ?? 365,
    ...(options.certificateNotAfter !== undefined ? { certificateNotAfter: options.certificateNotAfter } : {}),
    keyAlgorithm,
    endpointAddress:
      hostnames.find((h) => h !== '127.0.0.1' && h !== 'localhost') ?? (host === '0.0.0.0' || host === '::' ? 'localhost' : host),
    disconnectCertificate: (certificateId, reason) => {
      signals?.send({ type: 'disconnect-certificate', certificateId, reason });
      return bus.disconnectCertificate(certificateId, reason);
    },
    reauthorize: (scope) => sendSignal({ type: 'reauthorize', scope }),
    now: () => new Date(),
    certificateFacts: new CertificateFactsCache(),
  };

  const revocationService = new RevocationService({
    registry,
    signers: [revocationSignerFor(data.ca.issuer)],
    authorityKeyIdOf: (row) => {
      try {
        return certificateFactsOf(context, row.id, row.pem).authorityKeyId ?? null;
      } catch {
        return null;
      }
    },
    logger: logger.child({ component: 'revocation' }),
    now: () => context.now(),
    ...(options.crlRefreshMs !== undefined ? { crlRefreshMs: options.crlRefreshMs } : {}),
    // A cluster node does not see the other nodes' revocations: its CRL is rebuilt when 5 s old.
    ...(cluster !== null ? { crlMaxAgeMs: 5000 } : {}),
  });
  revocation = revocationService;

  const cleanups: Array<() => Promise<void> | void> = [];
  const inFlight = new InFlight();
  let draining = false;
  let scaleOut: RedisScaleOut | null = null;
  // Periodic jobs (token sweeper, rotation monitor) run on the node holding their lease (cluster/lease.ts).
  let leases: JobLeases = soloLeases();
  try {
    if (cluster !== null) {
      scaleOut = await createRedisScaleOut(cluster, logger);
      const redis = scaleOut;
      cleanups.push(() => redis.close()); // after the broker's close (cleanups run in reverse)
      const started = await startClusterSignals({
        nodeId: cluster.nodeId,
        channel: `${cluster.keyPrefix}signals`,
        pub: redis.commands,
        sub: redis.signalSubscriber,
        logger,
        apply: applySignal,
        resync: () => {
          bus.reauthorize({ all: true });
          eventConfigurations.invalidate();
        },
      });
      signals = started;
      cleanups.push(() => started.stop());
      const clusterLeases = redisLeases(redis.commands, { keyPrefix: cluster.keyPrefix, nodeId: cluster.nodeId, logger });
      leases = clusterLeases;
      logger.info({ nodeId: cluster.nodeId }, `cluster node ${cluster.nodeId}: broker state shared through Redis`);
    }
    const rotation: RotationService = new RotationService(context, {
      ...options.rotation,
      publish: (topic, payload) => bus.publish(topic, payload, { qos: 1 }),
      shouldRun: (): Promise<boolean> => leases.acquire('rotation-monitor', leaseTtl(rotation.intervalMs)),
    });
    cleanups.push(() => rotation.stop());
    const authority = createRegistryAuthority(context, {
      // JITP/JITR: certificates of registered CAs are registered on their first CONNECT.
      justInTimeRegistration: createJustInTimeRegistration(context, { bus }),
      expiredCertificateRecovery: (cert, clientId) => rotation.recoveryGrant(cert, clientId),
    });
    cleanups.push(() => authority.close());
    // In a cluster the per-certificate provisioning rate limit is one bucket in Redis for every node.
    const sharedRedis = scaleOut;
    const throttleStore =
      sharedRedis !== null && cluster !== null
        ? (rate: { ratePerSecond: number; burst: number }) =>
            redisThrottle(sharedRedis.commands, { ...rate, keyPrefix: cluster.keyPrefix, logger })
        : undefined;
    const router = new TopicRouter()
      .handle(
        fleetProvisioningRequests,
        inFlight.wrap(
          await createProvisioningHandler(context, {
            ...provisioningHandlerOptions(options, rotation, hookSecret.secret, metrics),
            ...(throttleStore !== undefined ? { throttleStore } : {}),
          }),
        ),
      )
      .handle(rotationAcknowledgements, createRotationAckHandler({ registry, service: rotation, logger }));
    const broker = await startBroker({
      host,
      port: options.mqttPort ?? 8883,
      tls: { cert: data.serverTls.cert, key: data.serverTls.key, ca: data.ca.caCertificatesPem },
      authority,
      router,
      bus,
      logger,
      limits: limits.broker,
      ...(scaleOut !== null ? { scaleOut: scaleOut.broker } : {}),
    });
    logConnectionLimits(logger, limits, broker.limits);
    broker.on('connected', (e) => rotation.onConnected(e.certificateId));
    rotation.start();
    let brokerListening = true;
    cleanups.push(() => {
      brokerListening = false;
      return broker.close();
    });
    if (metrics !== null) {
      cleanups.push(metrics.observeBroker(broker));
      metrics.observeListener('mqtt', () => broker.socketCounts());
      metrics.observeCertificates({ countCertificatesByStatus: () => registry.certificates.countByStatus() });
    }

    const credentials = staticCredentialStore([data.admin]);
    const consoleSessions = new ConsoleSessions();
    const api = buildApiApp({
      https: { key: data.serverTls.key, cert: data.serverTls.cert },
      logger: logger.child({ component: 'api' }),
      region,
      accountId,
      ...(options.trustProxy !== undefined ? { trustProxy: options.trustProxy } : {}),
      readiness: withRedisReadiness(
        createReadinessProbe({
          registry: { getSetting: (key) => registry.settings.get(key) },
          brokerListening: () => brokerListening,
          logger: logger.child({ component: 'health' }),
        }),
        scaleOut,
      ),
      readinessDetails: () => ({ ...(cluster !== null ? { nodeId: cluster.nodeId } : {}), ca: caCustody }),
      notReadyReason: () => (draining ? DRAINING_REASON : null),
    });
    // The control plane has its own connection budget and per-address limits: an MQTT flood cannot take its descriptors.
    const httpsGate = new ConnectionGate({
      listener: 'https',
      ...limits.https,
      logger: logger.child({ component: 'api' }),
      ...(metrics !== null ? { onRefused: metrics.recordConnectionRefused } : {}),
    });
    gateTlsServer(api.server, httpsGate);
    cleanups.push(() => httpsGate.close());
    metrics?.observeListener('https', () => ({ open: httpsGate.open, pending: httpsGate.pending }));
    await registerControlPlane(api, {
      context,
      signatureWindowMs,
      credentials,
      sessions: consoleSessions,
      rotation,
      eventConfigurations: {
        get: () => eventConfigurations.get(),
        invalidate: () => sendSignal({ type: 'event-configurations' }),
      },
      metrics: metrics !== null && metricsToken !== undefined ? { metrics, token: metricsToken } : null,
      ...(options.existingThingPolicy !== undefined ? { existingThingPolicy: options.existingThingPolicy } : {}),
      revocation: revocationService,
    });
    revocationService.start();
    cleanups.push(() => revocationService.stop());
    await api.listen({ host, port: options.httpPort ?? 8443 });
    cleanups.push(() => api.close());
    const address = api.server.address();
    const httpPort = typeof address === 'object' && address ? address.port : (options.httpPort ?? 8443);

    const sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    const sweeper = startTokenSweeper(context, {
      intervalMs: sweepIntervalMs,
      shouldRun: () => leases.acquire('token-sweeper', leaseTtl(sweepIntervalMs)),
    });
    cleanups.push(() => sweeper.stop());

    const urlHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      // The periodic jobs stop first and give their leases up while Redis is still connected,
      // so another node takes them over at its next pass.
      await sweeper.stop();
      await rotation.stop();
      await leases.releaseAll();
      for (const fn of cleanups.reverse()) await fn();
      await keyPool.close();
      await registry.close();
    };
    let drained: Promise<DrainResult> | null = null;
    return {
      mqttPort: broker.port,
      httpPort,
      host,
      mqttUrl: `mqtts://${urlHost}:${broker.port}`,
      controlPlaneUrl: `https://${urlHost}:${httpPort}`,
      paths: data.paths,
      caPath: data.paths.rootCa,
      registry,
      broker,
      api,
      context,
      metrics,
      rotation,
      revocation: revocationService,
      publicUrl: publicUrl ?? null,
      events: eventPublisher,
      hookSecretPath: hookSecret.path,
      accessKeyId: data.admin.accessKeyId,
      nodeId: cluster?.nodeId ?? null,
      caCustody,
      periodicJobRuns: leases.runs,
      close,
      get draining() {
        return draining;
      },
      drain(timeoutMs: number) {
        drained ??= (async () => {
          const started = Date.now();
          draining = true;
          logger.info(
            { timeoutMs, inFlight: inFlight.count },
            `draining: no new MQTT connections, ${inFlight.count} provisioning requests in flight`,
          );
          await broker.stopAccepting();
          const finished = await inFlight.idle(timeoutMs);
          const abandonedRequests = finished ? 0 : inFlight.count;
          if (!finished)
            logger.warn({ abandonedRequests }, `drain timeout: ${abandonedRequests} provisioning requests still running are abandoned`);
          // The last replies go through aedes' outgoing path (its persistence, then the socket) after
          // their handler resolved: give them a moment to be written before the connections close.
          await new Promise((resolve) => setTimeout(resolve, DRAIN_REPLY_SETTLE_MS));
          await broker.flushed(1000);
          const closedConnections = broker.connectionCount();
          await close();
          const elapsedMs = Date.now() - started;
          logger.info({ closedConnections, elapsedMs }, `drained in ${elapsedMs} ms: ${closedConnections} MQTT connections closed`);
          return { abandonedRequests, closedConnections, elapsedMs };
        })();
        return drained;
      },
    };
  } catch (err) {
    for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => undefined);
    await keyPool.close();
    await registry.close();
    throw err;
  }
}

/** How the CA keys are kept, as `/readyz` and the banner report it. */
export interface CaCustodyReport {
  /** Storage of the root CA key: `plaintext` or `encrypted` (PKCS#8, scrypt + AES-256). */
  readonly rootKey: CaKeyStorage;
  /** Storage of the issuing CA key. */
  readonly issuingKey: CaKeyStorage;
  /** True when any CA key is plaintext on disk (development only). */
  readonly plaintextKeys: boolean;
  /** True in production mode (`--production`). */
  readonly production: boolean;
}

function caCustodyReport(storage: CaKeyStorageReport, production: boolean): CaCustodyReport {
  return {
    rootKey: storage.root,
    issuingKey: storage.issuing,
    plaintextKeys: storage.root === 'plaintext' || storage.issuing === 'plaintext',
    production,
  };
}

/** The readiness probe, also requiring every Redis connection of a cluster node to be up. */
function withRedisReadiness(probe: () => Promise<boolean>, scaleOut: RedisScaleOut | null): () => Promise<boolean> {
  if (scaleOut === null) return probe;
  return async () => (await probe()) && scaleOut.ready();
}

/** The Fleet Provisioning handler's options from the server's. */
function provisioningHandlerOptions(
  options: ServerOptions,
  rotation: RotationService,
  webhookSecret: string,
  metrics: FleetprovMetrics | null,
): ProvisioningHandlerOptions {
  const rate = options.provisioningRatePerSecond ?? 1000;
  return {
    onRegistered: rotation.onRegistered,
    throttle: { ratePerSecond: rate, burst: rate * 2 },
    certificateLimits: {
      ...(options.maxPendingCertificates !== undefined ? { maxPending: options.maxPendingCertificates } : {}),
      ...(options.certificateRatePerSecond !== undefined ? { ratePerSecond: options.certificateRatePerSecond } : {}),
      ...(options.certificateBurst !== undefined ? { burst: options.certificateBurst } : {}),
    },
    ...(options.existingThingPolicy !== undefined ? { existingThingPolicy: options.existingThingPolicy } : {}),
    ...(options.preProvisioningHook !== undefined ? { preProvisioningHook: options.preProvisioningHook } : {}),
    ...(options.preProvisioningHooks !== undefined ? { preProvisioningHooks: options.preProvisioningHooks } : {}),
    ...(options.preProvisioningHookTimeoutMs !== undefined ? { hookTimeoutMs: options.preProvisioningHookTimeoutMs } : {}),
    webhookSecret,
    ...(options.hookCa !== undefined ? { webhookCa: options.hookCa } : {}),
    ...(metrics !== null
      ? { onOutcome: metrics.recordProvisioning, onPreProvisioningHookDuration: metrics.recordPreProvisioningHook }
      : {}),
  };
}
