/**
 * The `Mappings` section (fleet provisioning templates only): map name → top-level key →
 * second-level key → a string or a list of strings. No intrinsic functions are allowed inside.
 */
import type { TemplateType } from './types.js';
import { TEMPLATE_LIMITS } from './limits.js';
import { invalid } from './errors.js';
import { isObject, keysOf, typeName, type JsonObject } from './json.js';
import { childPath } from './paths.js';
import { isIntrinsicKey } from './intrinsics.js';
import type { MappingValue } from './compiled.js';

/** Parsed mappings; lists are frozen because evaluation hands them out. */
export type Mappings = Map<string, Map<string, Map<string, MappingValue>>>;

/** Parses the `Mappings` section (absent → no maps). */
export function parseMappings(section: unknown, type: TemplateType): Mappings {
  const maps: Mappings = new Map();
  if (section === undefined) return maps;
  if (type === 'JITP') throw invalid('Mappings', 'Mappings is only supported in FLEET_PROVISIONING templates');
  const root = level(section, 'Mappings', 'an object of map name → {topLevelKey: {secondLevelKey: value}}');
  for (const mapName of keysOf(root)) {
    const mapPath = childPath('Mappings', mapName);
    const map = level(root[mapName], mapPath, 'an object of top-level key → {secondLevelKey: value}');
    const topLevel = new Map<string, Map<string, MappingValue>>();
    for (const topKey of keysOf(map)) {
      const topPath = childPath(mapPath, topKey);
      const entries = level(map[topKey], topPath, 'an object of second-level key → string or list of strings');
      const secondLevel = new Map<string, MappingValue>();
      for (const secondKey of keysOf(entries)) {
        secondLevel.set(secondKey, leaf(entries[secondKey], childPath(topPath, secondKey)));
      }
      topLevel.set(topKey, secondLevel);
    }
    maps.set(mapName, topLevel);
  }
  return maps;
}

function level(value: unknown, path: string, expected: string): JsonObject {
  if (!isObject(value)) throw invalid(path, `expected ${expected}, got ${typeName(value)}`);
  const keys = keysOf(value);
  if (keys.length === 1 && isIntrinsicKey(keys[0] as string)) throw invalid(path, 'intrinsic functions are not allowed in Mappings');
  return value;
}

function leaf(value: unknown, path: string): MappingValue {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    if (value.length > TEMPLATE_LIMITS.maxListItems) throw invalid(path, `list has more than ${TEMPLATE_LIMITS.maxListItems} items`);
    value.forEach((item, i) => {
      if (typeof item !== 'string') throw invalid(`${path}[${i}]`, `Mappings values must be strings, got ${typeName(item)}`);
    });
    return Object.freeze([...(value as string[])]);
  }
  if (isObject(value) && keysOf(value).some(isIntrinsicKey)) throw invalid(path, 'intrinsic functions are not allowed in Mappings');
  throw invalid(path, `Mappings values must be a string or a list of strings, got ${typeName(value)}`);
}
