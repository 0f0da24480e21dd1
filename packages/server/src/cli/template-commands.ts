import type { Command } from 'commander';
import { detectTemplateType, parseTemplate, evaluateTemplate, TemplateError } from '../templates/index.js';
import type { ExistingThing, CertificateFacts, ParsedTemplate, TemplateType } from '../templates/types.js';
import { CliError, type CliIo } from './io.js';
import { collect, parseKeyValues, readInputFile, readJsonFile } from './files.js';

/** Certificate id used by `template render` when none is given: clearly a placeholder. */
export const PLACEHOLDER_CERTIFICATE_ID = '0'.repeat(64);

/** The template type a command works with: `--type` when given, else the one the body looks like. */
interface ChosenType {
  type: TemplateType;
  /** How it was chosen, for the output: `--type`, or the JITP-only parameter that showed it. */
  source: string;
}

function chooseTemplateType(value: string | undefined, body: string): ChosenType {
  if (value !== undefined) {
    const v = value.toUpperCase();
    if (v !== 'FLEET_PROVISIONING' && v !== 'JITP') throw new CliError(`--type must be FLEET_PROVISIONING or JITP, got "${value}"`);
    return { type: v, source: '--type' };
  }
  const detected = detectTemplateType(body);
  return detected.evidence === null
    ? { type: detected.type, source: 'default' }
    : { type: detected.type, source: `detected from ${detected.evidence}` };
}

const OTHER_TYPE: Record<TemplateType, TemplateType> = { FLEET_PROVISIONING: 'JITP', JITP: 'FLEET_PROVISIONING' };

/**
 * Parses `body` as `chosen.type`. A failure says how the type was chosen when it was detected, and
 * names the flag that would help when the body is a valid template of the other type or uses a
 * JITP-only parameter under `--type FLEET_PROVISIONING`.
 */
function parseAs(body: string, chosen: ChosenType): ParsedTemplate {
  try {
    return parseTemplate(body, { type: chosen.type });
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    const hint = typeHint(body, chosen);
    if (hint === null) throw err;
    const detail = err.path === '' ? err.message : err.message.slice(err.path.length + 2);
    throw new TemplateError(err.code, err.path, `${detail} (${hint})`, err.parameter);
  }
}

/** What to add to a template error about the type it was read as, or null. */
function typeHint(body: string, chosen: ChosenType): string | null {
  const other = OTHER_TYPE[chosen.type];
  if (chosen.source !== '--type' && chosen.source !== 'default')
    return `read as ${chosen.type}, ${chosen.source}; --type ${other} overrides`;
  try {
    parseTemplate(body, { type: other });
    const how = chosen.source === '--type' ? `with --type ${chosen.type}` : `as ${chosen.type}`;
    return `read ${how}; it is a valid ${other} template: pass --type ${other}`;
  } catch {
    // not valid as the other type either
  }
  const detected = detectTemplateType(body);
  if (chosen.type === 'FLEET_PROVISIONING' && detected.evidence !== null) {
    return `it uses ${detected.evidence}, which AWS provides to JITP templates only: pass --type JITP`;
  }
  return null;
}

/** Parses `CN=a,O=b,OU=c,OU=d` into subject attributes (values may not contain commas). */
export function parseSubjectOption(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new CliError(`--subject expects ATTR=VALUE[,ATTR=VALUE...], got "${part}"`);
    const key = part.slice(0, eq).trim();
    (out[key] ??= []).push(part.slice(eq + 1).trim());
  }
  return out;
}

function toExistingThing(value: unknown, path: string): ExistingThing {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new CliError(`--existing-thing ${path}: expected a JSON object like {"thingName":"x","attributes":{}}`);
  const v = value as Record<string, unknown>;
  if (typeof v.thingName !== 'string') throw new CliError(`--existing-thing ${path}: "thingName" must be a string`);
  const attributes = v.attributes ?? {};
  if (
    typeof attributes !== 'object' ||
    attributes === null ||
    Array.isArray(attributes) ||
    Object.values(attributes).some((a) => typeof a !== 'string')
  ) {
    throw new CliError(`--existing-thing ${path}: "attributes" must be an object of strings`);
  }
  const groups = v.thingGroups ?? [];
  if (!Array.isArray(groups) || groups.some((g) => typeof g !== 'string'))
    throw new CliError(`--existing-thing ${path}: "thingGroups" must be a list of strings`);
  return {
    thingName: v.thingName,
    thingTypeName: typeof v.thingTypeName === 'string' ? v.thingTypeName : null,
    attributes: attributes as Record<string, string>,
    thingGroups: groups as string[],
    billingGroup: typeof v.billingGroup === 'string' ? v.billingGroup : null,
  };
}

function reportTemplateError(err: unknown): never {
  if (err instanceof TemplateError) throw new CliError(`${err.code}: ${err.message}`, 1);
  throw err;
}

/** Adds `template validate` and `template render`. */
export function addTemplateCommands(program: Command, io: CliIo): void {
  const template = program
    .command('template')
    .description('provisioning templates: validate and render offline; create, list, describe, enable, disable on a server');

  template
    .command('validate')
    .description('parse and validate a provisioning template body; exit 1 with the JSON path of the first problem')
    .argument('<file>', 'template body (JSON)')
    .option('--type <type>', 'FLEET_PROVISIONING or JITP (default: JITP when the template uses a JITP-only certificate parameter)')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { type?: string; json?: boolean }) => {
      const body = await readInputFile(file, 'template');
      const chosen = chooseTemplateType(opts.type, body);
      let parsed;
      try {
        parsed = parseAs(body, chosen);
      } catch (err) {
        if (opts.json && err instanceof TemplateError) {
          io.stdout(
            JSON.stringify({ valid: false, type: chosen.type, code: err.code, path: err.path, message: err.message }, null, 2) + '\n',
          );
          throw new CliError('', 1);
        }
        reportTemplateError(err);
      }
      if (opts.json) {
        io.stdout(
          JSON.stringify(
            {
              valid: true,
              type: chosen.type,
              parameters: parsed.parameterNames,
              extensionsUsed: parsed.extensionsUsed,
              warnings: parsed.warnings,
            },
            null,
            2,
          ) + '\n',
        );
        return;
      }
      const how = chosen.source.startsWith('detected') ? ` (${chosen.source}; --type overrides)` : '';
      io.stdout(`${file}: valid ${chosen.type} template${how}; parameters: ${parsed.parameterNames.join(', ') || '(none)'}\n`);
      for (const w of parsed.warnings) io.stdout(`warning: ${w}\n`);
    });

  template
    .command('render')
    .description('evaluate a template for given parameters and print the provisioning plan (nothing is changed)')
    .argument('<file>', 'template body (JSON)')
    .option('-p, --param <key=value>', 'a device parameter (repeatable)', collect, [])
    .option('--cert-id <id>', 'certificate id for AWS::IoT::Certificate::Id', PLACEHOLDER_CERTIFICATE_ID)
    .option('--subject <dn>', 'certificate subject for JITP parameters, e.g. "CN=dev1,O=Acme,C=DE"')
    .option('--existing-thing <file>', 'JSON of the thing as it already exists ({thingName, attributes, thingTypeName, thingGroups})')
    .option('--type <type>', 'FLEET_PROVISIONING or JITP (default: JITP when the template uses a JITP-only certificate parameter)')
    .action(async (file: string, opts: { param: string[]; certId: string; subject?: string; existingThing?: string; type?: string }) => {
      const body = await readInputFile(file, 'template');
      if (!/^[0-9a-f]{64}$/.test(opts.certId)) throw new CliError(`--cert-id must be 64 lowercase hex characters, got "${opts.certId}"`);
      const parameters = parseKeyValues(opts.param, '--param');
      const certificate: CertificateFacts = { certificateId: opts.certId };
      if (opts.subject !== undefined) certificate.subject = parseSubjectOption(opts.subject);
      const existingThing =
        opts.existingThing === undefined
          ? null
          : toExistingThing(await readJsonFile(opts.existingThing, 'existing thing'), opts.existingThing);
      try {
        const parsed = parseAs(body, chooseTemplateType(opts.type, body));
        const plan = evaluateTemplate(parsed, { parameters, certificate, existingThing });
        io.stdout(JSON.stringify(plan, null, 2) + '\n');
      } catch (err) {
        reportTemplateError(err);
      }
    });
}
