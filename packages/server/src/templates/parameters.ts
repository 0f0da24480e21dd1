/**
 * The `Parameters` section: name → `{"Type": "String", "Default"?: string, "Description"?: string}`.
 * Special parameters (`AWS::IoT::Certificate::*`) must be declared too; their values come from the
 * certificate, never from the device.
 */
import type { TemplateType } from './types.js';
import { TEMPLATE_LIMITS } from './limits.js';
import { invalid } from './errors.js';
import { isObject, keysOf, own, typeName } from './json.js';
import { childPath, quote } from './paths.js';
import type { ParameterDef } from './compiled.js';

/** The special parameter holding the provisioned certificate's id. */
export const CERTIFICATE_ID_PARAMETER = 'AWS::IoT::Certificate::Id';

/** JITP special parameters → the certificate subject DN attribute (short name) they read. */
export const SUBJECT_PARAMETERS: ReadonlyMap<string, string> = new Map([
  ['AWS::IoT::Certificate::Country', 'C'],
  ['AWS::IoT::Certificate::Organization', 'O'],
  ['AWS::IoT::Certificate::OrganizationalUnit', 'OU'],
  ['AWS::IoT::Certificate::DistinguishedNameQualifier', 'dnQualifier'],
  ['AWS::IoT::Certificate::StateName', 'ST'],
  ['AWS::IoT::Certificate::CommonName', 'CN'],
  ['AWS::IoT::Certificate::SerialNumber', 'serialNumber'],
]);

const ALLOWED_KEYS: ReadonlySet<string> = new Set(['Type', 'Default', 'Description']);

/** Parses the `Parameters` section (absent → no parameters). */
export function parseParameters(section: unknown, type: TemplateType): ParameterDef[] {
  if (section === undefined) return [];
  if (!isObject(section))
    throw invalid('Parameters', `expected an object of parameter name → {"Type": "String"}, got ${typeName(section)}`);
  const defs: ParameterDef[] = [];
  for (const name of keysOf(section)) {
    const path = childPath('Parameters', name);
    if (name.length === 0 || name.length > TEMPLATE_LIMITS.maxParameterNameChars) {
      throw invalid(path, `parameter names must be 1 to ${TEMPLATE_LIMITS.maxParameterNameChars} characters`);
    }
    const decl = section[name];
    if (!isObject(decl)) throw invalid(path, `expected {"Type": "String"}, got ${typeName(decl)}`);
    for (const key of keysOf(decl)) {
      if (!ALLOWED_KEYS.has(key))
        throw invalid(childPath(path, key), `unknown parameter attribute ${quote(key)}; allowed: Type, Default, Description`);
    }
    const declaredType = own(decl, 'Type');
    if (declaredType !== 'String') {
      throw invalid(
        childPath(path, 'Type'),
        `parameter Type must be "String" (the only type AWS documents), got ${declaredType === undefined ? 'nothing' : typeof declaredType === 'string' ? quote(declaredType) : typeName(declaredType)}`,
      );
    }
    const description = own(decl, 'Description');
    if (description !== undefined && typeof description !== 'string')
      throw invalid(childPath(path, 'Description'), `expected a string, got ${typeName(description)}`);
    const defaultValue = own(decl, 'Default');
    if (defaultValue !== undefined && typeof defaultValue !== 'string') {
      throw invalid(childPath(path, 'Default'), `Default must be a string, got ${typeName(defaultValue)}`);
    }
    const index = defs.length;
    if (name.startsWith('AWS::')) {
      if (defaultValue !== undefined)
        throw invalid(childPath(path, 'Default'), `special parameter ${quote(name)} takes its value from the certificate; remove Default`);
      if (name === CERTIFICATE_ID_PARAMETER) {
        defs.push({ name, index, defaultValue: undefined, source: 'certificateId', subjectField: undefined });
        continue;
      }
      const field = SUBJECT_PARAMETERS.get(name);
      if (field === undefined) {
        throw invalid(
          path,
          `unsupported special parameter ${quote(name)}; supported: ${CERTIFICATE_ID_PARAMETER}, ${[...SUBJECT_PARAMETERS.keys()].join(', ')} (JITP only)`,
        );
      }
      if (type !== 'JITP') throw invalid(path, `special parameter ${quote(name)} is only provided to JITP templates`);
      defs.push({ name, index, defaultValue: undefined, source: 'subject', subjectField: field });
      continue;
    }
    defs.push({ name, index, defaultValue, source: 'device', subjectField: undefined });
  }
  return defs;
}
