import type { Command } from 'commander';
import type { RunningServer } from '../server.js';
import { CliError, type CliIo } from './io.js';
import { readInputFile } from './files.js';
import { ClusterError } from '../cluster/errors.js';

function port(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(`${name} must be a port number 0-65535, got "${value}"`);
  return n;
}

/** The banner printed once the server is up. */
export function banner(server: RunningServer): string {
  return [
    '',
    'fleetprov server is running',
    `  MQTT (mTLS) endpoint   ${server.mqttUrl}   (devices; ALPN x-amzn-mqtt-ca accepted)`,
    `  control plane (AWS)    ${server.controlPlaneUrl}`,
    `  health                 ${server.controlPlaneUrl}/healthz, /readyz${server.metrics ? `, /metrics (bearer token)` : ''}`,
    `  web console            ${server.controlPlaneUrl}/console/   (sign in with the admin keys, or: fleetprov console-login)`,
    ...(server.nodeId !== null ? [`  cluster node           ${server.nodeId}   (broker state shared through Redis)`] : []),
    `  CA file (trust anchor) ${server.caPath}`,
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
    .addHelpText(
      'after',
      '\nWebhook calls are signed with the secret in DATA_DIR/hook-secret (generated on first start), or with FLEETPROV_HOOK_SECRET when set.',
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
        logLevel: string;
        certValidityDays: string;
        keyAlgorithm: string;
        rateLimit: string;
        certNotAfter?: string;
        metricsToken?: string;
        hookTimeoutMs: string;
        hookCa?: string;
        rotationGraceSeconds: string;
        rotationRetireStatus: string;
      }) => {
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
            ...(opts.nodeId !== undefined ? { nodeId: opts.nodeId } : {}),
            logLevel: opts.logLevel,
            certificateValidityDays: validity,
            keyAlgorithm: opts.keyAlgorithm,
            provisioningRatePerSecond: rateLimit,
            rotation: { graceMs: grace * 1000, retireStatus: opts.rotationRetireStatus },
            preProvisioningHookTimeoutMs: hookTimeoutMs,
            ...(hookSecret !== undefined ? { hookSecret } : {}),
            ...(hookCa !== undefined ? { hookCa } : {}),
            ...((opts.metricsToken ?? process.env.FLEETPROV_METRICS_TOKEN)
              ? { metricsToken: opts.metricsToken ?? process.env.FLEETPROV_METRICS_TOKEN }
              : {}),
            ...(certificateNotAfter !== undefined ? { certificateNotAfter } : {}),
          });
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          if (e.code === 'EADDRINUSE')
            throw new CliError(`a port is already in use (${e.message}); choose others with --mqtt-port / --http-port`, 1);
          if (e.code === 'EACCES') throw new CliError(`cannot listen: ${e.message} (ports below 1024 need privileges)`, 1);
          if (err instanceof ClusterError) throw new CliError(err.message, 1);
          throw err;
        }
        const stopped = new Promise<void>((resolveStop) => {
          const stop = (signal: string) => {
            io.stderr(`\nfleetprov: ${signal} received, shutting down\n`);
            server.close().then(resolveStop, resolveStop);
          };
          process.once('SIGINT', () => stop('SIGINT'));
          process.once('SIGTERM', () => stop('SIGTERM'));
        });
        io.stdout(banner(server) + '\n');
        await stopped;
      },
    );
}
