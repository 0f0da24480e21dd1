/**
 * Certificate-rotation commands (fleetprov's control-plane extension, docs/rotation.md):
 * `certs expiring`, `rotate THING`, `rotation list|due`, `rotation policy set|get|list|delete`.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { dataDirPaths } from '../data-dir.js';
import { print, withConnection, type ConnectionOptions } from './admin-commands.js';
import { createExtensionClient, ExtensionApiError, type ExtensionCall } from './extension-client.js';
import { CliError, type CliIo } from './io.js';

function integer(min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max)
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return Number(value);
  };
}

async function extension(opts: ConnectionOptions): Promise<ExtensionCall> {
  const paths = dataDirPaths(opts.dataDir);
  return createExtensionClient({
    endpoint: opts.endpoint,
    credentialsPath: opts.credentials ?? paths.credentials,
    caPath: opts.ca ?? paths.rootCa,
    region: opts.region,
  });
}

async function run<T>(what: string, endpoint: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ExtensionApiError) {
      const hint =
        err.statusCode === 404 && err.errorType === 'UnknownOperationException'
          ? ' (the server is older than fleetprov rotation support)'
          : '';
      throw new CliError(`${what} failed: ${err.errorType}: ${err.message}${hint}`, 1);
    }
    if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED')
      throw new CliError(`cannot reach the control plane at ${endpoint}: is \`fleetprov server\` running? (--endpoint sets the URL)`, 1);
    throw new CliError(`${what} failed: ${(err as Error).message}`, 1);
  }
}

const iso = (seconds: unknown): string => (typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : '-');

/** Adds the rotation commands to the program. */
export function addRotationCommands(program: Command, io: CliIo): void {
  const certs = program.command('certs').description('certificate reports on a running server (fleetprov extension)');
  withConnection(
    certs
      .command('expiring')
      .description('ACTIVE certificates whose notAfter is within --days days (or past), soonest first, with their things')
      .option('--days <n>', 'look-ahead in days', integer(0, 36_600), 30)
      .option('--json', 'print the JSON answer'),
  ).action(async (opts: ConnectionOptions & { days: number; json?: boolean }) => {
    const call = await extension(opts);
    const res = await run('listing expiring certificates', opts.endpoint, () =>
      call('GET', '/fleetprov/certificates/expiring', { days: String(opts.days) }),
    );
    const list = (res.certificates as Array<Record<string, unknown>>) ?? [];
    if (opts.json) return print(io, res);
    if (list.length === 0) return io.stdout(`no ACTIVE certificate expires within ${opts.days} days\n`);
    for (const c of list) {
      const things = (c.thingNames as string[] | undefined)?.join(',') || '(no thing)';
      io.stdout(
        `${String(c.certificateId)}  ${iso(c.notAfter)}  ${c.expired ? 'EXPIRED' : `${String(c.daysLeft)} days left`}  ${things}${c.rotationState ? `  rotation ${String(c.rotationState)}` : ''}\n`,
      );
    }
  });

  withConnection(
    program
      .command('rotate')
      .description(
        "request a rotation of THING's ACTIVE certificates: the device is notified on fleetprov/things/THING/rotation/notify; repeating the request returns the pending rotation",
      )
      .argument('<thing>', 'thing name')
      .option('--template <name>', "rotation template the device should use (default: the rotation policy's)"),
  ).action(async (thing: string, opts: ConnectionOptions & { template?: string }) => {
    const call = await extension(opts);
    const res = await run(`requesting the rotation of ${thing}`, opts.endpoint, () =>
      call(
        'POST',
        `/fleetprov/things/${encodeURIComponent(thing)}/rotation`,
        {},
        opts.template === undefined ? {} : { templateName: opts.template },
      ),
    );
    print(io, res);
  });

  const rotation = program
    .command('rotation')
    .description('certificate rotations and rotation policies on a running server (fleetprov extension)');
  withConnection(
    rotation
      .command('list')
      .description('rotations, oldest first')
      .addOption(new Option('--state <state>', 'only this state').choices(['requested', 'issued', 'acknowledged', 'retired', 'cancelled']))
      .option('--thing <name>', 'only this thing'),
  ).action(async (opts: ConnectionOptions & { state?: string; thing?: string }) => {
    const call = await extension(opts);
    const rotations: unknown[] = [];
    let nextToken: string | undefined;
    do {
      const query: Record<string, string> = { maxResults: '250' };
      if (opts.state) query.state = opts.state;
      if (opts.thing) query.thingName = opts.thing;
      if (nextToken) query.nextToken = nextToken;
      const res = await run('listing rotations', opts.endpoint, () => call('GET', '/fleetprov/rotations', query));
      rotations.push(...((res.rotations as unknown[]) ?? []));
      nextToken = res.nextToken as string | undefined;
    } while (nextToken !== undefined);
    print(io, { rotations });
  });
  withConnection(
    rotation
      .command('due')
      .description('certificates the rotation policies make due (now, or within --days), with overdue (expired) ones flagged')
      .option('--days <n>', 'look-ahead in days', integer(0, 36_600), 0),
  ).action(async (opts: ConnectionOptions & { days: number }) => {
    const call = await extension(opts);
    print(
      io,
      await run('listing due certificates', opts.endpoint, () => call('GET', '/fleetprov/rotations/due', { days: String(opts.days) })),
    );
  });

  const policy = rotation.command('policy').description('rotation policies of templates and thing groups');
  const targetType = (value: string): string => {
    if (value !== 'template' && value !== 'thing-group') throw new InvalidArgumentError('expected "template" or "thing-group"');
    return value;
  };
  withConnection(
    policy
      .command('set')
      .description('create or replace the rotation policy of a template or thing group')
      .argument('<type>', 'template or thing-group', targetType)
      .argument('<name>', 'template or thing-group name')
      .option('--max-age-days <n>', 'due once a certificate is this many days old', integer(1, 36_600))
      .option('--renew-before-days <n>', 'due this many days before notAfter', integer(1, 36_600))
      .option('--rotation-template <name>', 'the rotation template devices are told to use')
      .option(
        '--grace-seconds <n>',
        "time between the new certificate's first connection and the old one's retirement (default: the server's)",
        integer(0, 366 * 86_400),
      )
      .addOption(
        new Option('--retire-status <status>', 'what the old certificate becomes').choices(['INACTIVE', 'REVOKED']).default('INACTIVE'),
      )
      .option(
        '--allow-expired-recovery',
        'template policies: devices with an expired (not revoked) certificate may connect to rotate (read docs/rotation.md first)',
      )
      .option('--recovery-window-days <n>', 'with --allow-expired-recovery: only within this many days after notAfter', integer(1, 36_600)),
  ).action(
    async (
      type: string,
      name: string,
      opts: ConnectionOptions & {
        maxAgeDays?: number;
        renewBeforeDays?: number;
        rotationTemplate?: string;
        graceSeconds?: number;
        retireStatus: string;
        allowExpiredRecovery?: boolean;
        recoveryWindowDays?: number;
      },
    ) => {
      if (opts.maxAgeDays === undefined && opts.renewBeforeDays === undefined)
        throw new CliError('give --max-age-days, --renew-before-days or both', 2);
      const body: Record<string, unknown> = { retireStatus: opts.retireStatus };
      if (opts.maxAgeDays !== undefined) body.maxAgeDays = opts.maxAgeDays;
      if (opts.renewBeforeDays !== undefined) body.renewBeforeDays = opts.renewBeforeDays;
      if (opts.rotationTemplate !== undefined) body.rotationTemplate = opts.rotationTemplate;
      if (opts.graceSeconds !== undefined) body.graceSeconds = opts.graceSeconds;
      if (opts.allowExpiredRecovery) body.allowExpiredRecovery = true;
      if (opts.recoveryWindowDays !== undefined) body.recoveryWindowDays = opts.recoveryWindowDays;
      const call = await extension(opts);
      print(
        io,
        await run('setting the rotation policy', opts.endpoint, () =>
          call('PUT', `/fleetprov/rotation-policies/${type}/${encodeURIComponent(name)}`, {}, body),
        ),
      );
    },
  );
  withConnection(policy.command('list').description('every rotation policy')).action(async (opts: ConnectionOptions) => {
    const call = await extension(opts);
    print(io, await run('listing rotation policies', opts.endpoint, () => call('GET', '/fleetprov/rotation-policies')));
  });
  withConnection(
    policy.command('get').description('one rotation policy').argument('<type>', 'template or thing-group', targetType).argument('<name>'),
  ).action(async (type: string, name: string, opts: ConnectionOptions) => {
    const call = await extension(opts);
    print(
      io,
      await run('reading the rotation policy', opts.endpoint, () =>
        call('GET', `/fleetprov/rotation-policies/${type}/${encodeURIComponent(name)}`),
      ),
    );
  });
  withConnection(
    policy
      .command('delete')
      .description('delete a rotation policy')
      .argument('<type>', 'template or thing-group', targetType)
      .argument('<name>'),
  ).action(async (type: string, name: string, opts: ConnectionOptions) => {
    const call = await extension(opts);
    await run('deleting the rotation policy', opts.endpoint, () =>
      call('DELETE', `/fleetprov/rotation-policies/${type}/${encodeURIComponent(name)}`),
    );
    io.stdout(`deleted the rotation policy of ${type} ${name}\n`);
  });
}
