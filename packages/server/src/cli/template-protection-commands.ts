/**
 * `fleetprov template existing-thing NAME [allow|owner|default]`: a template's existing-thing policy
 * (fleetprov's control-plane extension `/fleetprov/template-protections`, docs/hooks-claims-events.md).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { dataDirPaths } from '../data-dir.js';
import { print, withConnection, type ConnectionOptions } from './admin-commands.js';
import { createExtensionClient, ExtensionApiError } from './extension-client.js';
import { CliError, type CliIo } from './io.js';

const VALUES = ['allow', 'owner', 'default'] as const;

function policyArgument(value: string): (typeof VALUES)[number] {
  if (!(VALUES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected ${VALUES.join(', ')}`);
  return value as (typeof VALUES)[number];
}

/** Adds `template existing-thing` (the `template` command exists already). */
export function addTemplateProtectionCommands(program: Command, io: CliIo): void {
  const template = program.commands.find((c) => c.name() === 'template')!;
  withConnection(
    template
      .command('existing-thing')
      .description(
        'show or set what RegisterThing does with a thing that exists already on this template: allow (as AWS), ' +
          "owner (only the thing's own certificates or the claim that first provisioned it), default (the server's --existing-thing-policy)",
      )
      .argument('<name>', 'provisioning template')
      .argument('[policy]', VALUES.join(' | '), policyArgument),
  ).action(async (name: string, policy: (typeof VALUES)[number] | undefined, opts: ConnectionOptions) => {
    const paths = dataDirPaths(opts.dataDir);
    const call = await createExtensionClient({
      endpoint: opts.endpoint,
      credentialsPath: opts.credentials ?? paths.credentials,
      caPath: opts.ca ?? paths.rootCa,
      region: opts.region,
    });
    const path = `/fleetprov/template-protections/${encodeURIComponent(name)}`;
    try {
      if (policy === 'default') {
        await call('DELETE', path).catch((err: unknown) => {
          // Nothing was set: already the default.
          if (!(err instanceof ExtensionApiError && err.statusCode === 404 && err.errorType === 'ResourceNotFoundException')) throw err;
        });
      } else if (policy !== undefined) {
        await call('PUT', path, {}, { existingThing: policy });
      }
      print(io, await call('GET', path));
    } catch (err) {
      if (err instanceof ExtensionApiError) throw new CliError(`template existing-thing failed: ${err.errorType}: ${err.message}`, 1);
      if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED')
        throw new CliError(
          `cannot reach the control plane at ${opts.endpoint}: is \`fleetprov server\` running? (--endpoint sets the URL)`,
          1,
        );
      throw new CliError(`template existing-thing failed: ${(err as Error).message}`, 1);
    }
  });
}
