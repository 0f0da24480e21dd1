import type { Command } from 'commander';
import type { RunningServer } from '../server.js';
import { checkTrustedProxies } from '../net/trusted-proxies.js';
import { DataDirError } from '../data-dir-check.js';
import { CliError, type CliIo } from './io.js';
import { readInputFile } from './files.js';
import { ACCOUNT_ID_RULE, isValidAccountId, isValidRegion, REGION_RULE } from '../registry/arn.js';
import { isRegistryError } from '../registry/errors.js';

/** Default of --signature-window-seconds: AWS's five minutes. */
const DEFAULT_SIGNATURE_WINDOW_SECONDS = 300;

/**
 * A setting from its flag, else from its environment variable, else undefined; checked with `valid`
 * (the error names where the value came from and the rule).
 */
function flagOrEnv(
  flagValue: string | undefined,
  flag: string,
  envName: string,
  valid: (v: string) => boolean,
  rule: string,
): string | undefined {
  const fromEnv = process.env[envName];
  const value = flagValue ?? (fromEnv === '' ? undefined : fromEnv);
  if (value === undefined) return undefined;
  if (!valid(value)) {
    const source = flagValue !== undefined ? flag : envName;
    throw new CliError(`${source} must be ${rule}, got "${value}"`);
  }
  return value;
}

/** A positive integer option, or undefined when not given. */
function positiveInteger(value: string | undefined, name: string, max = 2_147_483_647): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > max)
    throw new CliError(`${name} must be an integer from 1 to ${max}, got "${value}"`);
  return n;
}

/** `--trust-proxy` values: comma-separated addresses, CIDR ranges or loopback/linklocal/uniquelocal, repeatable. */
function trustedProxies(values: readonly string[]): string[] | undefined {
  try {
    return checkTrustedProxies(values.flatMap((v) => v.split(',')).filter((v) => v.trim() !== ''));
  } catch (err) {
    throw new CliError(`--trust-proxy: ${(err as Error).message.replace(/^trustProxy: /, '')}`);
  }
}

import { ClusterError } from '../cluster/errors.js';
import { normalizePublicUrl } from '../pki/revocation-urls.js';

/** `--public-url` (or FLEETPROV_PUBLIC_URL), checked; undefined when neither is set. */
function publicUrlOption(flag: string | undefined): string | undefined {
  const env = process.env.FLEETPROV_PUBLIC_URL;
  const value = flag ?? (env === '' ? undefined : env);
  if (value === undefined) return undefined;
  try {
    return normalizePublicUrl(value);
  } catch (err) {
    throw new CliError(`${flag !== undefined ? '--public-url' : 'FLEETPROV_PUBLIC_URL'}: ${(err as Error).message}`);
  }
}
import { CA_PASSPHRASE_ENV, caCustodyFailure, readCaPassphrase } from './ca-custody.js';
import cluster from 'node:cluster';
import { notifyPrimary, parseWorkers, runPrimary, WorkerStartError, workerIndex, workerNodeId } from '../cluster/workers.js';
import { DEFAULT_DRAIN_TIMEOUT_MS } from '../cluster/drain.js';

function port(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(`${name} must be a port number 0-65535, got "${value}"`);
  return n;
}

/** The errno of a listen failure: the error's own, or its cause's (the broker wraps it in a `ListenFailed`). */
function listenErrno(err: unknown): { code: string; message: string } | null {
  for (let e = err as (NodeJS.ErrnoException & { cause?: unknown }) | null, depth = 0; e && depth < 3; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && (e.syscall === 'listen' || e.syscall === 'bind')) return { code: e.code, message: e.message };
  }
  return null;
}

/**
 * A failed start said in words (exit 1): a data directory that cannot be used, a port in use or
 * forbidden. Anything else is rethrown (an unexpected error, exit 70).
 */
export function startupFailure(err: unknown): unknown {
  if (err instanceof DataDirError) return new CliError(err.message, 1);
  const listen = listenErrno(err);
  if (listen?.code === 'EADDRINUSE')
    return new CliError(`a port is already in use (${listen.message}); choose others with --mqtt-port / --http-port`, 1);
  if (listen?.code === 'EACCES') return new CliError(`cannot listen: ${listen.message} (ports below 1024 need privileges)`, 1);
  return err;
}

/** The banner printed once the server is up. */
export function banner(server: RunningServer): string {
  return [
    '',
    'fleetprov server is running',
    `  MQTT (mTLS) endpoint   ${server.mqttUrl}   (devices; ALPN x-amzn-mqtt-ca accepted)`,
    `  control plane (AWS)    ${server.controlPlaneUrl}`,
    `  health                 ${server.controlPlaneUrl}/healthz, /readyz${server.metrics ? `, /metrics (bearer token)` : ''}`,
    `  revocation (public)    ${server.controlPlaneUrl}/crl/${server.context.ca.issuingCertificateId}.crl, /ocsp${server.publicUrl !== null ? `   (in device certificates as ${server.publicUrl})` : ''}`,
    `  web console            ${server.controlPlaneUrl}/console/   (sign in with the admin keys, or: fleetprov console-login)`,
    ...(server.nodeId !== null ? [`  cluster node           ${server.nodeId}   (broker state shared through Redis)`] : []),
    `  CA file (trust anchor) ${server.caPath}`,
    server.caCustody.plaintextKeys
      ? `  CA keys                PLAINTEXT on disk (development only; encrypt them: fleetprov ca encrypt-keys, then --production)`
      : `  CA keys                encrypted (PKCS#8, scrypt + AES-256)${server.caCustody.rootKey === 'offline' ? ', root key offline' : ''}${server.caCustody.production ? ', production mode' : ''}`,
    `  admin credentials      ${server.paths.credentials}`,
    `  webhook HMAC secret    ${server.hookSecretPath ?? '(FLEETPROV_HOOK_SECRET)'}   (pre-provisioning webhooks verify x-fleetprov-signature with it)`,
    '',
    'Use it with any AWS SDK or the AWS CLI:',
    `  export AWS_SHARED_CREDENTIALS_FILE=${server.paths.credentials} AWS_REGION=${server.context.region}`,
    `  export AWS_CA_BUNDLE=${server.caPath}          # AWS CLI, Python, Go, Java SDKs`,
    `  export NODE_EXTRA_CA_CERTS=${server.caPath}    # the JavaScript SDK ignores AWS_CA_BUNDLE`,
    `  aws iot list-things --endpoint-url ${server.controlPlaneUrl}`,
    '',
  ].join('\n');
}

/** Adds `fleetprov server`. */
export function addServerCommand(program: Command, io: CliIo): void {
  program
    .command('server')
    .description('run the fleetprov server: MQTT broker with the Fleet Provisioning API, CA, registry and AWS-compatible control plane')
    .option('--data-dir <dir>', 'data directory (CA, credentials, SQLite registry)', '.fleetprov')
    .option('--host <addr>', 'listen address', '127.0.0.1')
    .option('--mqtt-port <n>', 'MQTT over TLS port', '8883')
    .option('--http-port <n>', 'control-plane HTTPS port', '8443')
    .option(
      '--hostname <name>',
      'extra DNS name or IP for the server certificate (repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
      [],
    )
    .option('--db <url>', 'registry: postgres://… for PostgreSQL, or a SQLite file path (default DATA_DIR/registry.db)')
    .option('--redis <url>', 'cluster mode: redis://HOST:6379 shared by every node (needs --db postgres://…); see docs/cluster.md')
    .option('--node-id <id>', "cluster mode: this node's id (default: host name, process id and random bytes)")
    .option(
      '--redis-key-prefix <prefix>',
      "cluster mode: prefix of this cluster's Redis keys and channels, so several clusters can share one Redis (default fleetprov:)",
    )
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    .option('--cert-validity-days <n>', 'validity of issued device certificates', '365')
    .option(
      '--cert-not-after <date>',
      'fixed expiry of issued device certificates instead of --cert-validity-days (AWS uses 2049-12-31T23:59:59Z)',
    )
    .option(
      '--metrics-token <token>',
      'enable GET /metrics (Prometheus) for scrapers sending Authorization: Bearer <token>; also read from FLEETPROV_METRICS_TOKEN',
    )
    .option(
      '--rate-limit <n>',
      'provisioning requests per second per certificate (devices of a batch share their claim certificate)',
      '1000',
    )
    .option(
      '--max-pending-certificates <n>',
      'most certificates one claim certificate may have created and not registered yet (PENDING_ACTIVATION); 0 = no cap',
      '500',
    )
    .option(
      '--certificate-rate <n>',
      'certificates one claim certificate may create per second (counted in the registry); 0 = no limit',
      '10',
    )
    .option('--certificate-burst <n>', 'certificates one claim certificate may create at once (default 5 × --certificate-rate)')
    .option(
      '--existing-thing-policy <policy>',
      'RegisterThing on a thing that exists: allow (as AWS) or owner (only its own certificates or the claim that first provisioned it); templates may override it',
      'allow',
    )
    .option('--key-algorithm <alg>', 'CreateKeysAndCertificate key: rsa-2048 (as AWS) or ec-p256', 'rsa-2048')
    .option(
      '--rotation-grace-seconds <n>',
      "certificate rotation: time between the new certificate's first connection and the old one's retirement (rotation policies may override it)",
      '3600',
    )
    .option(
      '--rotation-retire-status <status>',
      'certificate rotation: what a retired certificate becomes, INACTIVE or REVOKED',
      'INACTIVE',
    )
    .option('--hook-timeout-ms <n>', 'time a pre-provisioning hook (webhook) may take before the request is denied', '5000')
    .option('--hook-ca <file>', 'PEM file of CA certificates to trust for https:// webhooks (besides the system store)')
    .option('--account-id <id>', 'AWS account id (12 digits) in every ARN and ownedBy; also FLEETPROV_ACCOUNT_ID (default 000000000000)')
    .option('--region <region>', 'AWS region code in every ARN, e.g. eu-central-1; also FLEETPROV_REGION (default us-east-1)')
    .option(
      '--signature-window-seconds <n>',
      "how far a signed request's X-Amz-Date may be from the server clock (AWS: 300); older or later requests are refused",
      String(DEFAULT_SIGNATURE_WINDOW_SECONDS),
    )
    .option('--fd-limit <n>', 'open-file limit to cut the connection budget from (default: read from /proc/self/limits, else 10240)')
    .option('--max-connections <n>', 'simultaneous MQTT connections (default: from the open-file limit, at most 50000)')
    .option('--max-pending-per-address <n>', 'MQTT connections per source address that have not finished TLS and CONNECT', '100')
    .option('--max-connections-per-address <n>', 'open MQTT connections per source address', '10000')
    .option(
      '--http-max-connections <n>',
      'simultaneous control-plane (HTTPS) connections (default: a tenth of the open-file limit, 16-4096)',
    )
    .option(
      '--trust-proxy <addrs>',
      'reverse proxies whose X-Forwarded-For is believed (comma-separated addresses, CIDR ranges, loopback; repeatable): the console login limit keys on the forwarded client address',
      (v: string, prev: string[] = []) => [...prev, v],
      [],
    )
    .option(
      '--public-url <url>',
      'URL relying parties reach the control plane at (e.g. https://fleet.example.com:8443): device certificates then carry its CRL (/crl/<caId>.crl) and OCSP (/ocsp) URLs; also FLEETPROV_PUBLIC_URL',
    )
    .option(
      '--ca-passphrase-file <file>',
      `CA passphrase (first line of FILE; else ${CA_PASSPHRASE_ENV}): CA keys are kept encrypted with it`,
    )
    .option('--production', 'refuse to start with a plaintext CA private key under DATA_DIR/ca/ (and never write one)')
    .option(
      '--workers <n>',
      'worker processes behind the same ports, each a cluster node (needs --redis and --db postgres://…); auto = one per CPU',
      '1',
    )
    .option(
      '--drain-timeout <seconds>',
      'on SIGTERM/SIGINT: time in-flight provisioning may take to finish before connections are closed (/readyz answers 503 meanwhile)',
      String(DEFAULT_DRAIN_TIMEOUT_MS / 1000),
    )
    .addHelpText(
      'after',
      '\nWebhook calls are signed with the secret in DATA_DIR/hook-secret (generated on first start), or with FLEETPROV_HOOK_SECRET when set.' +
        '\nConnection limits: see "Connection limits" in the README; refusals are logged (summarised) and counted in fleetprov_connections_refused_total.',
    )
    .action(
      async (opts: {
        dataDir: string;
        host: string;
        mqttPort: string;
        httpPort: string;
        hostname: string[];
        db?: string;
        redis?: string;
        nodeId?: string;
        redisKeyPrefix?: string;
        logLevel: string;
        certValidityDays: string;
        keyAlgorithm: string;
        rateLimit: string;
        maxPendingCertificates: string;
        certificateRate: string;
        certificateBurst?: string;
        existingThingPolicy: string;
        certNotAfter?: string;
        metricsToken?: string;
        hookTimeoutMs: string;
        hookCa?: string;
        rotationGraceSeconds: string;
        rotationRetireStatus: string;
        accountId?: string;
        region?: string;
        signatureWindowSeconds: string;
        fdLimit?: string;
        maxConnections?: string;
        maxPendingPerAddress: string;
        maxConnectionsPerAddress: string;
        httpMaxConnections?: string;
        trustProxy: string[];
        publicUrl?: string;
        caPassphraseFile?: string;
        production?: boolean;
        workers: string;
        drainTimeout: string;
      }) => {
        const caPassphrase = await readCaPassphrase(opts.caPassphraseFile);
        const accountId = flagOrEnv(opts.accountId, '--account-id', 'FLEETPROV_ACCOUNT_ID', isValidAccountId, ACCOUNT_ID_RULE);
        const region = flagOrEnv(opts.region, '--region', 'FLEETPROV_REGION', isValidRegion, REGION_RULE);
        const windowSeconds = Number(opts.signatureWindowSeconds);
        if (!/^\d+$/.test(opts.signatureWindowSeconds) || windowSeconds < 1 || windowSeconds > 7 * 86_400)
          throw new CliError(`--signature-window-seconds must be an integer from 1 to ${7 * 86_400}, got "${opts.signatureWindowSeconds}"`);
        const fdLimit = positiveInteger(opts.fdLimit, '--fd-limit');
        const maxConnections = positiveInteger(opts.maxConnections, '--max-connections');
        const maxPendingPerAddress = positiveInteger(opts.maxPendingPerAddress, '--max-pending-per-address');
        const maxConnectionsPerAddress = positiveInteger(opts.maxConnectionsPerAddress, '--max-connections-per-address');
        const httpsMaxConnections = positiveInteger(opts.httpMaxConnections, '--http-max-connections');
        const trustProxy = trustedProxies(opts.trustProxy);
        const publicUrl = publicUrlOption(opts.publicUrl);
        const grace = Number(opts.rotationGraceSeconds);
        if (!/^\d+$/.test(opts.rotationGraceSeconds) || grace > 366 * 86_400)
          throw new CliError(`--rotation-grace-seconds must be an integer from 0 to ${366 * 86_400}, got "${opts.rotationGraceSeconds}"`);
        if (opts.rotationRetireStatus !== 'INACTIVE' && opts.rotationRetireStatus !== 'REVOKED')
          throw new CliError(`--rotation-retire-status must be INACTIVE or REVOKED, got "${opts.rotationRetireStatus}"`);
        if (opts.keyAlgorithm !== 'rsa-2048' && opts.keyAlgorithm !== 'ec-p256')
          throw new CliError(`--key-algorithm must be rsa-2048 or ec-p256, got "${opts.keyAlgorithm}"`);
        const validity = Number(opts.certValidityDays);
        if (!Number.isInteger(validity) || validity < 1)
          throw new CliError(`--cert-validity-days must be a positive integer, got "${opts.certValidityDays}"`);
        let certificateNotAfter: Date | undefined;
        if (opts.certNotAfter !== undefined) {
          certificateNotAfter = new Date(opts.certNotAfter);
          if (Number.isNaN(certificateNotAfter.getTime()) || certificateNotAfter.getTime() <= Date.now()) {
            throw new CliError(`--cert-not-after must be a future date like 2049-12-31T23:59:59Z, got "${opts.certNotAfter}"`);
          }
        }
        const rateLimit = Number(opts.rateLimit);
        if (!(rateLimit > 0)) throw new CliError(`--rate-limit must be a positive number, got "${opts.rateLimit}"`);
        const maxPendingCertificates = Number(opts.maxPendingCertificates);
        if (!/^\d+$/.test(opts.maxPendingCertificates) || maxPendingCertificates > 1_000_000)
          throw new CliError(`--max-pending-certificates must be an integer from 0 to 1000000, got "${opts.maxPendingCertificates}"`);
        const certificateRate = Number(opts.certificateRate);
        if (!/^\d+(\.\d+)?$/.test(opts.certificateRate) || certificateRate > 1_000_000)
          throw new CliError(`--certificate-rate must be a number from 0 to 1000000, got "${opts.certificateRate}"`);
        const certificateBurst = opts.certificateBurst === undefined ? undefined : Number(opts.certificateBurst);
        if (
          opts.certificateBurst !== undefined &&
          (!/^\d+$/.test(opts.certificateBurst) || certificateBurst! < 1 || certificateBurst! > 1_000_000)
        )
          throw new CliError(`--certificate-burst must be an integer from 1 to 1000000, got "${opts.certificateBurst}"`);
        if (opts.existingThingPolicy !== 'allow' && opts.existingThingPolicy !== 'owner')
          throw new CliError(`--existing-thing-policy must be allow or owner, got "${opts.existingThingPolicy}"`);
        const hookTimeoutMs = Number(opts.hookTimeoutMs);
        if (!Number.isInteger(hookTimeoutMs) || hookTimeoutMs < 1 || hookTimeoutMs > 600_000) {
          throw new CliError(`--hook-timeout-ms must be an integer from 1 to 600000, got "${opts.hookTimeoutMs}"`);
        }
        if (opts.redis !== undefined && (opts.db === undefined || !/^postgres(ql)?:\/\//i.test(opts.db)))
          throw new CliError(
            `--redis runs a cluster node, and every node must share one registry: use --db postgres://… (SQLite${opts.db === undefined ? ', the default,' : ''} cannot be shared)`,
            1,
          );
        if (opts.nodeId !== undefined && opts.redis === undefined)
          throw new CliError('--node-id only applies to a cluster node: add --redis redis://HOST:6379 and --db postgres://…', 1);
        if (opts.redisKeyPrefix !== undefined && opts.redis === undefined)
          throw new CliError('--redis-key-prefix only applies to a cluster node: add --redis redis://HOST:6379 and --db postgres://…', 1);
        const workers = parseWorkers(opts.workers);
        if (workers === null) throw new CliError(`--workers must be auto or an integer from 1 to 256, got "${opts.workers}"`);
        if (workers > 1 && opts.redis === undefined)
          throw new CliError(
            `--workers ${workers} runs ${workers} cluster nodes that must share one registry and the broker's state: add --redis redis://HOST:6379 and --db postgres://… (see docs/cluster.md), or use --workers 1`,
            1,
          );
        const drainSeconds = Number(opts.drainTimeout);
        if (!/^\d+$/.test(opts.drainTimeout) || drainSeconds > 3600)
          throw new CliError(`--drain-timeout must be an integer from 0 to 3600 (seconds), got "${opts.drainTimeout}"`);
        const drainTimeoutMs = drainSeconds * 1000;
        if (workers > 1 && cluster.isPrimary) {
          try {
            await runPrimary({ workers, stdout: io.stdout, stderr: io.stderr, stopTimeoutMs: drainTimeoutMs + 15_000 });
          } catch (err) {
            if (err instanceof WorkerStartError) throw new CliError(err.message, 1);
            throw err;
          }
          return;
        }
        const worker = workerIndex();
        const nodeId = worker === null ? opts.nodeId : workerNodeId(opts.nodeId, worker);
        const hookSecret = process.env.FLEETPROV_HOOK_SECRET;
        if (hookSecret !== undefined && (hookSecret.length < 16 || /\s/.test(hookSecret))) {
          throw new CliError(
            'FLEETPROV_HOOK_SECRET must be at least 16 characters without whitespace (or unset it to use DATA_DIR/hook-secret)',
          );
        }
        const hookCa = opts.hookCa === undefined ? undefined : await readInputFile(opts.hookCa, '--hook-ca file');
        if (hookCa !== undefined && !hookCa.includes('-----BEGIN CERTIFICATE-----'))
          throw new CliError(`--hook-ca ${opts.hookCa} holds no PEM certificate`);
        let server: RunningServer;
        try {
          const { startServer } = await import('../server.js');
          server = await startServer({
            dataDir: opts.dataDir,
            host: opts.host,
            mqttPort: port(opts.mqttPort, '--mqtt-port'),
            httpPort: port(opts.httpPort, '--http-port'),
            hostnames: opts.hostname,
            ...(opts.db !== undefined ? { db: opts.db } : {}),
            ...(opts.redis !== undefined ? { redis: opts.redis } : {}),
            ...(nodeId !== undefined ? { nodeId } : {}),
            ...(opts.redisKeyPrefix !== undefined ? { redisKeyPrefix: opts.redisKeyPrefix } : {}),
            logLevel: opts.logLevel,
            certificateValidityDays: validity,
            keyAlgorithm: opts.keyAlgorithm,
            provisioningRatePerSecond: rateLimit,
            maxPendingCertificates,
            certificateRatePerSecond: certificateRate,
            ...(certificateBurst !== undefined ? { certificateBurst } : {}),
            existingThingPolicy: opts.existingThingPolicy,
            rotation: { graceMs: grace * 1000, retireStatus: opts.rotationRetireStatus },
            preProvisioningHookTimeoutMs: hookTimeoutMs,
            signatureWindowMs: windowSeconds * 1000,
            ...(accountId !== undefined ? { accountId } : {}),
            ...(region !== undefined ? { region } : {}),
            ...(hookSecret !== undefined ? { hookSecret } : {}),
            ...(hookCa !== undefined ? { hookCa } : {}),
            ...((opts.metricsToken ?? process.env.FLEETPROV_METRICS_TOKEN)
              ? { metricsToken: opts.metricsToken ?? process.env.FLEETPROV_METRICS_TOKEN }
              : {}),
            ...(certificateNotAfter !== undefined ? { certificateNotAfter } : {}),
            ...(fdLimit !== undefined ? { fdLimit } : {}),
            ...(httpsMaxConnections !== undefined ? { httpsMaxConnections } : {}),
            ...(trustProxy !== undefined ? { trustProxy } : {}),
            ...(publicUrl !== undefined ? { publicUrl } : {}),
            ...(caPassphrase !== undefined ? { caPassphrase } : {}),
            ...(opts.production === true ? { production: true } : {}),
            brokerLimits: {
              ...(maxConnections !== undefined ? { maxConnections } : {}),
              ...(maxPendingPerAddress !== undefined ? { maxPendingPerAddress } : {}),
              ...(maxConnectionsPerAddress !== undefined ? { maxConnectionsPerAddress } : {}),
            },
          });
        } catch (err) {
          if (isRegistryError(err, 'InvalidRequest')) throw new CliError(`registry: ${err.message}`, 1);
          if (err instanceof ClusterError) throw new CliError(err.message, 1);
          const custody = caCustodyFailure(err);
          if (custody) throw custody;
          throw startupFailure(err);
        }
        const stopped = new Promise<void>((resolveStop) => {
          const stop = (signal: string) => {
            const who = worker === null ? '' : ` (worker ${worker})`;
            io.stderr(`\nfleetprov${who}: ${signal} received, shutting down (draining first, at most ${drainSeconds} s)\n`);
            server.drain(drainTimeoutMs).then(
              (result) => {
                io.stderr(
                  `fleetprov${who}: drained in ${result.elapsedMs} ms (${result.closedConnections} MQTT connections closed${result.abandonedRequests > 0 ? `, ${result.abandonedRequests} provisioning requests abandoned at the timeout` : ''})\n`,
                );
                resolveStop();
              },
              () => resolveStop(),
            );
          };
          process.once('SIGINT', () => stop('SIGINT'));
          process.once('SIGTERM', () => stop('SIGTERM'));
        });
        if (worker === null) io.stdout(banner(server) + '\n');
        else notifyPrimary({ type: 'fleetprov:ready', index: worker, nodeId: server.nodeId, banner: banner(server) });
        await stopped;
      },
    );
}
