import { basename } from 'node:path';
import type { Command } from 'commander';
import { parsePolicy, PolicyCache, PolicyError, explainDecision } from '../policy/index.js';
import type { NamedPolicy, PolicyContext } from '../policy/types.js';
import { CliError, type CliIo } from './io.js';
import { collect, parseKeyValues, readInputFile } from './files.js';

/** A policy file's name becomes its policy name (`claim-policy.json` → `claim-policy`). */
function policyNameOf(file: string): string {
  return basename(file).replace(/\.json$/i, '');
}

async function loadPolicy(file: string): Promise<NamedPolicy> {
  const document = await readInputFile(file, 'policy');
  try {
    parsePolicy(document);
  } catch (err) {
    if (err instanceof PolicyError) throw new CliError(`${file}: ${err.message}`, 1);
    throw err;
  }
  return { policyName: policyNameOf(file), version: '1', document };
}

/** Adds `policy check` and `policy test`. */
export function addPolicyCommands(program: Command, io: CliIo): void {
  const policy = program
    .command('policy')
    .description('IoT policies: check and simulate authorization offline; create, list, get on a server');

  policy
    .command('check')
    .description('validate one or more IoT policy documents; exit 1 naming the first problem')
    .argument('<files...>', 'policy documents (JSON)')
    .action(async (files: string[]) => {
      for (const file of files) {
        await loadPolicy(file);
        io.stdout(`${file}: valid policy\n`);
      }
    });

  policy
    .command('test')
    .description(
      'decide one request against policies as the broker would: prints ALLOW or DENY and the deciding statement (exit 0 on ALLOW, 1 on DENY)',
    )
    .requiredOption('--policy <file>', 'policy document (repeatable; all apply)', collect, [])
    .requiredOption('--action <action>', 'e.g. iot:Connect, iot:Publish, iot:Subscribe, iot:Receive')
    .requiredOption('--resource <resource>', 'e.g. client/my-id, topic/a/b, topicfilter/a/+ (a full arn:aws:iot:... ARN also works)')
    .option('--client-id <id>', 'MQTT client id (iot:ClientId)')
    .option('--thing-name <name>', 'the attached thing (sets iot:Connection.Thing.*; normally equal to the client id)')
    .option('--thing-type <type>', 'the thing type name')
    .option('--thing-attr <key=value>', 'a thing attribute (repeatable)', collect, [])
    .option(
      '--subject <attr=value>',
      'certificate subject attribute by policy-variable name, e.g. CommonName=dev1 (repeatable)',
      collect,
      [],
    )
    .option('--source-ip <ip>', 'aws:SourceIp')
    .option('--json', 'print the decision as JSON')
    .action(
      async (opts: {
        policy: string[];
        action: string;
        resource: string;
        clientId?: string;
        thingName?: string;
        thingType?: string;
        thingAttr: string[];
        subject: string[];
        sourceIp?: string;
        json?: boolean;
      }) => {
        if (opts.policy.length === 0) throw new CliError('give at least one --policy FILE');
        const policies: NamedPolicy[] = [];
        for (const file of opts.policy) policies.push(await loadPolicy(file));
        const ctx: PolicyContext = {};
        if (opts.clientId !== undefined) ctx.clientId = opts.clientId;
        if (opts.sourceIp !== undefined) ctx.sourceIp = opts.sourceIp;
        if (opts.thingName !== undefined) {
          ctx.thing = {
            thingName: opts.thingName,
            thingTypeName: opts.thingType ?? null,
            attributes: parseKeyValues(opts.thingAttr, '--thing-attr'),
            isAttached: true,
          };
        } else if (opts.thingAttr.length > 0 || opts.thingType !== undefined) {
          throw new CliError('--thing-attr and --thing-type need --thing-name');
        }
        if (opts.subject.length > 0) {
          const subject: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
          for (const pair of opts.subject) {
            const eq = pair.indexOf('=');
            if (eq <= 0) throw new CliError(`--subject expects ATTR=VALUE, got "${pair}"`);
            (subject[pair.slice(0, eq)] ??= []).push(pair.slice(eq + 1));
          }
          ctx.certificate = { subject, issuer: {} };
        }
        const resource = opts.resource.replace(/^arn:[^:]*:iot:[^:]*:[^:]*:/, '');
        const decision = new PolicyCache().compile(policies).authorize(opts.action, resource, ctx);
        if (opts.json) {
          io.stdout(
            JSON.stringify(
              {
                decision: decision.allowed ? 'ALLOW' : 'DENY',
                decidingStatement: decision.decidingStatement ?? null,
                reason: decision.reason,
              },
              null,
              2,
            ) + '\n',
          );
        } else {
          io.stdout(`${decision.allowed ? 'ALLOW' : 'DENY'}\n${explainDecision(decision)}\n`);
        }
        if (!decision.allowed) throw new CliError('', 1);
      },
    );
}
