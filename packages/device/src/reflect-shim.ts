/**
 * Minimal `Reflect` metadata API for `@peculiar/x509`.
 *
 * `@peculiar/x509` depends on `tsyringe`, which refuses to load unless
 * `Reflect.getMetadata` exists (normally installed by the `reflect-metadata`
 * package, which this package does not depend on). tsyringe only calls
 * `getMetadata`, `getOwnMetadata` and `defineMetadata`; this module installs
 * those three, backed by a WeakMap, when no polyfill is present. It must be
 * evaluated before `@peculiar/x509`: import `./x509.js`, never the library directly.
 */

type Target = object;
type PropertyKey = string | symbol | undefined;

interface MetadataApi {
  getMetadata?: unknown;
}

if (typeof (Reflect as MetadataApi).getMetadata !== 'function') {
  const store = new WeakMap<Target, Map<PropertyKey, Map<unknown, unknown>>>();

  const entriesOf = (target: Target, property: PropertyKey, create: boolean): Map<unknown, unknown> | undefined => {
    let byProperty = store.get(target);
    if (byProperty === undefined) {
      if (!create) return undefined;
      byProperty = new Map();
      store.set(target, byProperty);
    }
    let entries = byProperty.get(property);
    if (entries === undefined && create) {
      entries = new Map();
      byProperty.set(property, entries);
    }
    return entries;
  };

  const getOwnMetadata = (key: unknown, target: Target, property?: string | symbol): unknown => entriesOf(target, property, false)?.get(key);

  const getMetadata = (key: unknown, target: Target, property?: string | symbol): unknown => {
    // Walk the prototype chain as reflect-metadata does.
    for (let current: Target | null = target; current !== null; current = Object.getPrototypeOf(current) as Target | null) {
      const entries = entriesOf(current, property, false);
      if (entries?.has(key) === true) return entries.get(key);
    }
    return undefined;
  };

  const defineMetadata = (key: unknown, value: unknown, target: Target, property?: string | symbol): void => {
    entriesOf(target, property, true)?.set(key, value);
  };

  Object.defineProperties(Reflect, {
    getOwnMetadata: { value: getOwnMetadata, configurable: true, writable: true },
    getMetadata: { value: getMetadata, configurable: true, writable: true },
    defineMetadata: { value: defineMetadata, configurable: true, writable: true },
  });
}

export {};
