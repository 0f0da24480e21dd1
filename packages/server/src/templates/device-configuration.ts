/**
 * `DeviceConfiguration` (fleet provisioning templates only): a flat object of key → string, each
 * value a literal or an intrinsic that evaluates to a string. Returned to the device by RegisterThing.
 */
import type { TemplateType } from './types.js';
import { invalid } from './errors.js';
import { isObject, keysOf, typeName } from './json.js';
import { childPath } from './paths.js';
import { compileString, intrinsicName } from './intrinsics.js';
import type { CompileContext, StringFn } from './compiled.js';

/** Compiled entries, in document order. */
export type CompiledDeviceConfiguration = Array<readonly [key: string, value: StringFn]>;

/** Parses and compiles the `DeviceConfiguration` section (absent → empty). */
export function compileDeviceConfiguration(section: unknown, type: TemplateType, ctx: CompileContext): CompiledDeviceConfiguration {
  if (section === undefined) return [];
  if (type === 'JITP')
    throw invalid(
      'DeviceConfiguration',
      'DeviceConfiguration is only supported in FLEET_PROVISIONING templates (JITP has no response to carry it)',
    );
  if (!isObject(section)) throw invalid('DeviceConfiguration', `expected a flat object of key → string, got ${typeName(section)}`);
  if (intrinsicName(section, 'DeviceConfiguration') !== undefined) {
    throw invalid('DeviceConfiguration', 'DeviceConfiguration must be an object of key → value; intrinsic functions go in its values');
  }
  return keysOf(section).map((key) => {
    const path = childPath('DeviceConfiguration', key);
    const value = section[key];
    if (Array.isArray(value)) throw invalid(path, 'DeviceConfiguration values must be strings; lists are not supported');
    if (isObject(value) && intrinsicName(value, path) === undefined) {
      throw invalid(path, 'DeviceConfiguration is flat: nested objects are not supported');
    }
    if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
      throw invalid(path, `DeviceConfiguration values must be strings, got ${typeName(value)} (quote it: "${String(value)}")`);
    }
    return [key, compileString(value, path, 0, ctx)] as const;
  });
}
