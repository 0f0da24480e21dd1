/**
 * `parseTemplate`: validates a template body once and compiles it for fast evaluation.
 */
import type { ParseOptions, ParsedTemplate, TemplateType } from './types.js';
import { TemplateError, invalid } from './errors.js';
import { keysOf, readTemplateBody, typeName } from './json.js';
import { quote } from './paths.js';
import { parseParameters } from './parameters.js';
import { parseMappings } from './mappings.js';
import { compileConditions, conditionNames } from './conditions.js';
import { compileResources } from './resources.js';
import { compileDeviceConfiguration } from './device-configuration.js';
import type { BoolFn, CompileContext, CompiledTemplate } from './compiled.js';

const SECTIONS: ReadonlySet<string> = new Set(['Parameters', 'Mappings', 'Resources', 'DeviceConfiguration', 'Conditions']);

/** Compiled programs of the templates this module parsed. */
const compiledTemplates = new WeakMap<ParsedTemplate, CompiledTemplate>();

/**
 * Validates a provisioning template body (as at CreateProvisioningTemplate) and compiles it.
 *
 * @param body the template JSON text (at most 10240 characters) or an object standing for it
 * @param options `type`: `FLEET_PROVISIONING` (default) or `JITP`
 * @throws {TemplateError} code `InvalidTemplate`, with the JSON path of the first problem
 */
export function parseTemplate(body: string | object, options: ParseOptions = {}): ParsedTemplate {
  const type = templateType(options);
  const json = readTemplateBody(body);
  for (const key of keysOf(json)) {
    if (!SECTIONS.has(key))
      throw invalid(key, `unknown section ${quote(key)}; allowed: Parameters, Mappings, Resources, DeviceConfiguration, Conditions`);
  }
  const parameters = parseParameters(json.Parameters, type);
  const conditions = conditionNames(json.Conditions);
  const ctx: CompileContext = {
    type,
    parameters: new Map(parameters.map((p) => [p.name, p])),
    mappings: parseMappings(json.Mappings, type),
    conditionIndex: new Map(conditions.map((name, i) => [name, i])),
    conditionFns: new Array<BoolFn>(conditions.length),
    conditionEdges: conditions.map(() => []),
    currentCondition: undefined,
    extensions: new Set(),
    referenced: new Set(),
  };
  compileConditions(json.Conditions, conditions, ctx);
  const resources = compileResources(json.Resources, ctx);
  const deviceConfiguration = compileDeviceConfiguration(json.DeviceConfiguration, type, ctx);

  const warnings: string[] = [];
  if (resources.thing === undefined) warnings.push('no AWS::IoT::Thing resource: RegisterThing will return an empty thingName');
  if (resources.certificate === undefined)
    warnings.push('no AWS::IoT::Certificate resource: the template does not activate the new certificate');
  for (const p of parameters) {
    if (p.source === 'device' && !ctx.referenced.has(p.name)) warnings.push(`parameter ${quote(p.name)} is declared but never used`);
  }
  const extensionsUsed = [...ctx.extensions];
  for (const ext of extensionsUsed) warnings.push(`uses fleetprov extension ${ext}: will not run on AWS IoT`);

  const compiled: CompiledTemplate = {
    type,
    parameters,
    conditionCount: conditions.length,
    thing: resources.thing,
    certificate: resources.certificate,
    policies: resources.policies,
    deviceConfiguration,
  };
  const parsed: ParsedTemplate = Object.freeze({
    body: json,
    parameterNames: Object.freeze(parameters.map((p) => p.name)),
    extensionsUsed: Object.freeze(extensionsUsed),
    warnings: Object.freeze(warnings),
    templateType: type,
  });
  compiledTemplates.set(parsed, compiled);
  return parsed;
}

/**
 * The compiled program of a parsed template. A `ParsedTemplate` this module did not create (e.g. one
 * rebuilt from storage) is compiled again from its `body` and `templateType`.
 */
export function compiledTemplate(template: ParsedTemplate): CompiledTemplate {
  const known = compiledTemplates.get(template);
  if (known !== undefined) return known;
  if (typeof template !== 'object' || template === null) {
    throw new TemplateError('InvalidTemplate', '', `expected a ParsedTemplate, got ${typeName(template)}`);
  }
  const reparsed = parseTemplate(template.body as object, { type: template.templateType ?? 'FLEET_PROVISIONING' });
  const compiled = compiledTemplates.get(reparsed) as CompiledTemplate;
  compiledTemplates.set(template, compiled);
  return compiled;
}

function templateType(options: ParseOptions): TemplateType {
  const type = options?.type ?? 'FLEET_PROVISIONING';
  if (type !== 'FLEET_PROVISIONING' && type !== 'JITP') {
    throw new TemplateError(
      'InvalidTemplate',
      '',
      `template type must be FLEET_PROVISIONING or JITP, got ${typeof type === 'string' ? quote(type) : typeName(type)}`,
    );
  }
  return type;
}
