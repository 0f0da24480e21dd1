/**
 * `fleetprov events`: the provisioning event log of a (possibly remote) server, through the
 * control-plane extension `GET /fleetprov/events` (SigV4-signed with the admin credentials).
 * Shows the newest `--limit` events oldest first; `--follow` then prints new ones as they arrive.
 */
import type { Command } from 'commander';
import { dataDirPaths } from '../data-dir.js';
import { withConnection, type ConnectionOptions } from './admin-commands.js';
import { CliError, type CliIo } from './io.js';
import { createExtensionClient, ExtensionApiError, type ExtensionCall } from './extension-client.js';

/** An event as `GET /fleetprov/events` returns it. */
interface EventJson {
  id: number;
  time: string;
  type: string;
  operation: string | null;
  outcome: string;
  errorCode: string | null;
  message: string | null;
  templateName: string | null;
  certificateId: string | null;
  thingName: string | null;
  clientId: string | null;
}

interface EventsOptions extends ConnectionOptions {
  follow?: boolean;
  limit: string;
  json?: boolean;
  type?: string;
  outcome?: string;
  thing?: string;
  template?: string;
  intervalMs: string;
}

/** One line of the human-readable log. */
export function formatEvent(e: EventJson): string {
  const subject = [
    e.templateName ? `template=${e.templateName}` : '',
    e.thingName ? `thing=${e.thingName}` : '',
    e.clientId ? `client=${e.clientId}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return `${e.time}  #${e.id}  ${e.outcome.padEnd(8)}  ${(e.operation ?? e.type).padEnd(24)}${e.errorCode ? `  ${e.errorCode}` : ''}  ${e.message ?? ''}${subject ? `  (${subject})` : ''}`;
}

async function fetchEvents(
  call: ExtensionCall,
  endpoint: string,
  query: Record<string, string | undefined>,
): Promise<{ events: EventJson[]; lastId: number }> {
  const defined = Object.fromEntries(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined));
  try {
    return (await call('GET', '/fleetprov/events', defined)) as unknown as { events: EventJson[]; lastId: number };
  } catch (err) {
    if (err instanceof ExtensionApiError) throw new CliError(`reading the event log failed: HTTP ${err.statusCode}: ${err.message}`, 1);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED')
      throw new CliError(`cannot reach the control plane at ${endpoint}: is \`fleetprov server\` running? (--endpoint sets the URL)`, 1);
    throw new CliError(`reading the event log failed: ${(err as Error).message}`, 1);
  }
}

/** Adds `fleetprov events`. */
export function addEventsCommand(program: Command, io: CliIo): void {
  withConnection(
    program
      .command('events')
      .description(
        'show the provisioning event log (every accepted and rejected request with its reason, and registry changes); --follow tails it',
      )
      .option('--follow', 'keep running and print new events as they arrive (Ctrl-C stops)')
      .option('--limit <n>', 'how many of the newest events to show first (1-1000)', '20')
      .option('--json', 'one JSON object per line instead of text')
      .option('--type <type>', 'only events of this type: fleet-provisioning, registry, ...')
      .option('--outcome <outcome>', 'only accepted, rejected or info events')
      .option('--thing <name>', 'only events about this thing')
      .option('--template <name>', 'only events of this provisioning template')
      .option('--interval-ms <n>', 'with --follow: how often to poll the server', '1000'),
  ).action(async (opts: EventsOptions) => {
    const limit = Number(opts.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new CliError(`--limit must be an integer from 1 to 1000, got "${opts.limit}"`);
    const interval = Number(opts.intervalMs);
    if (!Number.isInteger(interval) || interval < 50 || interval > 60_000)
      throw new CliError(`--interval-ms must be an integer from 50 to 60000, got "${opts.intervalMs}"`);
    if (opts.outcome !== undefined && !['accepted', 'rejected', 'info'].includes(opts.outcome)) {
      throw new CliError(`--outcome must be accepted, rejected or info, got "${opts.outcome}"`);
    }
    const paths = dataDirPaths(opts.dataDir);
    const call = await createExtensionClient({
      endpoint: opts.endpoint,
      credentialsPath: opts.credentials ?? paths.credentials,
      caPath: opts.ca ?? paths.rootCa,
      region: opts.region,
    });
    const filters = { type: opts.type, outcome: opts.outcome, thingName: opts.thing, templateName: opts.template };
    const show = (events: EventJson[]) => {
      for (const e of events) io.stdout((opts.json ? JSON.stringify(e) : formatEvent(e)) + '\n');
    };
    const first = await fetchEvents(call, opts.endpoint, { ...filters, newestFirst: 'true', limit: String(limit) });
    show([...first.events].reverse());
    if (!opts.follow) return;
    let lastId = first.lastId;
    let stopping = false;
    const stop = () => {
      stopping = true;
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    while (!stopping) {
      await new Promise((resolve) => setTimeout(resolve, interval));
      if (stopping) break;
      const page = await fetchEvents(call, opts.endpoint, { ...filters, afterId: String(lastId), limit: '1000' });
      show(page.events);
      lastId = Math.max(lastId, page.lastId);
    }
  });
}
